"""Train MMPose 1.3.2's td-hm ResNet-18 for 2 iterations with mmengine's Runner on the PoseTrack18 samples:
a real raw training checkpoint (work_dir/epoch_1.pth, meta, message_hub, optimizer, param_schedulers)."""
import os, sys
from mmengine.config import Config
from mmengine.runner import Runner

root = sys.argv[1].rstrip('/') + '/'
work = os.path.abspath(sys.argv[2])
codec = dict(type='MSRAHeatmap', input_size=(96, 128), heatmap_size=(24, 32), sigma=1.5)
pipeline = [dict(type='LoadImage'), dict(type='GetBBoxCenterScale'), dict(type='RandomFlip', direction='horizontal'),
            dict(type='TopdownAffine', input_size=codec['input_size']), dict(type='GenerateTarget', encoder=codec),
            dict(type='PackPoseInputs')]
cfg = Config(dict(
    default_scope='mmpose',
    model=dict(type='TopdownPoseEstimator',
               data_preprocessor=dict(type='PoseDataPreprocessor', mean=[123.675, 116.28, 103.53],
                                      std=[58.395, 57.12, 57.375], bgr_to_rgb=True),
               backbone=dict(type='ResNet', depth=18),
               head=dict(type='HeatmapHead', in_channels=512, out_channels=17, deconv_out_channels=(16, 16, 16),
                         deconv_kernel_sizes=(4, 4, 4), loss=dict(type='KeypointMSELoss', use_target_weight=True),
                         decoder=codec),
               test_cfg=dict(flip_test=True, flip_mode='heatmap', shift_heatmap=True)),
    train_dataloader=dict(batch_size=8, num_workers=0, persistent_workers=False,
                          sampler=dict(type='DefaultSampler', shuffle=True),
                          dataset=dict(type='PoseTrack18Dataset', data_root=root, data_mode='topdown',
                                       ann_file='annotations/test_posetrack18_val.json', data_prefix=dict(img=''),
                                       pipeline=pipeline)),
    train_cfg=dict(by_epoch=True, max_epochs=1),
    optim_wrapper=dict(optimizer=dict(type='Adam', lr=5e-4)),
    param_scheduler=[dict(type='LinearLR', begin=0, end=500, start_factor=0.001, by_epoch=False),
                     dict(type='MultiStepLR', begin=0, end=20, milestones=[10, 15], gamma=0.1, by_epoch=True)],
    work_dir=work, randomness=dict(seed=0),
    env_cfg=dict(cudnn_benchmark=False, mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
                 dist_cfg=dict(backend='gloo')),
    default_hooks=dict(timer=dict(type='IterTimerHook'), logger=dict(type='LoggerHook', interval=1),
                       param_scheduler=dict(type='ParamSchedulerHook'),
                       checkpoint=dict(type='CheckpointHook', interval=1)),
    log_level='WARNING'))
Runner.from_cfg(cfg).train()
print('written', os.listdir(work))
