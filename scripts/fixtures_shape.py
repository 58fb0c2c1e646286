#!/usr/bin/env python3
"""Fixtures of crates/splot/tests/index_ops.rs: the shape and index ops in PyTorch.

For every op (narrow, slice, permute, transpose, expand, stack, where, masked_fill, clamp,
gather, scatter_add, index_add, embedding, bmm, logsumexp) this computes a handful of
cases in float64 from seeded random inputs: the forward output and, for a fixed random
upstream gradient `upstream`, the gradient of `sum(out * upstream)` with respect to every
float input. Each op's cases go to crates/splot/tests/fixtures/shape/OP.safetensors
(a few KB), one case `cK` as the tensors

    cK.NAME        an input (float32; int64 for indices, bool for masks)
    cK.args        the op's integer options (int64), as the Rust test reads them
    cK.out         the forward output
    cK.upstream    the upstream gradient
    cK.grad.NAME   the gradient of the input NAME

Run from the repository root with PyTorch and safetensors installed:

    python scripts/fixtures_shape.py        # here: /work/main/bench/.venv/bin/python
"""

import os

import torch
from safetensors.torch import save_file

OUT = os.path.join("crates", "splot", "tests", "fixtures", "shape")
torch.manual_seed(14)


def randn(*shape):
    return torch.randn(tuple(shape), dtype=torch.float64)


def case(tensors, inputs, args, fn):
    """Runs `fn(**inputs)` (float inputs are differentiated) and returns the case's tensors."""
    leaves = {}
    for name, value in inputs.items():
        if value.dtype == torch.float64:
            value = value.float().double().requires_grad_(True)  # exactly representable in f32
            leaves[name] = value
        tensors[name] = value
    out = fn(**{k: tensors[k] for k in inputs})
    upstream = randn(*out.shape).float().double()
    (out * upstream).sum().backward()
    result = {"args": torch.tensor(args, dtype=torch.int64), "out": out.detach(), "upstream": upstream}
    for name, value in tensors.items():
        result[name] = value.detach()
    for name, leaf in leaves.items():
        result["grad." + name] = leaf.grad
    return result


def save(op, cases):
    flat = {}
    for k, tensors in enumerate(cases):
        for name, value in tensors.items():
            if value.dtype == torch.float64:
                value = value.float()
            flat[f"c{k}.{name}"] = value.contiguous()
    path = os.path.join(OUT, f"{op}.safetensors")
    save_file(flat, path)
    print(f"{path}: {len(cases)} cases")


def run(op, specs):
    """specs: (inputs, args, fn) per case."""
    save(op, [case({}, inputs, args, fn) for inputs, args, fn in specs])


def slicer(axis, s):
    return (slice(None),) * axis + (s,)


