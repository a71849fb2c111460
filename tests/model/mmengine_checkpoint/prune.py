"""Keep a real mmengine training checkpoint small: every part as mmengine wrote it (meta, message_hub with its
HistoryBuffers, optimizer, param_schedulers), the state_dict and the optimizer's per-parameter state cut to a few
small parameters. Writes OUT.pth and OUT.json (the kept tensors' names, shapes, dtypes and sha256 of their bytes)."""
import hashlib, json, sys
import torch

src, out = sys.argv[1], sys.argv[2]
ck = torch.load(src, map_location='cpu', weights_only=False)   # written just now by mmengine: trusted
names = list(ck['state_dict'])
params = [n for n in names if not n.endswith(('running_mean', 'running_var', 'num_batches_tracked'))]
keep = ['backbone.bn1.weight', 'backbone.bn1.bias', 'backbone.bn1.running_mean', 'backbone.bn1.running_var',
        'backbone.bn1.num_batches_tracked', 'head.final_layer.weight', 'head.final_layer.bias']
ck['state_dict'] = type(ck['state_dict'])((k, ck['state_dict'][k]) for k in keep)
kept_idx = {params.index(k) for k in keep if k in params}
ck['optimizer']['state'] = {i: s for i, s in ck['optimizer']['state'].items() if i in kept_idx}
torch.save(ck, out + '.pth')
truth = {k: {'shape': list(v.shape), 'dtype': str(v.dtype).replace('torch.', ''),
             'sha256': hashlib.sha256(v.contiguous().numpy().tobytes()).hexdigest()} for k, v in ck['state_dict'].items()}
json.dump({'state_dict': truth, 'top_level': list(ck), 'meta_keys': sorted(ck['meta'])}, open(out + '.json', 'w'), indent=1)
print(sorted(kept_idx))
