"""Inference-only rewrites of a SimpleBaseline for CPU speed: BatchNorm folding and oneDNN-fused kernels.

Why: in eval mode every BatchNorm is an affine map per channel, so it can be folded into the
(de)convolution before it (scaled weights, a new bias), which removes a pass over every activation.
On CPU the folded model then runs each conv + bias + ReLU, each block's last conv + bias + residual
add + ReLU, and each deconv + bias + ReLU as one kernel: the private oneDNN operators
`torch.ops.mkldnn._convolution_pointwise` and `_convolution_transpose_pointwise`, the same fused
operators PyTorch's own CPU compiler emits. A deconv with many more input than output channels
(ResNet-50's first, 2048 -> 256 on 8x6 pixels) instead runs as one matrix product and a col2im,
about twice as fast for that shape.

Outputs are unchanged within float32 noise: the folded weights are computed in float64 and rounded
once (~1e-6 of the unfolded model), and `fuse_for_cpu` accepts a fused model only if it agrees with
the folded one on a small random input to rtol 1e-4, atol 1e-5 x max|heatmap|; both stay within the
MMPose forward goldens' tolerance (rtol 1e-4, atol 1e-5).

Fallback: where the private oneDNN operators are absent (a build without mkldnn, a PyTorch that
renamed them), raise, or disagree with the folded model, `fuse_for_cpu` returns None and
`prepare_for_inference` gives the BN-folded channels_last model instead, with the same outputs.

Reduced precision (`prepare_in_precision`): on CPU the fused model itself runs in bfloat16, its
folded weights rounded to bf16 once and every activation bf16, on the same fused oneDNN kernels
(AMX / AVX512_BF16). It was the fastest CPU path measured: faster than OpenVINO's bf16, than
autocast over the folded channels_last model and than fused fp32, and torch.compile was no faster
and takes minutes to compile (numbers in benchmarks/README.md; `python benchmarks/inference.py
--sections model,bf16,openvino` re-measures them). The heatmaps come out bf16 and
are upcast to float32 by the caller before the flip average and decoding. The fused bf16 model is
accepted only if it agrees with the float32 folded model to 5% of max|heatmap| on a small random
input (bf16 keeps 8 significant bits: ~0.4% per rounding, over ~50 layers); where it does not,
or the ops refuse bf16, the float32 path runs instead, with a warning. Other devices (CUDA) run
the folded model under autocast.

The bf16 model's head takes two forms that sum in another order than the float32 path (which keeps
the direct kernels, whose outputs the goldens check): the wide first deconv's GEMM columns are
summed tap by tap in float32 (`_GemmTapsDeconvReLU`: bf16 col2im is a slow scalar loop), and the
last deconv with the final 1x1 conv runs per output phase (`_SubPixelHead`: a stride-2 kernel-4
transposed conv is 4 ordinary 2x2 convs, one fused conv on the fast oneDNN conv kernels, and the
final conv commutes with interleaving the phases, so only K channels are interleaved).
"""
from __future__ import annotations

import copy
import logging

import torch
import torch.nn.functional as F
from torch import nn

from simplepose.model.pose_model import SimpleBaseline
from simplepose.model.precision import Precision

log = logging.getLogger("simplepose.precision")

# how far a fused model may be from the float32 folded one on the check input, per dtype:
# (rtol, atol as a fraction of max|heatmap|)
_CHECK_TOLERANCE = {torch.float32: (1e-4, 1e-5), torch.bfloat16: (0.0, 5e-2), torch.float16: (0.0, 1e-2)}


def fold_batchnorm(model: nn.Module) -> nn.Module:
    """An eval-mode copy with every BatchNorm folded into the (de)conv before it (BN -> Identity).

    The folded weights are computed in float64 and rounded once, so outputs stay within float32
    noise (~1e-6) of the unfolded model. The copy is for inference only.
    """
    folded = copy.deepcopy(model).eval()
    for module in folded.modules():
        _fold_children(module)
    return folded