def main():
    os.makedirs(OUT, exist_ok=True)

    run("narrow", [
        ({"x": randn(5)}, [0, 1, 3], lambda x: x.narrow(0, 1, 3)),
        ({"x": randn(2, 6, 3)}, [1, 2, 4], lambda x: x.narrow(1, 2, 4)),
        ({"x": randn(3, 4)}, [1, 3, 0], lambda x: x.narrow(1, 3, 0)),
    ])

    slices = [((2, 9), 1, 1, 7, 2), ((7,), 0, 0, 7, 3), ((3, 4, 5), 2, 1, 100, 1),
              ((4, 5), 0, 3, 2, 1), ((2, 3, 8), 2, 0, 8, 4)]
    run("slice", [
        ({"x": randn(*shape)}, [axis, start, end, step],
         lambda x, axis=axis, s=slice(start, end, step): x[slicer(axis, s)])
        for shape, axis, start, end, step in slices
    ])

    perms = [((2, 3), [1, 0]), ((2, 3, 4), [2, 0, 1]), ((2, 3, 4, 5), [0, 2, 3, 1]),
             ((3, 1, 4), [1, 2, 0])]
    run("permute", [
        ({"x": randn(*shape)}, perm, lambda x, perm=perm: x.permute(*perm))
        for shape, perm in perms
    ])

    transposes = [((3, 4), 0, 1), ((2, 3, 5), 1, 2), ((2, 3, 4, 2), 0, 3), ((3, 2), 1, 1)]
    run("transpose", [
        ({"x": randn(*shape)}, [a, b], lambda x, a=a, b=b: x.transpose(a, b))
        for shape, a, b in transposes
    ])

    expands = [((3, 1), [3, 4]), ((1, 3, 1), [2, 3, 4]), ((4,), [2, 3, 4]),
               ((2, 1, 3), [5, 2, 4, 3]), ((2, 3), [2, 3])]
    run("expand", [
        ({"x": randn(*shape)}, target, lambda x, target=target: x.expand(*target))
        for shape, target in expands
    ])

    stacks = [((3,), 3, 0), ((2, 3), 2, 1), ((2, 3), 4, 2), ((2, 2, 2), 3, 1)]
    run("stack", [
        ({f"p{i}": randn(*shape) for i in range(count)}, [axis],
         lambda axis=axis, **parts: torch.stack([parts[f"p{i}"] for i in range(len(parts))], axis))
        for shape, count, axis in stacks
    ])

    wheres = [((2, 3), (2, 3), (2, 3)), ((2, 3), (3,), (2, 1)), ((4, 1), (1, 5), ()),
              ((3,), (2, 3), (2, 1))]
    run("where", [
        ({"a": randn(*sa), "b": randn(*sb), "mask": torch.rand(tuple(sm)) > 0.5}, [],
         lambda a, b, mask: torch.where(mask, a, b))
        for sm, sa, sb in wheres
    ])

    fills = [((2, 3), (2, 3), -1.5), ((2, 3, 4), (3, 1), 0.0), ((3, 4), (4,), 7.0), ((2, 2), (), 2.0)]
    run("masked_fill", [
        ({"x": randn(*sx), "mask": torch.rand(tuple(sm)) > 0.4}, [int(value * 2)],
         lambda x, mask, value=value: x.masked_fill(mask, value))
        for sx, sm, value in fills
    ])

    # clamp: args = [has_min, has_max, 4·min, 4·max]; inputs hit the bounds exactly
    clamps = [(-0.5, 0.5), (-0.25, None), (None, 0.75), (0.0, 0.0)]
    specs = []
    for lo, hi in clamps:
        x = torch.cat([randn(10), torch.tensor([-0.5, 0.5, -0.25, 0.75, 0.0], dtype=torch.float64)])
        args = [int(lo is not None), int(hi is not None), int(4 * (lo or 0)), int(4 * (hi or 0))]
        specs.append(({"x": x}, args, lambda x, lo=lo, hi=hi: x.clamp(lo, hi)))
    run("clamp", specs)

    gathers = [((3, 4), 1, (3, 2)), ((3, 4), 0, (5, 4)), ((2, 3, 4), 2, (2, 2, 6)),
               ((4, 3, 2), 1, (2, 3, 1))]
    specs = []
    for shape, axis, ishape in gathers:
        index = torch.randint(0, shape[axis], ishape)
        specs.append(({"x": randn(*shape), "index": index}, [axis],
                      lambda x, index, axis=axis: x.gather(axis, index)))
    run("gather", specs)

    # the source has the index's shape: PyTorch's backward rejects a larger source
    scatters = [((3, 4), 1, (3, 5), (3, 5)), ((4, 3), 0, (6, 3), (6, 3)),
                ((2, 3, 4), 1, (2, 5, 3), (2, 5, 3)), ((3, 3), 1, (2, 2), (2, 2))]
    specs = []
    for shape, axis, ishape, sshape in scatters:
        index = torch.randint(0, shape[axis], ishape)
        specs.append(({"x": randn(*shape), "index": index, "src": randn(*sshape)}, [axis],
                      lambda x, index, src, axis=axis: x.scatter_add(axis, index, src)))
    run("scatter_add", specs)

    index_adds = [((5, 3), 0, [0, 4, 0, 2]), ((2, 4, 3), 1, [3, 3, 1]), ((2, 3), 1, [2])]
    specs = []
    for shape, axis, picks in index_adds:
        sshape = list(shape)
        sshape[axis] = len(picks)
        index = torch.tensor(picks, dtype=torch.int64)
        specs.append(({"x": randn(*shape), "index": index, "src": randn(*sshape)}, [axis],
                      lambda x, index, src, axis=axis: x.index_add(axis, index, src)))
    run("index_add", specs)

    # embedding: args = [padding_idx or -1]
    embeddings = [((6, 3), (4,), None), ((5, 4), (2, 3), 0), ((7, 2), (2, 2, 3), 6)]
    specs = []
    for wshape, ishape, pad in embeddings:
        ids = torch.randint(0, wshape[0], ishape)
        if pad is not None:
            ids.view(-1)[0] = pad  # the padding row is looked up at least once
        specs.append(({"weight": randn(*wshape), "ids": ids}, [-1 if pad is None else pad],
                      lambda weight, ids, pad=pad: torch.nn.functional.embedding(ids, weight, pad)))
    run("embedding", specs)

    bmms = [(1, 2, 3, 4), (3, 4, 5, 2), (2, 1, 6, 3), (5, 3, 3, 3)]
    run("bmm", [
        ({"a": randn(b, m, k), "b": randn(b, k, n)}, [], lambda a, b: torch.bmm(a, b))
        for b, m, k, n in bmms
    ])

    lses = [((4,), 0, 0), ((3, 5), 1, 1), ((2, 3, 4), 1, 0), ((2, 3), 0, 1)]
    specs = []
    for shape, axis, keepdim in lses:
        x = randn(*shape) * 3
        x.view(-1)[0] = 1000.0  # stays finite: the maximum is subtracted
        specs.append(({"x": x}, [axis, keepdim],
                      lambda x, axis=axis, keepdim=keepdim: x.logsumexp(axis, bool(keepdim))))
    run("logsumexp", specs)


if __name__ == "__main__":
    main()
