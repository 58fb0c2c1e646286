"""LeNet-5 training throughput in PyTorch, the twin of splot's `examples/lenet_speed.rs`.

Two networks, as splot's model zoo builds them (`splot::models::lenet5`):
- lenet5: the 1998 network. C3 is a DENSE 6->16 5x5 convolution here (PyTorch has no
  sparse connection table; splot's C3 has 60 of the 96 connections), so PyTorch does
  slightly more work in C3 (2 416 vs 1 516 parameters).
- lenet5-relu: conv/ReLU/maxpool twice, conv 16->120, fc 120->84, fc 84->10.

Random 32x32 input, cross-entropy, SGD momentum 0.9, 2 threads.
Usage: python bench/lenet_torch.py [model ...] [--batches 64,256] [--steps N]
Prints one line per (model, batch): "<model> batch <b>: <images/s> images/s (<ms> ms/step)".
"""
import argparse
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

A, S = 1.7159, 2.0 / 3.0


class LeCunTanh(nn.Module):
    def forward(self, x):
        return A * torch.tanh(S * x)


class Subsampling(nn.Module):
    """2x2 sum times a per-map coefficient plus a per-map bias."""

    def __init__(self, maps):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(maps).uniform_(-0.6, 0.6))
        self.bias = nn.Parameter(torch.empty(maps).uniform_(-0.6, 0.6))

    def forward(self, x):
        s = F.avg_pool2d(x, 2) * 4.0
        return s * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)


def lenet5():
    return nn.Sequential(
        nn.Conv2d(1, 6, 5), LeCunTanh(),  # [n, 6, 28, 28]
        Subsampling(6), LeCunTanh(),  # [n, 6, 14, 14]
        nn.Conv2d(6, 16, 5), LeCunTanh(),  # [n, 16, 10, 10] (dense C3)
        Subsampling(16), LeCunTanh(),  # [n, 16, 5, 5]
        nn.Conv2d(16, 120, 5), LeCunTanh(),  # [n, 120, 1, 1]
        nn.Flatten(),  # [n, 120]
        nn.Linear(120, 84), LeCunTanh(),  # [n, 84]
        nn.Linear(84, 10),  # [n, 10]
    )


def lenet5_relu():
    return nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2),  # [n, 6, 14, 14]
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),  # [n, 16, 5, 5]
        nn.Conv2d(16, 120, 5), nn.ReLU(),  # [n, 120, 1, 1]
        nn.Flatten(),
        nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, 10),
    )


MODELS = {"lenet5": lenet5, "lenet5-relu": lenet5_relu}


def images_per_second(model, batch, steps, warmup=5):
    torch.manual_seed(0)
    net = MODELS[model]()
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    x = torch.randn(batch, 1, 32, 32)
    y = torch.arange(batch) % 10

    def run(n):
        t = time.perf_counter()
        for _ in range(n):
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(net(x), y)
            loss.backward()
            opt.step()
        return time.perf_counter() - t

    run(warmup)
    secs = run(steps)
    return steps * batch / secs, 1e3 * secs / steps


def main():
    p = argparse.ArgumentParser()
    p.add_argument("models", nargs="*", default=list(MODELS))
    p.add_argument("--batches", default="64,256")
    p.add_argument("--steps", type=int, default=0, help="0: 50 at batch 64, scaled by batch")
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    for model in a.models:
        for batch in map(int, a.batches.split(",")):
            steps = a.steps or max(10, 50 * 64 // batch)
            ips, ms = images_per_second(model, batch, steps)
            print(f"{model} batch {batch}: {ips:.0f} images/s ({ms:.2f} ms/step) [torch {torch.__version__}]")


if __name__ == "__main__":
    main()
