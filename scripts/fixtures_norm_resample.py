#!/usr/bin/env python3
"""Fixtures of crates/splot/tests/norm_resample.rs: layer, group and instance norm,
interpolate and FCN's bilinear upsampling weight, computed by PyTorch.

For every case the input (and weight, bias, running statistics where the op has them) is
drawn from a fixed seed, the op runs forward, and with a fixed random upstream gradient
`g` autograd gives the gradients of the input and parameters. Each family goes to one
file crates/splot/tests/fixtures/norm_resample/FAMILY.safetensors, its tensors named
`CASE.NAME` (`x`, `weight`, `bias`, `g`, `y`, `grad_x`, `grad_weight`, `grad_bias`; for
instance norm also `running_mean`, `running_var` before and `running_mean_after`,
`running_var_after`), and the settings of each case in the file's metadata under the
case's name, as `key=value` pairs separated by spaces, which the Rust test parses:

    layer_norm     shape=2,3,5 normalized=5 weight=1 bias=1 eps=1e-05
    group_norm     groups=3 weight=1 bias=1 eps=1e-05
    instance_norm  running=1 use_input_stats=1 weight=1 bias=1 momentum=0.1 eps=1e-05
    interpolate    mode=bilinear align_corners=1 scale=2,2 | size=5,7 recompute=0
    bilinear       channels=3 kernel=4   (the weight of FCN's get_upsampling_weight)

Run from the repository root with PyTorch, numpy and safetensors installed (a few KB):

    /work/main/bench/.venv/bin/python scripts/fixtures_norm_resample.py
"""

import os

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

OUT = os.path.join("crates", "splot", "tests", "fixtures", "norm_resample")


def ints(v):
    return ",".join(str(i) for i in v)


def flag(b):
    return "1" if b else "0"


class Family:
    def __init__(self, name):
        self.name, self.tensors, self.meta = name, {}, {}

    def add(self, case, settings, **tensors):
        self.meta[case] = settings
        for k, t in tensors.items():
            if t is not None:
                self.tensors[f"{case}.{k}"] = t.detach().to(torch.float32).contiguous().clone()

    def save(self):
        path = os.path.join(OUT, f"{self.name}.safetensors")
        save_file(self.tensors, path, metadata=self.meta)
        print(path, len(self.meta), "cases", os.path.getsize(path), "bytes")


def run(forward, inputs):
    """y and the gradients of `inputs` (None where an input is None) for a random g."""
    live = [t for t in inputs if t is not None]
    for t in live:
        t.requires_grad_(True)
    y = forward()
    g = torch.randn_like(y)
    grads = iter(torch.autograd.grad(y, live, g))
    return y, g, [next(grads) if t is not None else None for t in inputs]


def maybe(on, make):
    return make() if on else None


def layer_norm(fam):
    cases = [
        ("last", [2, 3, 5], [5], True, True, 1e-5),
        ("two_axes", [2, 3, 4, 4], [4, 4], True, False, 1e-3),
        ("no_affine", [3, 6], [6], False, False, 1e-5),
        ("bias_only", [2, 3, 4], [3, 4], False, True, 1e-5),
        ("whole", [4, 7], [4, 7], True, True, 1e-5),
    ]
    for name, shape, ns, w, b, eps in cases:
        x = torch.randn(shape) * 2 + 0.5
        weight = maybe(w, lambda: torch.rand(ns) + 0.5)
        bias = maybe(b, lambda: torch.randn(ns))
        y, g, (gx, gw, gb) = run(lambda: F.layer_norm(x, ns, weight, bias, eps), [x, weight, bias])
        settings = f"shape={ints(shape)} normalized={ints(ns)} weight={flag(w)} bias={flag(b)} eps={eps!r}"
        fam.add(name, settings, x=x, weight=weight, bias=bias, g=g, y=y,
                grad_x=gx, grad_weight=gw, grad_bias=gb)


def group_norm(fam):
    cases = [
        ("g3_2d", [2, 6, 3, 4], 3, True, 1e-5),
        ("g4_1d", [2, 4, 5], 4, True, 1e-5),
        ("g2_flat", [3, 6], 2, False, 1e-5),
        ("g1_3d", [1, 8, 2, 3, 2], 1, True, 1e-3),
        ("g2_no_affine", [2, 4, 3, 3], 2, False, 1e-5),
    ]
    for name, shape, groups, affine, eps in cases:
        c = shape[1]
        x = torch.randn(shape) * 1.5 - 0.3
        weight = maybe(affine, lambda: torch.rand(c) + 0.5)
        bias = maybe(affine, lambda: torch.randn(c))
        y, g, (gx, gw, gb) = run(lambda: F.group_norm(x, groups, weight, bias, eps), [x, weight, bias])
        settings = f"shape={ints(shape)} groups={groups} weight={flag(affine)} bias={flag(affine)} eps={eps!r}"
        fam.add(name, settings, x=x, weight=weight, bias=bias, g=g, y=y,
                grad_x=gx, grad_weight=gw, grad_bias=gb)


