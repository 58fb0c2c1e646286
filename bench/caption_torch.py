#!/usr/bin/env python3
"""The PyTorch side of bench/caption_compare.sh: the same captioning model as a splot
checkpoint (its `model.*` tensors loaded into PyTorch modules of the same names: the small
encoder with its coordinate channels, then Show and Tell or Show, Attend and Tell), the
same images (the first N of the val split, scaled to [-1, 1]), and the same beam search
(per image, width W, forced <end> at the maximum length, ranked by log p / len^0.7).

    python bench/caption_torch.py CHECKPOINT SCENES_DIR [--images N] [--width W]
        [--reps R] [--threads T]

Prints the best caption of every image, then `captions_per_s <best of R runs>`.
"""

import argparse
import json
import os
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image
from safetensors import safe_open

PAD, START, END = 0, 1, 2


class Encoder(nn.Module):
    def __init__(self, channels):
        super().__init__()
        c_in = channels + 2
        for k, c in enumerate([16, 32, 64, 128]):
            setattr(self, f"conv{k}", nn.Conv2d(c_in, c, 3, padding=1, bias=False))
            setattr(self, f"bn{k}", nn.BatchNorm2d(c))
            c_in = c

    def forward(self, x):
        n, _, h, w = x.shape
        xs = torch.linspace(-1, 1, w).expand(n, 1, h, w)
        ys = torch.linspace(-1, 1, h)[:, None].expand(n, 1, h, w)
        x = torch.cat([x, xs, ys], 1)
        for k in range(4):
            x = F.max_pool2d(F.relu(getattr(self, f"bn{k}")(getattr(self, f"conv{k}")(x))), 2)
        return x


class ShowTell(nn.Module):
    def __init__(self, C, E, H, V):
        super().__init__()
        self.img_proj = nn.Linear(C, E)
        self.embed = nn.Embedding(V, E, padding_idx=0)
        self.lstm = nn.LSTM(E, H, batch_first=True)
        self.fc = nn.Linear(H, V)

    def start(self, features):
        n = features.shape[0]
        img = self.img_proj(features.reshape(n, features.shape[1], -1).mean(2))
        _, (h, c) = self.lstm(img[:, None])
        return (h[0], c[0])

    def step(self, state, words):
        h, c = state
        out, (h, c) = self.lstm(self.embed(words)[:, None], (h[None], c[None]))
        return F.log_softmax(self.fc(out[:, 0]), 1), (h[0], c[0])

    @staticmethod
    def select(state, rows):
        return tuple(s[rows] for s in state)


class Attend(nn.Module):
    def __init__(self, C, E, H, A, V):
        super().__init__()
        self.embed = nn.Embedding(V, E, padding_idx=0)
        self.enc_att = nn.Linear(C, A)
        self.dec_att = nn.Linear(H, A)
        self.full_att = nn.Linear(A, 1)
        self.init_h = nn.Linear(C, H)
        self.init_c = nn.Linear(C, H)
        self.f_beta = nn.Linear(H, C)
        self.cell = nn.LSTMCell(E + C, H)
        self.fc = nn.Linear(H, V)

    def start(self, features):
        n = features.shape[0]
        a = features.reshape(n, features.shape[1], -1).permute(0, 2, 1)
        mean = a.mean(1)
        return (self.init_h(mean), self.init_c(mean), a, self.enc_att(a))

    def step(self, state, words):
        h, c, a, att1 = state
        e = self.full_att(torch.relu(att1 + self.dec_att(h)[:, None])).squeeze(2)
        alpha = torch.softmax(e, 1)
        context = torch.sigmoid(self.f_beta(h)) * torch.bmm(alpha[:, None], a)[:, 0]
        h, c = self.cell(torch.cat([self.embed(words), context], 1), (h, c))
        return F.log_softmax(self.fc(h), 1), (h, c, a, att1)

    @staticmethod
    def select(state, rows):
        return tuple(s[rows] for s in state)


def load(path):
    tensors, meta = {}, {}
    with safe_open(path, "pt") as f:
        meta = f.metadata()
        for k in f.keys():
            if k.startswith("model."):
                tensors[k[len("model."):]] = f.get_tensor(k)
    vocab = meta["task.vocab"].split("\n")
    E, H, A = (int(meta[f"task.{k}"]) for k in ("embed", "hidden", "attention"))
    V, C = len(vocab), 128
    arch = meta["task.architecture"]
    dec = ShowTell(C, E, H, V) if arch == "show-tell" else Attend(C, E, H, A, V)
    model = nn.Module()
    model.encoder = Encoder(1)
    model.decoder = dec
    state = {k: v for k, v in tensors.items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert not missing, missing
    model.eval()
    return model, vocab, int(meta["task.max_len"]), int(meta["task.image_size"])


def beam_one(dec, state, width, max_len, alpha):
    beams = [([], 0.0)]
    words = torch.tensor([START])
    finished = []

    def rank(tokens, lp, ended):
        n = len(tokens) + int(ended)
        return (lp / max(n, 1) ** alpha, tokens, lp)

    for step in range(max_len + 1):
        logp, nxt = dec.step(state, words)
        v = logp.shape[1]
        if step == max_len:
            for b, (tokens, lp) in enumerate(beams):
                finished.append(rank(tokens, lp + float(logp[b, END]), True))
            beams = []
            break
        live = width - len(finished)
        total = (torch.tensor([lp for _, lp in beams])[:, None] + logp).reshape(-1)
        top = torch.topk(total, live)
        rows, nb, nw = [], [], []
        for score, idx in zip(top.values.tolist(), top.indices.tolist()):
            b, t = divmod(idx, v)
            if t == END:
                finished.append(rank(beams[b][0], score, True))
                continue
            rows.append(b)
            nb.append((beams[b][0] + [t], score))
            nw.append(t)
        if not nb:
            beams = []
            break
        state = dec.select(nxt, torch.tensor(rows))
        beams, words = nb, torch.tensor(nw)
    finished.sort(key=lambda f: -f[0])
    return finished[0]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("checkpoint")
    p.add_argument("scenes")
    p.add_argument("--images", type=int, default=100)
    p.add_argument("--width", type=int, default=3)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    model, vocab, max_len, size = load(a.checkpoint)
    ann = os.path.join(a.scenes, "annotations", "captions_val.json")
    images = sorted(json.load(open(ann))["images"], key=lambda i: i["id"])[: a.images]
    pix = []
    for im in images:
        img = Image.open(os.path.join(a.scenes, "JPEGImages", im["file_name"])).convert("L")
        assert img.size == (size, size), "the benchmark takes images of the model's size"
        pix.append(np.asarray(img, dtype=np.float32) / 255.0)
    x = (torch.tensor(np.stack(pix))[:, None] - 0.5) / 0.5
    best, captions = float("inf"), []
    with torch.inference_mode():
        for _ in range(a.reps):
            t = time.perf_counter()
            features = model.encoder(x)
            state = model.decoder.start(features)
            out = []
            for i in range(x.shape[0]):
                s = model.decoder.select(state, torch.tensor([i]))
                out.append(beam_one(model.decoder, s, a.width, max_len, 0.7))
            best = min(best, time.perf_counter() - t)
            captions = [" ".join(vocab[t] for t in o[1]) for o in out]
    for c in captions:
        print("caption", c)
    print(f"captions_per_s {x.shape[0] / best:.2f}")


if __name__ == "__main__":
    main()
