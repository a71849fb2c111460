"""Config texts as mmengine writes them (pretty_text = what Runner.save_checkpoint stores in meta['cfg'])."""
import os, sys
from mmengine.config import Config
import mmpose, mmengine
root = os.path.join(os.path.dirname(mmpose.__file__), '.mim', 'configs', 'body_2d_keypoint', 'topdown_heatmap',
                    'posetrack18')
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
src = os.path.join(root, 'td-hm_res50_8xb64-20e_posetrack18-256x192.py')
base = Config.fromfile(src)
open(os.path.join(out, 'td-hm_res50_posetrack18-256x192.pretty.txt'), 'w').write(base.pretty_text)
# a user's 96x128 variant: the config file with the codec's sizes changed (the pipelines refer to the codec)
text = open(src).read()
old = "type='MSRAHeatmap', input_size=(192, 256), heatmap_size=(48, 64), sigma=2)"
assert old in text
text = text.replace(old, "type='MSRAHeatmap', input_size=(96, 128), heatmap_size=(24, 32), sigma=1.5)")
text = text.replace("_base_ = ['../../../_base_/default_runtime.py']",
                    "_base_ = ['%s']" % os.path.join(root, '..', '..', '..', '_base_', 'default_runtime.py'))
user = os.path.join(out, 'user_96x128.py')
open(user, 'w').write(text)
small = Config.fromfile(user)
os.remove(user)
open(os.path.join(out, 'td-hm_res50_posetrack18-96x128.pretty.txt'), 'w').write(small.pretty_text)
small.dump(os.path.join(out, 'td-hm_res50_posetrack18-96x128.json'))
small.dump(os.path.join(out, 'td-hm_res50_posetrack18-96x128.yaml'))
hr = Config.fromfile(os.path.join(root, 'td-hm_hrnet-w48_8xb64-20e_posetrack18-384x288.py'))
open(os.path.join(out, 'td-hm_hrnet-w48_posetrack18-384x288.pretty.txt'), 'w').write(hr.pretty_text)
print(mmengine.__version__, mmpose.__version__)
