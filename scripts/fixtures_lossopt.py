#!/usr/bin/env python3
"""Fixtures of crates/splot/tests/losses.rs and crates/splot/tests/lbfgs.rs, from PyTorch.

Losses (one file per case, crates/splot/tests/fixtures/lossopt/loss_NAME.safetensors):
F.cross_entropy, F.nll_loss, F.smooth_l1_loss and F.binary_cross_entropy_with_logits
on small random inputs, over the options and their combinations (reductions, class
weights, label smoothing, ignore_index, per-pixel targets, beta, weight, pos_weight).
Each file holds the inputs (`input`, `target`, optional `weight`, `pos_weight`), a fixed
random upstream gradient `upstream` (the output's shape), the forward `output` and the
gradients `grad_input` (and `grad_target` for the elementwise losses) of
`Σ output·upstream`. The options are the file's metadata (`loss`, `reduction`,
`label_smoothing`, `ignore_index`, `beta`); the Rust test reads them, so every file is
checked.

L-BFGS (crates/splot/tests/fixtures/lossopt/lbfgs_NAME.safetensors): torch.optim.LBFGS
on the Rosenbrock function f(a, b) = (1 − a)² + 100·(b − a²)² in float32, from
(−1.5, 2.0), for 20 `step` calls; `iterates` [21, 2] holds the start and the parameter
after each call, `losses` [20] what each call returned. The closure computes the
gradient by hand in float32 scalar arithmetic (the Rust test does the same, operation for
operation), so the comparison is of the optimiser alone. The options are the metadata.

One PyTorch operation is replaced: the square root in `_cubic_interpolate`. PyTorch's CPU
`sqrt` of float32 (MKL's vector math in its high-accuracy mode) is not correctly rounded:
on the machine that made these files about one value in six is 1 ulp off, where Rust's
`f32::sqrt` (IEEE) is exact. On the curved valley of the Rosenbrock function L-BFGS
amplifies a 1-ulp change of a trial step to differences of 1e-3 within a few iterations,
so the fixtures are made with `Tensor.sqrt` computed as the correctly rounded float32
square root (`x.double().sqrt().float()`); everything else is torch.optim.LBFGS as
installed. `lbfgs_strong_wolfe_torch_sqrt` is the same run as `lbfgs_strong_wolfe` with
PyTorch's own sqrt, kept to show the effect (the test compares its first steps, before a
sqrt is off, and its end point).

Run from the repository root:

    /work/main/bench/.venv/bin/python scripts/fixtures_lossopt.py
"""

import os

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

OUT = os.path.join("crates", "splot", "tests", "fixtures", "lossopt")


def save(name, tensors, meta):
    tensors = {k: v.detach().contiguous() for k, v in tensors.items() if v is not None}
    meta = {k: str(v) for k, v in meta.items()}
    save_file(tensors, os.path.join(OUT, name + ".safetensors"), metadata=meta)


def randint_with(shape, k, ignore=None, p_ignore=0.25):
    t = torch.randint(0, k, shape)
    if ignore is not None:
        t[torch.rand(shape) < p_ignore] = ignore
    return t


# --------------------------------------------------------------------- class losses
def class_case(name, loss, shape, reduction="mean", smoothing=0.0, weighted=False,
               ignore=None, targets=None):
    k = shape[0] if len(shape) == 1 else shape[1]
    x = torch.randn(shape) * 2.0
    if loss == "nll_loss":
        x = torch.log_softmax(x, dim=0 if len(shape) == 1 else 1)
    x.requires_grad_(True)
    tshape = () if len(shape) == 1 else (shape[0],) + tuple(shape[2:])
    t = targets if targets is not None else randint_with(tshape, k, ignore)
    w = torch.rand(k) * 2.0 + 0.25 if weighted else None
    kwargs = dict(weight=w, reduction=reduction)
    kwargs["ignore_index"] = ignore if ignore is not None else -100
    if loss == "cross_entropy":
        out = F.cross_entropy(x, t, label_smoothing=smoothing, **kwargs)
    else:
        assert smoothing == 0.0
        out = F.nll_loss(x, t, **kwargs)
    up = torch.randn(out.shape)
    (gx,) = torch.autograd.grad(out, x, up)
    meta = dict(loss=loss, reduction=reduction, label_smoothing=smoothing,
                ignore_index="none" if ignore is None else ignore)
    save("loss_" + name, dict(input=x, target=t, weight=w, upstream=up, output=out,
                              grad_input=gx), meta)