def _fold_children(module: nn.Module) -> None:
    """Fold (conv, BN) pairs among a module's direct children: convX/bnX attributes or Sequential neighbours."""
    children = dict(module.named_children())
    pairs: list[tuple[str, str]] = []
    if isinstance(module, nn.Sequential):
        names = list(children)
        pairs = [(a, b) for a, b in zip(names, names[1:])]
    else:
        for name in children:
            if name.startswith("conv"):
                pairs.append((name, "bn" + name[4:]))
    for conv_name, bn_name in pairs:
        conv, bn = children.get(conv_name), children.get(bn_name)
        if isinstance(conv, (nn.Conv2d, nn.ConvTranspose2d)) and isinstance(bn, nn.BatchNorm2d):
            _fold_pair(conv, bn)
            setattr(module, bn_name, nn.Identity())
            children[bn_name] = module.get_submodule(bn_name)


def _fold_pair(conv: nn.Conv2d | nn.ConvTranspose2d, bn: nn.BatchNorm2d) -> None:
    """Scale the conv's weight and set its bias so that conv' = bn(conv) in eval mode."""
    if conv.groups != 1:
        raise ValueError("folding BN into grouped convolutions is not supported")
    w = conv.weight.detach().double()
    gamma = bn.weight.detach().double() if bn.affine else torch.ones_like(bn.running_var, dtype=torch.float64)
    beta = bn.bias.detach().double() if bn.affine else torch.zeros_like(bn.running_var, dtype=torch.float64)
    factor = gamma / torch.sqrt(bn.running_var.double() + bn.eps)  # (C_out,)
    bias = conv.bias.detach().double() if conv.bias is not None else torch.zeros_like(factor)
    if isinstance(conv, nn.ConvTranspose2d):
        w = w * factor[None, :, None, None]  # weight (C_in, C_out, kh, kw)
    else:
        w = w * factor[:, None, None, None]  # weight (C_out, C_in, kh, kw)
    new_bias = beta + (bias - bn.running_mean.double()) * factor
    conv.weight = nn.Parameter(w.to(conv.weight.dtype), requires_grad=False)
    conv.bias = nn.Parameter(new_bias.to(conv.weight.dtype), requires_grad=False)


def prepare_in_precision(model: nn.Module, precision: Precision) -> tuple[nn.Module, Precision]:
    """The fastest inference form of model in `precision` and the precision it actually runs in.

    CPU: the fused oneDNN model in float32 or bfloat16 (fp16 has no fast CPU kernels: autocast over
    the folded model); where the bf16 fused model cannot be built or disagrees, the float32 path.
    Other devices: the folded model, under autocast when reduced.
    """
    on_cpu = not isinstance(model, SimpleBaseline) or model.weight_device() == "cpu"
    if not precision.reduced:
        return prepare_for_inference(model), precision
    if on_cpu and precision.name == "bf16" and isinstance(model, SimpleBaseline):
        fused = fuse_for_cpu(model, dtype=torch.bfloat16)
        if fused is not None:
            return fused, precision
        log.warning("the fused oneDNN kernels cannot run bf16 here (missing or disagreeing): running fp32")
        return prepare_for_inference(model), Precision("fp32", f"fallback: no fused bf16 kernels ({precision.reason})")
    return Autocast(prepare_for_inference(model, fuse=False), precision), precision


