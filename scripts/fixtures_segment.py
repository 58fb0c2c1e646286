#!/usr/bin/env python3
"""Fixtures of crates/splot/tests/segment.rs.

1. `fcn_resnet50.safetensors`: torchvision's `fcn_resnet50(weights=None,
   weights_backbone=None, num_classes=5, aux_loss=True)`, every state_dict tensor filled
   with the zoo's deterministic formula (`fill` of scripts/zoo_fixtures.py, which the Rust
   test implements bit for bit), run in eval mode on two inputs of different sizes,
   `fill("input", [1, 3, 67, 91])` and `fill("input", [1, 3, 100, 80])`: the `out` and
   `aux` logits of each (`out_67x91`, `aux_67x91`, …); its metadata holds the parameter
   count and the FNV-1a hash of the state_dict's sorted `name:shape` lines with their
   count. The inputs are not stored.
2. `metrics.safetensors`: torchvision's reference `ConfusionMatrix`
   (references/segmentation/utils.py, copied below) over a deterministic truth (classes
   0…6 and 255) and prediction of 4 000 pixels: the matrix, global accuracy, per-class
   accuracy and IoU.

Run from the repository root with PyTorch, torchvision and safetensors installed:

    python scripts/fixtures_segment.py        # here: bench/.venv/bin/python
"""

import os
import sys

import numpy as np
import torch
from safetensors.torch import save_file
from torchvision.models.segmentation import fcn_resnet50

sys.path.insert(0, os.path.dirname(__file__))
from zoo_fixtures import fill, fill_model, fnv1a64, state_dict_keys, uniform  # noqa: E402

OUT = os.path.join("crates", "splot", "tests", "fixtures", "segment")
SIZES = [(67, 91), (100, 80)]


class ConfusionMatrix:
    """torchvision/references/segmentation/utils.py, as it is."""

    def __init__(self, num_classes):
        self.num_classes = num_classes
        self.mat = None

    def update(self, a, b):
        n = self.num_classes
        if self.mat is None:
            self.mat = torch.zeros((n, n), dtype=torch.int64, device=a.device)
        with torch.inference_mode():
            k = (a >= 0) & (a < n)
            inds = n * a[k].to(torch.int64) + b[k]
            self.mat += torch.bincount(inds, minlength=n**2).reshape(n, n)

    def compute(self):
        h = self.mat.float()
        acc_global = torch.diag(h).sum() / h.sum()
        acc = torch.diag(h) / h.sum(1)
        iu = torch.diag(h) / (h.sum(1) + h.sum(0) - torch.diag(h))
        return acc_global, acc, iu


def model_fixture():
    torch.manual_seed(0)
    model = fcn_resnet50(weights=None, weights_backbone=None, num_classes=5, aux_loss=True)
    fill_model(model)
    model.eval()
    keys = state_dict_keys(model)
    meta = {
        "state_dict_fnv1a": f"{fnv1a64(keys):016x}",
        "state_dict_entries": str(len(keys.splitlines())),
        "parameters": str(sum(p.numel() for p in model.parameters())),
    }
    out = {}
    with torch.no_grad():
        for h, w in SIZES:
            x = torch.from_numpy(fill("input", (1, 3, h, w)))
            y = model(x)
            out[f"out_{h}x{w}"] = y["out"].contiguous()
            out[f"aux_{h}x{w}"] = y["aux"].contiguous()
            print(f"{h}x{w}: out {tuple(y['out'].shape)} max |out| {y['out'].abs().max():.4g}")
    save_file(out, os.path.join(OUT, "fcn_resnet50.safetensors"), metadata=meta)
    print(meta)


def metrics_fixture():
    n, k = 4000, 7
    u = uniform("truth", n)
    truth = np.floor(u * (k + 1)).astype(np.int64)
    truth[truth == k] = 255
    # predictions agree with the truth two times in three, else a class drawn at random
    v, r = uniform("agree", n), np.floor(uniform("pred", n) * k).astype(np.int64)
    pred = np.where((v < 2 / 3) & (truth != 255), truth, r)
    pred[pred == 3] = 4  # class 3 is never predicted: its IoU is its recall's share
    cm = ConfusionMatrix(k)
    cm.update(torch.from_numpy(truth), torch.from_numpy(pred))
    g, acc, iu = cm.compute()
    save_file(
        {
            "truth": torch.from_numpy(truth.astype(np.uint8)),
            "pred": torch.from_numpy(pred.astype(np.int64)),
            "matrix": cm.mat.contiguous(),
            "acc_global": g.double().reshape(1),
            "acc": acc.double(),
            "iu": iu.double(),
        },
        os.path.join(OUT, "metrics.safetensors"),
    )
    print(f"metrics: global {g:.4f} mean IoU {iu.mean():.4f}")


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    model_fixture()
    metrics_fixture()