def class_cases():
    ce = "cross_entropy"
    class_case("ce_plain", ce, (4, 5))
    class_case("ce_weights_smoothing", ce, (4, 5), smoothing=0.1, weighted=True)
    class_case("ce_sum_smoothing", ce, (4, 5), reduction="sum", smoothing=0.3)
    class_case("ce_none_weights", ce, (4, 5), reduction="none", weighted=True)
    class_case("ce_ignore_smoothing_weights_2d", ce, (4, 5), smoothing=0.2, weighted=True,
               ignore=255)
    class_case("ce_seg_mean_all_options", ce, (2, 4, 3, 5), smoothing=0.2, weighted=True,
               ignore=255)
    class_case("ce_seg_mean_ignore", ce, (2, 4, 3, 5), ignore=255)
    class_case("ce_seg_mean_smoothing_ignore", ce, (2, 4, 3, 5), smoothing=0.15,
               ignore=255)
    class_case("ce_seg_none_ignore_weights", ce, (2, 4, 3, 5), reduction="none",
               weighted=True, ignore=255, )
    class_case("ce_seg_sum_smoothing_ignore", ce, (2, 4, 3, 5), reduction="sum",
               smoothing=0.1, ignore=255)
    class_case("ce_1d_ignore_a_class", ce, (3, 3, 4), reduction="sum", weighted=True,
               ignore=1)
    class_case("ce_3d_smoothing", ce, (2, 3, 2, 2, 2), smoothing=0.25)
    class_case("ce_unbatched_weights_smoothing", ce, (6,), smoothing=0.1, weighted=True)
    class_case("ce_all_ignored_mean", ce, (2, 3, 2, 2), smoothing=0.1, weighted=True,
               ignore=255, targets=torch.full((2, 2, 2), 255))
    class_case("ce_all_ignored_sum", ce, (2, 3, 2, 2), reduction="sum", smoothing=0.1,
               ignore=255, targets=torch.full((2, 2, 2), 255))
    class_case("nll_seg_weights_ignore", "nll_loss", (3, 4, 2), weighted=True, ignore=255)
    class_case("nll_none", "nll_loss", (5, 3), reduction="none")


# --------------------------------------------------------------------- elementwise losses
def pointwise_case(name, loss, shape, reduction="mean", beta=1.0, weight=None,
                   pos_weight=None, hard=False):
    x = (torch.randn(shape) * 2.0).requires_grad_(True)
    if loss == "smooth_l1_loss":
        t = torch.randn(shape) * 2.0
    else:
        t = torch.randint(0, 2, shape).float() if hard else torch.rand(shape)
    t.requires_grad_(True)
    w = torch.rand(weight) + 0.5 if weight is not None else None
    pw = torch.rand(pos_weight) * 3.0 + 0.25 if pos_weight is not None else None
    if loss == "smooth_l1_loss":
        out = F.smooth_l1_loss(x, t, reduction=reduction, beta=beta)
    else:
        out = F.binary_cross_entropy_with_logits(x, t, weight=w, pos_weight=pw,
                                                 reduction=reduction)
    up = torch.randn(out.shape)
    gx, gt = torch.autograd.grad(out, (x, t), up)
    meta = dict(loss=loss, reduction=reduction, beta=beta)
    save("loss_" + name, dict(input=x, target=t, weight=w, pos_weight=pw, upstream=up,
                              output=out, grad_input=gx, grad_target=gt), meta)