def instance_norm(fam):
    # name, shape, running statistics, use_input_stats, affine, momentum, eps
    cases = [
        ("train_no_running", [2, 3, 4, 5], False, True, True, 0.1, 1e-5),
        ("train_running", [3, 2, 3, 4], True, True, True, 0.1, 1e-5),
        ("train_running_no_affine", [2, 3, 5, 2], True, True, False, 0.3, 1e-5),
        ("eval_running", [2, 3, 4, 4], True, False, True, 0.1, 1e-5),
        ("eval_running_no_affine", [1, 2, 3, 5], True, False, False, 0.1, 1e-3),
        ("no_running_1d", [2, 3, 6], False, True, False, 0.1, 1e-5),
    ]
    for name, shape, running, use_input, affine, momentum, eps in cases:
        c = shape[1]
        x = torch.randn(shape) * 2 + 1
        weight = maybe(affine, lambda: torch.rand(c) + 0.5)
        bias = maybe(affine, lambda: torch.randn(c))
        rm = maybe(running, lambda: torch.randn(c) * 0.5)
        rv = maybe(running, lambda: torch.rand(c) + 0.5)
        rm0 = None if rm is None else rm.clone()
        rv0 = None if rv is None else rv.clone()
        # forward runs once inside run(), so the running statistics are updated once
        y, g, (gx, gw, gb) = run(
            lambda: F.instance_norm(x, rm, rv, weight, bias, use_input, momentum, eps),
            [x, weight, bias],
        )
        settings = (f"shape={ints(shape)} running={flag(running)} use_input_stats={flag(use_input)} "
                    f"weight={flag(affine)} bias={flag(affine)} momentum={momentum!r} eps={eps!r}")
        fam.add(name, settings, x=x, weight=weight, bias=bias, g=g, y=y,
                grad_x=gx, grad_weight=gw, grad_bias=gb,
                running_mean=rm0, running_var=rv0, running_mean_after=rm, running_var_after=rv)


def interpolate(fam):
    cases = []
    for align in [False, True]:
        for s in [2.0, 3.0, 0.5, 1.7]:
            cases.append(("bilinear", align, ("scale", [s, s]), False))
        cases.append(("bilinear", align, ("size", [5, 7]), False))
        cases.append(("bilinear", align, ("size", [3, 11]), False))
        cases.append(("bilinear", align, ("scale", [2.5, 0.7]), False))
    for s in [2.0, 3.0, 0.5, 1.7]:
        cases.append(("nearest", None, ("scale", [s, s]), False))
    cases.append(("nearest", None, ("size", [7, 4]), False))
    cases.append(("nearest", None, ("scale", [2.1, 1.0]), False))
    for s in [2.0, 0.5, 1.7]:
        cases.append(("nearest-exact", None, ("scale", [s, s]), False))
    cases.append(("nearest-exact", None, ("size", [7, 4]), False))
    cases.append(("bilinear", False, ("scale", [1.7, 1.7]), True))
    cases.append(("nearest", None, ("scale", [1.7, 0.6]), True))
    for k, (mode, align, (by, v), recompute) in enumerate(cases):
        shape = [2, 3, 5, 6] if k % 2 == 0 else [1, 2, 4, 9]
        x = torch.randn(shape)
        kw = {"size": v} if by == "size" else {"scale_factor": v}
        if align is not None:
            kw["align_corners"] = align
        if recompute:
            kw["recompute_scale_factor"] = True
        y, g, (gx,) = run(lambda: F.interpolate(x, mode=mode, **kw), [x])
        settings = f"shape={ints(shape)} mode={mode} {by}={','.join(repr(float(a)) if by == 'scale' else str(a) for a in v)}"
        settings += f" align_corners={flag(bool(align))} recompute={flag(recompute)}"
        name = f"{k:02}_{mode}_{by}"
        fam.add(name, settings, x=x, g=g, y=y, grad_x=gx)


def get_upsampling_weight(in_channels, out_channels, kernel_size):
    """FCN's bilinear kernel (pytorch-fcn, torchfcn/models/fcn32s.py), verbatim."""
    factor = (kernel_size + 1) // 2
    if kernel_size % 2 == 1:
        center = factor - 1
    else:
        center = factor - 0.5
    og = np.ogrid[:kernel_size, :kernel_size]
    filt = (1 - abs(og[0] - center) / factor) * (1 - abs(og[1] - center) / factor)
    weight = np.zeros((in_channels, out_channels, kernel_size, kernel_size), dtype=np.float64)
    weight[range(in_channels), range(out_channels), :, :] = filt
    return torch.from_numpy(weight).float()


def bilinear(fam):
    for channels, factor in [(3, 2), (2, 3), (1, 8), (2, 5)]:
        k = 2 * factor - factor % 2
        w = get_upsampling_weight(channels, channels, k)
        # the transposed convolution FCN builds with it, on a random image
        x = torch.randn(1, channels, 4, 5)
        y = F.conv_transpose2d(x, w, stride=factor, padding=factor // 2)
        fam.add(f"f{factor}", f"channels={channels} kernel={k} factor={factor}", weight=w, x=x, y=y)


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(14)
    for name, make in [("layer_norm", layer_norm), ("group_norm", group_norm),
                       ("instance_norm", instance_norm), ("interpolate", interpolate),
                       ("bilinear", bilinear)]:
        fam = Family(name)
        make(fam)
        fam.save()


if __name__ == "__main__":
    main()