class Autocast(nn.Module):
    """A model run under autocast in a reduced precision (the generic path: CUDA, CPU fp16)."""

    def __init__(self, model: nn.Module, precision: Precision) -> None:
        """Wrap model; precision must be reduced (bf16 or fp16)."""
        super().__init__()
        self.model = model
        self.dtype = precision.dtype
        self._precision = precision

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Heatmaps in the autocast dtype (the caller upcasts)."""
        with self._precision.autocast(next(self.model.parameters()).device):
            return self.model(x)


def prepare_for_inference(model: nn.Module, fold_bn: bool = True, channels_last: bool = True,
                          fuse: bool = True) -> nn.Module:
    """Eval-mode copy for fast CPU inference: BN folded, weights channels_last, no grads; with fuse,
    a SimpleBaseline runs on oneDNN's fused conv+ReLU / conv+add+ReLU kernels when they are available
    and agree with the plain model (else the folded channels_last model is used)."""
    if fuse and fold_bn and channels_last and isinstance(model, SimpleBaseline) and model.weight_device() == "cpu":
        fused = fuse_for_cpu(model)
        if fused is not None:
            return fused
    fast = fold_batchnorm(model) if fold_bn else copy.deepcopy(model).eval()
    for p in fast.parameters():
        p.requires_grad_(False)
    if channels_last:
        fast = fast.to(memory_format=torch.channels_last)
    return fast


# ------------------------------------------------------------------------------------------------
# oneDNN-fused modules, built from BN-folded layers
# ------------------------------------------------------------------------------------------------

class _FusedConv(nn.Module):
    """Conv2d + bias with an optional fused ReLU, or fused `relu(conv(x) + residual)`."""

    def __init__(self, conv: nn.Conv2d, relu: bool) -> None:
        """Copy the (BN-folded) conv's weight (channels_last) and bias; fuse a ReLU when relu."""
        super().__init__()
        self.weight = nn.Parameter(conv.weight.detach().contiguous(memory_format=torch.channels_last),
                                   requires_grad=False)
        bias = conv.bias.detach() if conv.bias is not None else torch.zeros(conv.out_channels)
        self.bias = nn.Parameter(bias.clone(), requires_grad=False)
        self.args = (list(conv.padding), list(conv.stride), list(conv.dilation), conv.groups)
        self.attr = "relu" if relu else "none"

    def forward(self, x: torch.Tensor, residual: torch.Tensor | None = None) -> torch.Tensor:
        """Fused convolution (x channels_last)."""
        padding, stride, dilation, groups = self.args
        if residual is None:
            return torch.ops.mkldnn._convolution_pointwise(x, self.weight, self.bias, padding, stride, dilation,
                                                           groups, self.attr, [], "")
        return torch.ops.mkldnn._convolution_pointwise.binary(x, residual, self.weight, self.bias, padding, stride,
                                                              dilation, groups, "add", None, "relu", [], "")