def pointwise_cases():
    s, b = "smooth_l1_loss", "binary_cross_entropy_with_logits"
    pointwise_case("smooth_l1_l1_mean", s, (3, 4), beta=0.0)
    pointwise_case("smooth_l1_beta1_sum", s, (3, 4), reduction="sum", beta=1.0)
    pointwise_case("smooth_l1_beta05_none", s, (2, 3, 4), reduction="none", beta=0.5)
    pointwise_case("smooth_l1_beta2_mean", s, (2, 3, 2, 2), beta=2.0)
    pointwise_case("bce_plain_mean", b, (4, 3))
    pointwise_case("bce_hard_sum", b, (4, 3), reduction="sum", hard=True)
    pointwise_case("bce_weight_none", b, (2, 3, 4), reduction="none", weight=(3, 1))
    pointwise_case("bce_pos_weight_mean", b, (4, 5), pos_weight=(5,), hard=True)
    pointwise_case("bce_both_weights_mean_4d", b, (2, 2, 3, 5), weight=(2, 2, 3, 5),
                   pos_weight=(5,))
    pointwise_case("bce_both_weights_sum", b, (3, 4), reduction="sum", weight=(4,),
                   pos_weight=(4,))


# --------------------------------------------------------------------- L-BFGS
def rosenbrock_closure(p):
    """f and its gradient by hand, in float32 scalar operations (as tests/lbfgs.rs)."""

    def closure():
        a, b = p.detach()[0], p.detach()[1]
        one, hundred = torch.tensor(1.0), torch.tensor(100.0)
        u = one - a          # 1 − a
        v = b - a * a        # b − a²
        f = u * u + hundred * (v * v)
        # ∂f/∂a = −2u − 400·a·v, ∂f/∂b = 200·v
        ga = torch.tensor(-2.0) * u - torch.tensor(400.0) * a * v
        gb = torch.tensor(200.0) * v
        p.grad = torch.stack([ga, gb])
        return f

    return closure


class correctly_rounded_sqrt:
    """Within this block `Tensor.sqrt` of float32 is the correctly rounded square root."""

    def __enter__(self):
        self.sqrt = torch.Tensor.sqrt
        sqrt = self.sqrt
        torch.Tensor.sqrt = lambda x: sqrt(x.double()).to(x.dtype)

    def __exit__(self, *exc):
        torch.Tensor.sqrt = self.sqrt


def lbfgs_case(name, steps=20, torch_sqrt=False, **options):
    if not torch_sqrt:
        with correctly_rounded_sqrt():
            return lbfgs_case(name, steps, True, **options)
    p = torch.tensor([-1.5, 2.0], dtype=torch.float32, requires_grad=True)
    opt = torch.optim.LBFGS([p], **options)
    closure = rosenbrock_closure(p)
    iterates, losses = [p.detach().clone()], []
    for _ in range(steps):
        losses.append(float(opt.step(closure)))
        iterates.append(p.detach().clone())
    state = opt.state[p]
    meta = {k: ("none" if v is None else v) for k, v in options.items()}
    meta["func_evals"] = state["func_evals"]
    meta["n_iter"] = state["n_iter"]
    save("lbfgs_" + name, dict(iterates=torch.stack(iterates),
                               losses=torch.tensor(losses, dtype=torch.float32)), meta)
    print(name, "final", iterates[-1].tolist(), "evals", state["func_evals"],
          "iterations", state["n_iter"])


def lbfgs_cases():
    lbfgs_case("strong_wolfe", lr=1.0, max_iter=5, history_size=10,
               line_search_fn="strong_wolfe")
    lbfgs_case("strong_wolfe_torch_sqrt", torch_sqrt=True, lr=1.0, max_iter=5,
               history_size=10, line_search_fn="strong_wolfe")
    lbfgs_case("strong_wolfe_defaults", line_search_fn="strong_wolfe")
    lbfgs_case("fixed_step", lr=0.05, max_iter=4, history_size=5)
    lbfgs_case("fixed_step_one_iteration", lr=0.02, max_iter=1, history_size=3)


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(14)
    class_cases()
    pointwise_cases()
    lbfgs_cases()


if __name__ == "__main__":
    main()
