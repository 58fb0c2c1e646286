#!/usr/bin/env python3
"""Fixtures of crates/splot/tests/io.rs and cli.rs: weights as users have them.

`resnet18-no-nbt.safetensors` is torchvision's resnet18 `state_dict` saved with
safetensors.torch, as the README's one-line recipe saves it, but without the 20
`num_batches_tracked` buffers, as older torchvision checkpoints (the original ImageNet
ResNets among them) and many converted files are. PyTorch's `load_state_dict` accepts such
a file and sets the counters to 0; splot must too.

So that the file stays small in git (23 MB of f16 otherwise), every tensor holds a short
periodic pattern (period 7 to 19, set by a hash of its name), scaled like Kaiming's
uniform init; values are stored as f16 and the expected output is computed from the same
f16-rounded values in f32. `resnet18-no-nbt-io.safetensors` holds an input (1×3×64×64)
and torchvision's eval-mode output for it.

Run from the repository root with PyTorch, torchvision and safetensors installed:

    python scripts/fixtures_weights.py      # here: bench/.venv/bin/python
"""

import os

import numpy as np
import torch
import torchvision.models as tvm
from safetensors.torch import save_file

OUT = os.path.join("crates", "splot", "tests", "fixtures", "weights")


def fnv1a32(text):
    h = 0x811C9DC5
    for b in text.encode():
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return h


def pattern(name, shape):
    """A periodic pattern in [-1, 1] over the flat index, period 7..19 from the name."""
    count = int(np.prod(shape)) if len(shape) else 1
    h = fnv1a32(name)
    period = 7 + h % 13
    step = 1 + (h >> 8) % (period - 1)
    i = np.arange(count, dtype=np.int64)
    u = ((i * step + (h >> 16)) % period) / (period - 1)  # in [0, 1]
    return (2.0 * u - 1.0).reshape(shape)


def value(name, shape):
    p = pattern(name, shape)
    if name.endswith("running_var"):
        v = 1.0 + 0.5 * p
    elif name.endswith("running_mean") or name.endswith("bias"):
        v = 0.1 * p
    elif name.endswith("weight") and len(shape) == 1:
        v = 1.0 + 0.2 * p
    else:
        fan_in = int(np.prod(shape[1:]))
        v = p * np.sqrt(6.0 / fan_in)
    return torch.from_numpy(v.astype(np.float16))


def main():
    os.makedirs(OUT, exist_ok=True)
    model = tvm.resnet18().eval()
    sd = model.state_dict()
    half = {}
    with torch.no_grad():
        for name, t in sd.items():
            if name.endswith("num_batches_tracked"):
                continue
            v = value(name, tuple(t.shape))
            half[name] = v.contiguous()
            t.copy_(v.float())
    save_file(half, os.path.join(OUT, "resnet18-no-nbt.safetensors"))
    g = torch.Generator().manual_seed(0)
    x = torch.rand(1, 3, 64, 64, generator=g) * 2 - 1
    with torch.no_grad():
        y = model(x)
    save_file({"input": x, "output": y}, os.path.join(OUT, "resnet18-no-nbt-io.safetensors"))
    dropped = sum(1 for n in sd if n.endswith("num_batches_tracked"))
    print(f"{len(half)} tensors (dropped {dropped} num_batches_tracked); "
          f"output std {y.std():.4f}, max |y| {y.abs().max():.4f}")


if __name__ == "__main__":
    main()