class _FusedDeconvReLU(nn.Module):
    """ConvTranspose2d + bias + ReLU in one kernel."""

    def __init__(self, deconv: nn.ConvTranspose2d) -> None:
        """Copy the (BN-folded) deconv's weight, bias and geometry."""
        super().__init__()
        self.weight = nn.Parameter(deconv.weight.detach().clone(), requires_grad=False)
        bias = deconv.bias.detach() if deconv.bias is not None else torch.zeros(deconv.out_channels)
        self.bias = nn.Parameter(bias.clone(), requires_grad=False)
        self.args = (list(deconv.padding), list(deconv.output_padding), list(deconv.stride),
                     list(deconv.dilation), deconv.groups)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Fused transposed convolution + ReLU."""
        padding, output_padding, stride, dilation, groups = self.args
        return torch.ops.mkldnn._convolution_transpose_pointwise(x, self.weight, self.bias, padding, output_padding,
                                                                 stride, dilation, groups, "relu", [], "")


class _GemmDeconvReLU(nn.Module):
    """ConvTranspose2d + bias + ReLU as one matrix product and a col2im (F.fold).

    For SimpleBaseline's first deconv (2048 channels on 8x6 pixels) this is ~2x faster on CPU than
    the direct kernel; for wide, thin layers (256 channels) the direct kernel wins.
    """

    def __init__(self, deconv: nn.ConvTranspose2d) -> None:
        """The (BN-folded) deconv's weight as a (C_in, C_out*kh*kw) matrix, its bias and geometry."""
        super().__init__()
        cin, cout, kh, kw = deconv.weight.shape
        self.weight = nn.Parameter(deconv.weight.detach().reshape(cin, cout * kh * kw).clone(), requires_grad=False)
        bias = deconv.bias.detach() if deconv.bias is not None else torch.zeros(cout)
        self.bias = nn.Parameter(bias.clone().view(1, cout, 1, 1), requires_grad=False)
        self.kernel, self.stride, self.padding = (kh, kw), tuple(deconv.stride), tuple(deconv.padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C_in, h, w) -> relu(deconv(x) + bias) (N, C_out, H, W), channels_last."""
        n, c, h, w = x.shape
        cols = torch.mm(x.permute(0, 2, 3, 1).reshape(n * h * w, c), self.weight)  # (N*h*w, C_out*kh*kw)
        cols = cols.view(n, h * w, -1).transpose(1, 2)                               # (N, C_out*kh*kw, h*w)
        size = tuple((i - 1) * s - 2 * p + k for i, s, p, k in zip((h, w), self.stride, self.padding, self.kernel))
        y = F.fold(cols, size, self.kernel, padding=self.padding, stride=self.stride)
        y += self.bias
        return y.relu_().contiguous(memory_format=torch.channels_last)


class _GemmTapsDeconvReLU(nn.Module):
    """ConvTranspose2d + bias + ReLU as one matrix product and a few float32 shifted adds (reduced precision).

    The same product as _GemmDeconvReLU with its columns ordered (kh, kw, C_out). With the kernel a
    multiple of the stride, tap (ki, kj) = (s*di + r, s*dj + c) of input pixel (i, j) lands on output
    phase (r, c) at (i + di, j + dj): for each shift (di, dj) all phases are one (N, h, s, w, s, C_out)
    slice, added into a float32 channels_last output seen as (N, h', s, w', s, C_out). That is
    (k/s)^2 vectorised adds where bf16 col2im (F.fold) is a slow scalar loop, and the overlapping taps
    are summed in float32 rather than in bf16.
    """

    def __init__(self, deconv: nn.ConvTranspose2d) -> None:
        """The (BN-folded) deconv's weight as a (C_in, kh*kw*C_out) matrix, its bias and geometry."""
        super().__init__()
        cin, cout, kh, kw = deconv.weight.shape
        self.weight = nn.Parameter(deconv.weight.detach().permute(0, 2, 3, 1).reshape(cin, kh * kw * cout).clone(),
                                   requires_grad=False)
        bias = deconv.bias.detach() if deconv.bias is not None else torch.zeros(cout)
        self.bias = nn.Parameter(bias.clone(), requires_grad=False)
        self.kernel, self.stride, self.padding = (kh, kw), tuple(deconv.stride), tuple(deconv.padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C_in, h, w) -> relu(deconv(x) + bias) (N, C_out, H, W) in x's dtype, channels_last."""
        n, c, h, w = x.shape
        (kh, kw), (sh, sw), (ph, pw) = self.kernel, self.stride, self.padding
        dh, dw, cout = kh // sh, kw // sw, self.bias.shape[0]
        taps = torch.mm(x.permute(0, 2, 3, 1).reshape(n * h * w, c), self.weight)      # (N*h*w, kh*kw*C_out)
        taps = taps.view(n, h, w, dh, sh, dw, sw, cout).permute(0, 1, 2, 3, 5, 4, 6, 7)  # (.., di, dj, r, c, C)
        full = torch.zeros((n, h + dh - 1, sh, w + dw - 1, sw, cout), dtype=torch.float32)
        for di in range(dh):
            for dj in range(dw):
                full[:, di:di + h, :, dj:dj + w] += taps[:, :, :, di, dj].permute(0, 1, 3, 2, 4, 5)
        full = full.view(n, (h + dh - 1) * sh, (w + dw - 1) * sw, cout)                  # = (h-1)*s + k rows
        y = full[:, ph:full.shape[1] - ph, pw:full.shape[2] - pw]
        return (y + self.bias).relu_().to(x.dtype).permute(0, 3, 1, 2)


# which input rows (offset from the phase's window start) and kernel taps give the output phases of a
# kernel-4, stride-2, padding-1 transposed conv: y[2m] = x[m-1] w[3] + x[m] w[1],
# y[2m+1] = x[m] w[2] + x[m+1] w[0]; phase a reads the window (m-1+a, m+a) with taps _PHASE_TAPS[a]
_PHASE_TAPS = ((3, 1), (2, 0))


def _phase_weight(deconv_weight: torch.Tensor) -> torch.Tensor:
    """A k4 s2 p1 transposed conv's weight (C_in, C_out, 4, 4) -> the 2x2 conv weight (4*C_out, C_in, 2, 2)
    that computes its 4 output phases (a, b) (row, column parity) as channel blocks a*2+b."""
    cin, cout = deconv_weight.shape[:2]
    out = deconv_weight.new_empty(2, 2, cout, cin, 2, 2)
    for a, rows in enumerate(_PHASE_TAPS):
        for b, cols in enumerate(_PHASE_TAPS):
            for i, ki in enumerate(rows):
                for j, kj in enumerate(cols):
                    out[a, b, :, :, i, j] = deconv_weight[:, :, ki, kj].t()
    return out.reshape(4 * cout, cin, 2, 2)


