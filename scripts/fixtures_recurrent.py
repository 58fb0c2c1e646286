#!/usr/bin/env python3
"""Fixtures of crates/splot/tests/recurrent.rs: torch.nn.LSTM and torch.nn.LSTMCell.

For each case this builds the PyTorch module, draws its weights, an input, an initial
state (or none) and sequence lengths (or none) from a fixed seed, runs it (sequences of
different lengths through pack_padded_sequence(..., enforce_sorted=False) and
pad_packed_sequence(..., total_length=T)) in float64, and backpropagates fixed random
upstream gradients of the output, h_n and c_n (loss = sum(out*g_out) + sum(h_n*g_h) +
sum(c_n*g_c)). It saves, as float32, to crates/splot/tests/fixtures/recurrent/CASE.safetensors:

- the inputs: x, h0 and c0 (when a state is given), lengths (when given), every parameter
  under its state_dict name (weight_ih_l0, ..., weight_ih, ... for the cell), g_out, g_h, g_c;
- the expected values: out, h_n, c_n, and grad.x, grad.h0, grad.c0, grad.<parameter>;
- the settings as metadata: input_size, hidden_size, num_layers, bias, batch_first,
  bidirectional ("1"/"0"), and kind ("lstm" or "cell").

For the cell, out is h' and g_out is unused (h_n = h', c_n = c').

Run from the repository root with PyTorch and safetensors installed:

    /work/main/bench/.venv/bin/python scripts/fixtures_recurrent.py
"""

import os

import torch
from safetensors.torch import save_file
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

OUT = os.path.join("crates", "splot", "tests", "fixtures", "recurrent")

# name: (input_size, hidden, layers, bias, batch_first, bidirectional, T, N, state, lengths)
LSTM_CASES = {
    "lstm_1layer": (5, 4, 1, True, False, False, 4, 3, False, None),
    "lstm_2layers_batch_first_state_lengths": (3, 4, 2, True, True, False, 5, 3, True, [3, 5, 1]),
    "lstm_2layers_bidirectional_lengths": (4, 3, 2, True, False, True, 4, 4, True, [2, 4, 1, 3]),
    "lstm_no_bias_batch_first": (3, 5, 1, False, True, False, 3, 2, True, None),
    # max(lengths) < T: the output keeps T steps, zeros past every sequence
    "lstm_bidirectional_short": (2, 3, 1, True, True, True, 4, 2, False, [3, 2]),
}
CELL_CASES = {
    "cell": (5, 4, True, 3, True),
    "cell_no_bias_zero_state": (3, 2, False, 2, False),
}


def rand(g, *shape):
    return torch.randn(*shape, generator=g, dtype=torch.float64)


def save(name, tensors, meta):
    os.makedirs(OUT, exist_ok=True)
    flat = {k: v.detach().to(torch.float32).contiguous() for k, v in tensors.items()}
    meta = {k: str(int(v)) if isinstance(v, bool) else str(v) for k, v in meta.items()}
    save_file(flat, os.path.join(OUT, f"{name}.safetensors"), metadata=meta)


def lstm_case(name, seed):
    i, h, layers, bias, bf, bidir, t, n, state, lengths = LSTM_CASES[name]
    g = torch.Generator().manual_seed(seed)
    lstm = torch.nn.LSTM(i, h, layers, bias=bias, batch_first=bf, bidirectional=bidir)
    lstm = lstm.double()
    with torch.no_grad():
        for p in lstm.parameters():
            p.copy_(0.5 * rand(g, *p.shape))
    d = 2 if bidir else 1
    x = rand(g, *((n, t, i) if bf else (t, n, i))).requires_grad_()
    h0 = (0.5 * rand(g, layers * d, n, h)).requires_grad_() if state else None
    c0 = (0.5 * rand(g, layers * d, n, h)).requires_grad_() if state else None
    hx = (h0, c0) if state else None
    if lengths is None:
        out, (hn, cn) = lstm(x, hx)
    else:
        packed = pack_padded_sequence(x, torch.tensor(lengths), batch_first=bf, enforce_sorted=False)
        out, (hn, cn) = lstm(packed, hx)
        out, _ = pad_packed_sequence(out, batch_first=bf, total_length=t)
    g_out, g_h, g_c = rand(g, *out.shape), rand(g, *hn.shape), rand(g, *cn.shape)
    loss = (out * g_out).sum() + (hn * g_h).sum() + (cn * g_c).sum()
    params = dict(lstm.named_parameters())
    wrt = {"x": x, **({"h0": h0, "c0": c0} if state else {}), **params}
    grads = torch.autograd.grad(loss, list(wrt.values()))
    tensors = {"x": x, "out": out, "h_n": hn, "c_n": cn, "g_out": g_out, "g_h": g_h, "g_c": g_c}
    tensors.update(params)
    if state:
        tensors.update({"h0": h0, "c0": c0})
    if lengths is not None:
        tensors["lengths"] = torch.tensor(lengths, dtype=torch.float64)
    tensors.update({f"grad.{k}": v for k, v in zip(wrt, grads)})
    meta = dict(kind="lstm", input_size=i, hidden_size=h, num_layers=layers, bias=bias,
                batch_first=bf, bidirectional=bidir)
    save(name, tensors, meta)


def cell_case(name, seed):
    i, h, bias, n, state = CELL_CASES[name]
    g = torch.Generator().manual_seed(seed)
    cell = torch.nn.LSTMCell(i, h, bias=bias).double()
    with torch.no_grad():
        for p in cell.parameters():
            p.copy_(0.5 * rand(g, *p.shape))
    x = rand(g, n, i).requires_grad_()
    h0 = (0.5 * rand(g, n, h)).requires_grad_() if state else None
    c0 = (0.5 * rand(g, n, h)).requires_grad_() if state else None
    h1, c1 = cell(x, (h0, c0) if state else None)
    g_h, g_c = rand(g, n, h), rand(g, n, h)
    loss = (h1 * g_h).sum() + (c1 * g_c).sum()
    params = dict(cell.named_parameters())
    wrt = {"x": x, **({"h0": h0, "c0": c0} if state else {}), **params}
    grads = torch.autograd.grad(loss, list(wrt.values()))
    tensors = {"x": x, "h_n": h1, "c_n": c1, "g_h": g_h, "g_c": g_c, **params}
    if state:
        tensors.update({"h0": h0, "c0": c0})
    tensors.update({f"grad.{k}": v for k, v in zip(wrt, grads)})
    meta = dict(kind="cell", input_size=i, hidden_size=h, num_layers=1, bias=bias,
                batch_first=False, bidirectional=False)
    save(name, tensors, meta)


def main():
    for k, name in enumerate(LSTM_CASES):
        lstm_case(name, 100 + k)
        print("wrote", name)
    for k, name in enumerate(CELL_CASES):
        cell_case(name, 200 + k)
        print("wrote", name)


if __name__ == "__main__":
    main()
