#!/usr/bin/env python3
"""Fixtures of crates/splot/tests/zoo.rs: the zoo networks' outputs in PyTorch.

For each network this builds the torchvision model (or, for the networks torchvision
lacks, the same network written here in PyTorch), fills every tensor of its state_dict
with a deterministic formula of the tensor's name and the element's index (`fill`
below; the Rust test implements the same formula bit for bit), runs a deterministic
input (`fill("input", shape)`) in eval mode and saves only the expected output (for
googlenet-aux also the auxiliary classifiers' outputs, `aux1` and `aux2`), the
parameter count, and the number and a hash of the state_dict's names and shapes, to
crates/splot/tests/fixtures/zoo/NAME.safetensors (a few KB each).

The inputs are not stored: both sides compute them with the formula. Residual networks'
outputs grow with depth (eval-mode batch norm with fixed statistics does not
renormalise, so each block adds a term as large as its input); the test's tolerance is
relative to the largest output.

Run from the repository root with PyTorch, torchvision and safetensors installed:

    python scripts/zoo_fixtures.py [NAME ...]      # here: /work/torchenv/bin/python

It prints every network's parameter count (the numbers hard-coded in zoo.rs).
"""

import os
import sys
import types

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision.models as tvm
from torchvision.models.resnet import BasicBlock, Bottleneck
from safetensors.torch import save_file

OUT = os.path.join("crates", "splot", "tests", "fixtures", "zoo")
MASK = (1 << 64) - 1


# ----------------------------------------------------------------------- the fill formula
def fnv1a64(text):
    """FNV-1a, 64 bits, of the UTF-8 bytes of `text`."""
    h = 0xCBF29CE484222325
    for b in text.encode():
        h ^= b
        h = (h * 0x100000001B3) & MASK
    return h


def uniform(name, count):
    """u_i = splitmix64(fnv1a64(name) + i) >> 40, divided by 2^24: in [0, 1), exact in f32."""
    out = np.empty(count, dtype=np.float64)
    base = np.uint64(fnv1a64(name))
    chunk = 1 << 22
    with np.errstate(over="ignore"):
        for start in range(0, count, chunk):
            z = base + np.arange(start, min(count, start + chunk), dtype=np.uint64)
            z = z + np.uint64(0x9E3779B97F4A7C15)
            z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
            z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
            z = z ^ (z >> np.uint64(31))
            out[start : start + len(z)] = (z >> np.uint64(40)).astype(np.float64) / 16777216.0
    return out


def fill(name, shape):
    """The value of every element of the tensor `name` of `shape`, as float32.

    - `*running_var`: 0.5 + u;  `*running_mean`: 0.2·(u − ½);  `*num_batches_tracked`: 0
    - a weight of one dimension (batch norm's γ): 0.8 + 0.4·u
    - a bias: 0.2·(u − ½)
    - any other weight: (2u − 1)·√(6 / fan_in), fan_in = numel / shape[0]
    - `input`: 2u − 1
    All arithmetic in f64, rounded to f32 once at the end.
    """
    count = int(np.prod(shape)) if len(shape) else 1
    if name.endswith("num_batches_tracked"):
        return np.zeros(shape, dtype=np.float32)
    u = uniform(name, count)
    if name.endswith("running_var"):
        v = 0.5 + u
    elif name.endswith("running_mean") or name.endswith("bias"):
        v = 0.2 * (u - 0.5)
    elif name.endswith("weight") and len(shape) == 1:
        v = 0.8 + 0.4 * u
    elif name.endswith("weight"):
        fan_in = count // shape[0]
        v = (2.0 * u - 1.0) * np.sqrt(6.0 / fan_in)
    else:
        v = 2.0 * u - 1.0
    return v.astype(np.float32).reshape(shape)


def state_dict_keys(model):
    """Every state_dict entry as `name:shape` (`layer1.0.conv1.weight:64x64x3x3`, a scalar
    has an empty shape), sorted by name, one a line: its FNV-1a hash is in the fixture."""
    sd = model.state_dict()
    return "\n".join(f"{k}:{'x'.join(map(str, sd[k].shape))}" for k in sorted(sd))


def fill_model(model):
    with torch.no_grad():
        for name, t in model.state_dict().items():
            t.copy_(torch.from_numpy(fill(name, tuple(t.shape))).to(t.dtype))


# ------------------------------------------------------------ networks torchvision lacks
def plain_forward(self, x):
    """A residual block without its shortcut: relu(F(x))."""
    out = self.relu(self.bn1(self.conv1(x)))
    if isinstance(self, Bottleneck):
        out = self.relu(self.bn2(self.conv2(out)))
        return self.relu(self.bn3(self.conv3(out)))
    return self.relu(self.bn2(self.conv2(out)))


def make_plain(model):
    for m in model.modules():
        if isinstance(m, (BasicBlock, Bottleneck)):
            m.downsample = None
            m.forward = types.MethodType(plain_forward, m)
    return model


class PadShortcut(nn.Module):
    """Option A of He et al.: subsample by the stride, append zero channels."""

    def __init__(self, stride, extra):
        super().__init__()
        self.stride, self.extra = stride, extra

    def forward(self, x):
        x = x[:, :, :: self.stride, :: self.stride]
        return F.pad(x, (0, 0, 0, 0, 0, self.extra))