def interleave_phases(phases: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """(N, 4*C, h+1, w+1) phase blocks a*2+b (phase (a, b) valid at rows a..a+h-1, columns b..b+w-1)
    -> (N, C, 2h, 2w) with y[.., 2m+a, 2l+b] = phase (a, b) at (m+a, l+b); channels_last memory."""
    n, c4 = phases.shape[:2]
    c = c4 // 4
    src = phases.permute(0, 2, 3, 1).contiguous()          # (N, h+1, w+1, 4*C): a no-op when channels_last
    sn, sh, sw, _ = src.stride()
    # element (m, a, l, b, k) sits at (m+a)*sh + (l+b)*sw + (2a+b)*C + k: one strided view, one copy
    view = src.as_strided((n, height, 2, width, 2, c), (sn, sh, sh + 2 * c, sw, sw + c, 1))
    return view.reshape(n, 2 * height, 2 * width, c).permute(0, 3, 1, 2)


class _SubPixelHead(nn.Module):
    """The last deconv (kernel 4, stride 2, padding 1) + bias + ReLU and the 1x1 final conv, per output phase.

    Each of the transposed conv's 4 output phases (row and column parity) is an ordinary 2x2 conv of
    the input, so the deconv runs as one fused 2x2 conv + ReLU with 4*C_out outputs (on the fast
    oneDNN conv kernels rather than the transposed-conv one), the final 1x1 conv runs on each phase
    (a grouped conv: it commutes with the interleave), and only the K-channel heatmaps are interleaved.
    Same sums as deconv + final, in a different order.
    """

    def __init__(self, deconv: nn.ConvTranspose2d, final: nn.Conv2d) -> None:
        """The (BN-folded) last deconv and final conv as phase weights."""
        super().__init__()
        self.weight = nn.Parameter(_phase_weight(deconv.weight.detach()).contiguous(memory_format=torch.channels_last),
                                   requires_grad=False)
        bias = deconv.bias.detach() if deconv.bias is not None else torch.zeros(deconv.out_channels)
        self.bias = nn.Parameter(bias.repeat(4), requires_grad=False)
        self.final_weight = nn.Parameter(final.weight.detach().repeat(4, 1, 1, 1).contiguous(
            memory_format=torch.channels_last), requires_grad=False)            # (4*K, C_out, 1, 1), 4 groups
        final_bias = final.bias.detach() if final.bias is not None else torch.zeros(final.out_channels)
        self.final_bias = nn.Parameter(final_bias.repeat(4), requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C_in, h, w) channels_last -> heatmaps (N, K, 2h, 2w) channels_last."""
        phases = torch.ops.mkldnn._convolution_pointwise(x, self.weight, self.bias, [1, 1], [1, 1], [1, 1], 1,
                                                         "relu", [], "")                    # (N, 4*C_out, h+1, w+1)
        heatmaps = torch.ops.mkldnn._convolution_pointwise(phases, self.final_weight, self.final_bias, [0, 0],
                                                           [1, 1], [1, 1], 4, "none", [], "")  # (N, 4*K, h+1, w+1)
        return interleave_phases(heatmaps, x.shape[2], x.shape[3])


def _sub_pixel_ready(deconv: nn.ConvTranspose2d, final: nn.Conv2d) -> bool:
    """Whether the last deconv and final conv have the geometry _SubPixelHead computes."""
    return (tuple(deconv.kernel_size) == (4, 4) and tuple(deconv.stride) == (2, 2)
            and tuple(deconv.padding) == (1, 1) and tuple(deconv.output_padding) == (0, 0)
            and tuple(deconv.dilation) == (1, 1) and deconv.groups == 1
            and tuple(final.kernel_size) == (1, 1) and tuple(final.stride) == (1, 1)
            and tuple(final.padding) == (0, 0) and final.groups == 1)


def _deconv_relu(deconv: nn.ConvTranspose2d, reduced: bool = False) -> nn.Module:
    """The faster fused form of deconv + ReLU for this layer's shape (reduced: for a bf16/fp16 model)."""
    plain = deconv.groups == 1 and tuple(deconv.dilation) == (1, 1) and tuple(deconv.output_padding) == (0, 0)
    if plain and deconv.in_channels >= 4 * deconv.out_channels:
        taps_fit = all(k % st == 0 for k, st in zip(deconv.kernel_size, deconv.stride))
        return _GemmTapsDeconvReLU(deconv) if reduced and taps_fit else _GemmDeconvReLU(deconv)
    return _FusedDeconvReLU(deconv)


class _FusedBlock(nn.Module):
    """A residual block (basic or bottleneck) as fused convs; the last one adds the identity and applies ReLU."""

    def __init__(self, block: nn.Module) -> None:
        """Fused convs of a BN-folded BasicBlock or Bottleneck (and its downsample)."""
        super().__init__()
        convs = [getattr(block, f"conv{i}") for i in (1, 2, 3) if hasattr(block, f"conv{i}")]
        self.convs = nn.ModuleList([_FusedConv(c, relu=True) for c in convs[:-1]])
        self.last = _FusedConv(convs[-1], relu=False)
        self.downsample = _FusedConv(block.downsample[0], relu=False) if block.downsample is not None else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """relu(convs(x) + identity)."""
        identity = x if self.downsample is None else self.downsample(x)
        out = x
        for conv in self.convs:
            out = conv(out)
        return self.last(out, identity)


class FusedSimpleBaseline(nn.Module):
    """Inference-only SimpleBaseline on oneDNN fused kernels; built from a BN-folded model."""

    def __init__(self, folded: SimpleBaseline, reduced: bool = False) -> None:
        """Fused stem, blocks, deconvs and final conv of a SimpleBaseline without BatchNorm layers.

        reduced: the forms that are faster for a bf16 model (to_dtype) but sum in another order than
        the float32 path's: a _GemmTapsDeconvReLU for the wide first deconv, and the last deconv and
        the final conv as a _SubPixelHead (where their geometry fits)."""
        super().__init__()
        self.dtype = torch.float32  # the dtype of weights and activations (see to_dtype)
        bad = [n for n, m in folded.named_modules() if isinstance(m, nn.BatchNorm2d)]
        if bad:
            raise ValueError(f"fold the BatchNorm layers first (found {bad[0]})")
        self.num_keypoints, self.num_deconv = folded.num_keypoints, folded.num_deconv
        bb = folded.backbone
        self.stem = _FusedConv(bb.conv1, relu=True)
        self.maxpool = bb.maxpool
        self.blocks = nn.Sequential(*[_FusedBlock(b) for layer in (bb.layer1, bb.layer2, bb.layer3, bb.layer4)
                                      for b in layer])
        deconvs = [m for m in folded.head.deconv_layers if isinstance(m, nn.ConvTranspose2d)]
        final = folded.head.final_layer
        if reduced and deconvs and _sub_pixel_ready(deconvs[-1], final):
            self.deconvs = nn.Sequential(*[_deconv_relu(d, reduced) for d in deconvs[:-1]])
            self.final = _SubPixelHead(deconvs[-1], final)
        else:
            self.deconvs = nn.Sequential(*[_deconv_relu(d, reduced) for d in deconvs])
            self.final = _FusedConv(final, relu=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) any float dtype -> heatmaps (N, K, h, w) in self.dtype (channels_last memory)."""
        x = x.to(self.dtype, memory_format=torch.channels_last)
        return self.final(self.deconvs(self.blocks(self.maxpool(self.stem(x)))))

    def to_dtype(self, dtype: torch.dtype) -> "FusedSimpleBaseline":
        """Weights (rounded once) and activations in dtype, e.g. torch.bfloat16."""
        self.to(dtype)
        self.dtype = dtype
        return self


def fuse_for_cpu(model: SimpleBaseline, check: bool = True, dtype: torch.dtype = torch.float32) -> nn.Module | None:
    """A FusedSimpleBaseline of the model (BN folded on the way) computing in dtype, or None where
    oneDNN's fused operators are unavailable or disagree with the float32 folded model on a small
    random input (tolerance per dtype: _CHECK_TOLERANCE)."""
    try:
        folded = fold_batchnorm(model)
        # float32 keeps the direct kernels' summation order (its outputs are the goldens')
        fused = FusedSimpleBaseline(folded, reduced=dtype != torch.float32).eval().to_dtype(dtype)
        if check:
            x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
            with torch.inference_mode():
                ref, got = folded(x), fused(x).float()
            rtol, atol = _CHECK_TOLERANCE[dtype]
            if got.shape != ref.shape or not torch.allclose(got, ref, rtol=rtol, atol=atol * float(ref.abs().max()) + 1e-12):
                return None
        return fused
    except (AttributeError, RuntimeError, NotImplementedError):
        return None
