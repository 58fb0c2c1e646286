#!/usr/bin/env python3
"""Fixture of crates/splot/tests/style.rs: Gatys et al.'s losses and their gradient with
respect to the image, in PyTorch, for torchvision's VGG19 features.

The network is torchvision's `vgg19().features` with its max pools replaced by 2×2
average pools (Gatys et al.'s choice), every tensor filled by the zoo fixtures' formula
(`fill` of scripts/zoo_fixtures.py, which the Rust test reproduces bit for bit, so the
weights are not stored). The pictures are `(fill(name) + 1)/2` in [0, 1]: content and the
optimised image 1×3×64×64, style 1×3×48×48 (another size: Gram matrices do not depend on
it). Layers are read after their ReLU; pixels are normalised with ImageNet's mean and
deviation. Saved: the Gram matrix of the image at conv1_1 (and conv5_1's first 32×32), the content,
style and total-variation losses, the total `1·content + 10⁶·style + 0.1·tv`, and its
gradient with respect to the image.

    bench/.venv/bin/python scripts/fixtures_style.py
"""
import os
import sys

import torch
import torch.nn as nn
import torchvision.models as tvm
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(__file__))
from zoo_fixtures import fill  # noqa: E402

OUT = os.path.join("crates", "splot", "tests", "fixtures", "style", "gatys.safetensors")
TAPS = {"conv1_1": 1, "conv2_1": 6, "conv3_1": 11, "conv4_1": 20, "conv4_2": 22, "conv5_1": 29}
STYLE = ["conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1"]
MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def picture(name, shape):
    return torch.from_numpy((fill(name, shape) + 1.0) / 2.0)


def taps(features, x):
    h = (x - MEAN) / STD
    out = {}
    for i, layer in enumerate(features):
        h = layer(h)
        for name, t in TAPS.items():
            if t == i:
                out[name] = h
        if i == max(TAPS.values()):
            break
    return out


def gram(f):
    n, c, h, w = f.shape
    m = f.reshape(n, c, h * w)
    return m @ m.transpose(1, 2) / (c * h * w)


def tv(x):
    dy = x[:, :, 1:, :] - x[:, :, :-1, :]
    dx = x[:, :, :, 1:] - x[:, :, :, :-1]
    return (dy ** 2).mean() + (dx ** 2).mean()


def main():
    features = tvm.vgg19().features
    for i, layer in enumerate(features):
        if isinstance(layer, nn.MaxPool2d):
            features[i] = nn.AvgPool2d(2)
    with torch.no_grad():
        for name, t in features.state_dict().items():
            t.copy_(torch.from_numpy(fill(f"features.{name}", tuple(t.shape))))
    features.eval()
    content = picture("content", (1, 3, 64, 64))
    style = picture("style", (1, 3, 48, 48))
    x = picture("image", (1, 3, 64, 64)).requires_grad_(True)
    with torch.no_grad():
        pc = taps(features, content)["conv4_2"]
        gs = {k: gram(v) for k, v in taps(features, style).items()}
    f = taps(features, x)
    content_loss = ((f["conv4_2"] - pc) ** 2).mean()
    style_loss = sum(0.2 * ((gram(f[k]) - gs[k]) ** 2).mean() for k in STYLE)
    tv_loss = tv(x)
    total = 1.0 * content_loss + 1e6 * style_loss + 0.1 * tv_loss
    total.backward()
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    save_file(
        {
            "gram_conv1_1": gram(f["conv1_1"]).detach().contiguous(),
            "gram_conv5_1": gram(f["conv5_1"])[:, :32, :32].detach().contiguous(),
            "losses": torch.stack([content_loss, style_loss, tv_loss, total]).detach(),
            "grad": x.grad.contiguous(),
        },
        OUT,
    )
    print(f"content {content_loss.item():.6g}, style {style_loss.item():.6g}, tv {tv_loss.item():.6g}, "
          f"total {total.item():.6g}, |grad| max {x.grad.abs().max().item():.3g}")


if __name__ == "__main__":
    main()
