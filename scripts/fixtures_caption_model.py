#!/usr/bin/env python3
"""Fixtures of crates/splot/tests/caption.rs: the captioning decoders' teacher-forced loss
in PyTorch, forward and gradients, for the same weights.

The two modules below are splot's `tasks::caption::model` decoders written in PyTorch,
with the same parameter names:

- ShowTell: the feature map [m, C, h, w] averaged to [m, C], `img_proj` to the embedding,
  fed first; then `embed` of tokens[:, :-1]; `lstm` (batch_first); the outputs after the
  image step through `dropout` (p = 0 here) and `fc`; cross-entropy against tokens[:, 1:]
  with ignore_index = 0 (<pad>), mean over the real tokens.
- Attend: a = features as [m, P, C]; h0 = init_h(mean a), c0 = init_c(mean a); per step
  alpha = softmax(full_att(relu(enc_att(a) + dec_att(h)[:, None]))), context =
  sigmoid(f_beta(h)) * sum(alpha a), (h, c) = cell(cat(embed(w_t), context), (h, c)),
  scores fc(h); the loss adds alpha_c * mean((1 - sum_t alpha_t * live_t)^2), live_t
  whether token t + 1 is not padding.

Every parameter is drawn 0.3*N(0, 1) from a fixed seed in float64 (the <pad> row of the
embedding zero), the features N(0, 1), the tokens fixed with padding. Saved as float32 to
crates/splot/tests/fixtures/caption/CASE.safetensors: the parameters under their names,
`features`, `tokens` (as floats), `loss`, `grad.features` and `grad.<parameter>`, with the
sizes as metadata.

    /work/main/bench/.venv/bin/python scripts/fixtures_caption_model.py
"""

import os

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file

OUT = os.path.join("crates", "splot", "tests", "fixtures", "caption")
M, C, HW, E, H, A, V = 3, 6, (2, 2), 5, 7, 4, 11
ALPHA_C = 0.7
TOKENS = [
    [1, 4, 5, 6, 7, 2],
    [1, 8, 9, 2, 0, 0],
    [1, 10, 2, 0, 0, 0],
]


class ShowTell(nn.Module):
    def __init__(self):
        super().__init__()
        self.img_proj = nn.Linear(C, E)
        self.embed = nn.Embedding(V, E, padding_idx=0)
        self.lstm = nn.LSTM(E, H, batch_first=True)
        self.dropout = nn.Dropout(0.0)
        self.fc = nn.Linear(H, V)

    def forward(self, features, tokens):
        m = features.shape[0]
        pooled = features.reshape(m, C, -1).mean(2)
        x = torch.cat([self.img_proj(pooled)[:, None], self.embed(tokens[:, :-1])], 1)
        out, _ = self.lstm(x)
        scores = self.fc(self.dropout(out[:, 1:]))
        return F.cross_entropy(scores.reshape(-1, V), tokens[:, 1:].reshape(-1), ignore_index=0)


class Attend(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(V, E, padding_idx=0)
        self.enc_att = nn.Linear(C, A)
        self.dec_att = nn.Linear(H, A)
        self.full_att = nn.Linear(A, 1)
        self.init_h = nn.Linear(C, H)
        self.init_c = nn.Linear(C, H)
        self.f_beta = nn.Linear(H, C)
        self.cell = nn.LSTMCell(E + C, H)
        self.dropout = nn.Dropout(0.0)
        self.fc = nn.Linear(H, V)

    def forward(self, features, tokens):
        m = features.shape[0]
        a = features.reshape(m, C, -1).permute(0, 2, 1)
        mean = a.mean(1)
        h, c = self.init_h(mean), self.init_c(mean)
        att1 = self.enc_att(a)
        scores, alpha_sum = [], torch.zeros(m, a.shape[1], dtype=a.dtype)
        for t in range(tokens.shape[1] - 1):
            e = self.full_att(torch.relu(att1 + self.dec_att(h)[:, None])).squeeze(2)
            alpha = torch.softmax(e, 1)
            context = torch.sigmoid(self.f_beta(h)) * (alpha[:, :, None] * a).sum(1)
            h, c = self.cell(torch.cat([self.embed(tokens[:, t]), context], 1), (h, c))
            scores.append(self.fc(self.dropout(h)))
            alpha_sum = alpha_sum + alpha * (tokens[:, t + 1] != 0).to(a.dtype)[:, None]
        scores = torch.stack(scores, 1)
        ce = F.cross_entropy(scores.reshape(-1, V), tokens[:, 1:].reshape(-1), ignore_index=0)
        return ce + ALPHA_C * ((1.0 - alpha_sum) ** 2).mean()


def case(name, module, seed):
    g = torch.Generator().manual_seed(seed)
    module = module.double()
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(0.3 * torch.randn(p.shape, generator=g, dtype=torch.float64))
        module.embed.weight[0].zero_()
    features = torch.randn(M, C, *HW, generator=g, dtype=torch.float64).requires_grad_()
    tokens = torch.tensor(TOKENS)
    loss = module(features, tokens)
    params = dict(module.named_parameters())
    grads = torch.autograd.grad(loss, [features, *params.values()])
    tensors = {k: v for k, v in params.items()}
    tensors["features"] = features
    tensors["tokens"] = tokens.to(torch.float64)
    tensors["loss"] = loss.reshape(1)
    tensors["grad.features"] = grads[0]
    for (k, _), gr in zip(params.items(), grads[1:]):
        tensors[f"grad.{k}"] = gr
    flat = {k: v.detach().to(torch.float32).contiguous() for k, v in tensors.items()}
    meta = {"m": M, "channels": C, "embed": E, "hidden": H, "attention": A, "vocab": V,
            "alpha_c": ALPHA_C}
    os.makedirs(OUT, exist_ok=True)
    save_file(flat, os.path.join(OUT, f"{name}.safetensors"),
              metadata={k: str(v) for k, v in meta.items()})
    print(name, float(loss))


if __name__ == "__main__":
    case("show_tell", ShowTell(), 1)
    case("attend", Attend(), 2)
