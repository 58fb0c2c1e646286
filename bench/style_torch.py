#!/usr/bin/env python3
"""Gatys et al.'s style transfer in PyTorch, as splot's example style_speed runs it:
torchvision's VGG19 features with average pooling (random weights, seed 0), content at
relu4_2, style Gram matrices (normalised by c·h·w) at relu1_1 … relu5_1 weighted 1/5,
total variation, α = 1, β = 10⁶, γ = 10⁻³, the pixels optimised from the content picture
with torch.optim.LBFGS (strong Wolfe) for STEPS iterations. Prints seconds per evaluation
of the loss and its gradient, per iteration, and peak memory.

    style_torch.py CONTENT.png STYLE.png [--steps 10] [--threads 2]
"""
import argparse
import resource
import time

import numpy as np
import torch
import torch.nn as nn
import torchvision.models as tvm
from PIL import Image

TAPS = {1: "s", 6: "s", 11: "s", 20: "s", 22: "c", 29: "s"}
MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def load(path):
    a = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(a).permute(2, 0, 1).unsqueeze(0).contiguous()


def gram(f):
    n, c, h, w = f.shape
    m = f.reshape(n, c, h * w)
    return m @ m.transpose(1, 2) / (c * h * w)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("content")
    p.add_argument("style")
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    features = tvm.vgg19().features[:30]
    for i, layer in enumerate(features):
        if isinstance(layer, nn.MaxPool2d):
            features[i] = nn.AvgPool2d(2)
        if isinstance(layer, nn.ReLU):
            features[i] = nn.ReLU(inplace=False)
    features.eval().requires_grad_(False)

    def taps(x):
        h = (x - MEAN) / STD
        out = []
        for i, layer in enumerate(features):
            h = layer(h)
            if i in TAPS:
                out.append(h)
        return out

    content, style = load(a.content), load(a.style)
    with torch.no_grad():
        pc = taps(content)[4]
        gs = [gram(f) for i, f in enumerate(taps(style)) if i != 4]
    x = content.clone().requires_grad_(True)
    opt = torch.optim.LBFGS([x], max_iter=a.steps, max_eval=a.steps * 5 // 4 + 1,
                            tolerance_grad=0.0, tolerance_change=0.0, line_search_fn="strong_wolfe")
    evals = [0]
    last = [0.0]

    def closure():
        opt.zero_grad()
        f = taps(x)
        content_loss = ((f[4] - pc) ** 2).mean()
        style_loss = sum(0.2 * ((gram(fl) - g) ** 2).mean() for fl, g in zip(f[:4] + f[5:], gs))
        dy = x[:, :, 1:, :] - x[:, :, :-1, :]
        dx = x[:, :, :, 1:] - x[:, :, :, :-1]
        tv = (dy ** 2).mean() + (dx ** 2).mean()
        loss = content_loss + 1e6 * style_loss + 1e-3 * tv
        loss.backward()
        evals[0] += 1
        last[0] = loss.item()
        return loss

    t = time.perf_counter()
    opt.step(closure)
    secs = time.perf_counter() - t
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"seconds_per_eval {secs / evals[0]:.4f} ({evals[0]} evaluations in {a.steps} L-BFGS iterations, "
          f"{secs / a.steps:.4f} s per iteration, {x.shape[3]}×{x.shape[2]}, {a.threads} threads, "
          f"final loss {last[0]:.4e}) peak_rss_mib {rss:.0f}")


if __name__ == "__main__":
    main()