class CifarResNet(nn.Module):
    """The paper's CIFAR-10 ResNet-(6n+2): 3×3 stem, 3 stages of n basic blocks."""

    def __init__(self, n, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu = nn.ReLU(inplace=True)
        cin = 16
        for i, (c, s) in enumerate([(16, 1), (32, 2), (64, 2)]):
            blocks = []
            for b in range(n):
                stride = s if b == 0 else 1
                down = PadShortcut(stride, c - cin) if (stride != 1 or cin != c) else None
                blocks.append(BasicBlock(cin, c, stride, down))
                cin = c
            setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(64, num_classes)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(torch.flatten(self.avgpool(x), 1))


class AlexNetPaper(nn.Module):
    """Krizhevsky et al. 2012: groups=2 in conv2/4/5, LRN after conv1/conv2 (paper's α)."""

    def __init__(self, num_classes=1000):
        super().__init__()
        # PyTorch divides α by size; the paper does not: α_torch = α_paper · size
        lrn = lambda: nn.LocalResponseNorm(5, alpha=1e-4 * 5, beta=0.75, k=2.0)  # noqa: E731
        self.features = nn.Sequential(
            nn.Conv2d(3, 96, 11, 4), nn.ReLU(), lrn(), nn.MaxPool2d(3, 2),
            nn.Conv2d(96, 256, 5, padding=2, groups=2), nn.ReLU(), lrn(), nn.MaxPool2d(3, 2),
            nn.Conv2d(256, 384, 3, padding=1), nn.ReLU(),
            nn.Conv2d(384, 384, 3, padding=1, groups=2), nn.ReLU(),
            nn.Conv2d(384, 256, 3, padding=1, groups=2), nn.ReLU(), nn.MaxPool2d(3, 2),
        )
        self.classifier = nn.Sequential(
            nn.Dropout(0.5), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(),
            nn.Dropout(0.5), nn.Linear(4096, 4096), nn.ReLU(),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


# ------------------------------------------------------------------------ the networks
def googlenet(aux):
    return tvm.googlenet(weights=None, aux_logits=aux, init_weights=False)


NETWORKS = {}
for d in [18, 34, 50, 101, 152]:
    NETWORKS[f"resnet{d}"] = (lambda d=d: getattr(tvm, f"resnet{d}")(), [2, 3, 64, 64])
    NETWORKS[f"plain{d}"] = (lambda d=d: make_plain(getattr(tvm, f"resnet{d}")()), [2, 3, 64, 64])
for d in [20, 32, 44, 56, 110]:
    n = (d - 2) // 6
    NETWORKS[f"resnet{d}"] = (lambda n=n: CifarResNet(n), [2, 3, 32, 32])
    NETWORKS[f"plain{d}"] = (lambda n=n: make_plain(CifarResNet(n)), [2, 3, 32, 32])
for d in [11, 13, 16, 19]:
    NETWORKS[f"vgg{d}"] = (lambda d=d: getattr(tvm, f"vgg{d}")(), [2, 3, 32, 32])
    NETWORKS[f"vgg{d}_bn"] = (lambda d=d: getattr(tvm, f"vgg{d}_bn")(), [2, 3, 32, 32])
NETWORKS["alexnet"] = (lambda: tvm.alexnet(), [2, 3, 64, 64])
NETWORKS["alexnet-paper"] = (lambda: AlexNetPaper(), [1, 3, 227, 227])
NETWORKS["googlenet"] = (lambda: googlenet(False), [2, 3, 64, 64])
NETWORKS["googlenet-aux"] = (lambda: googlenet(True), [2, 3, 64, 64])


def main(names):
    os.makedirs(OUT, exist_ok=True)
    torch.set_num_threads(2)
    for name in names or NETWORKS:
        build, shape = NETWORKS[name]
        model = build().eval()
        fill_model(model)
        params = sum(p.numel() for p in model.parameters())
        keys = state_dict_keys(model)
        x = torch.from_numpy(fill("input", shape))
        outputs = {}
        if name == "googlenet-aux":
            # the auxiliary classifiers on the outputs of inception 4a and 4d, in eval mode
            for aux, tap in [("aux1", "inception4a"), ("aux2", "inception4d")]:
                hook = lambda m, i, o, aux=aux: outputs.__setitem__(aux, getattr(model, aux)(o))  # noqa: E731
                getattr(model, tap).register_forward_hook(hook)
        with torch.no_grad():
            y = model(x)
        outputs = {k: v.contiguous() for k, v in outputs.items()}
        save_file(
            {"output": y.contiguous(), **outputs},
            os.path.join(OUT, f"{name}.safetensors"),
            metadata={
                "parameters": str(params),
                "input": "x".join(map(str, shape)),
                "state_dict_entries": str(len(model.state_dict())),
                "state_dict_fnv1a": f"{fnv1a64(keys):016x}",
            },
        )
        print(f"{name:14} parameters {params:>12,}  input {shape}  max|y| {y.abs().max():.4g}")


if __name__ == "__main__":
    main(sys.argv[1:])
