#!/usr/bin/env python3
"""faiss-cpu's IndexFlatIP (exact inner-product search) on the vectors splot searches.

    search_faiss.py GALLERY QUERIES [--k 10] [--threads 2] [--rounds 3] [--topk FILE]
    search_faiss.py --random N D OUT [--seed S]     # N unit vectors of D values -> OUT

GALLERY and QUERIES are safetensors files with `features` [n, d] (an index of `splot
index`). Prints the best of ROUNDS timings as queries/s; --topk writes the result rows.
"""
import argparse
import time

import faiss
import numpy as np
from safetensors.numpy import load_file, save_file


def main():
    p = argparse.ArgumentParser()
    p.add_argument("files", nargs="*")
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--topk")
    p.add_argument("--random", nargs=3)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    if a.random:
        n, d, out = int(a.random[0]), int(a.random[1]), a.random[2]
        x = np.random.default_rng(a.seed).normal(size=(n, d)).astype(np.float32)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        save_file({"features": x}, out)
        return
    faiss.omp_set_num_threads(a.threads)
    g = np.ascontiguousarray(load_file(a.files[0])["features"], dtype=np.float32)
    q = np.ascontiguousarray(load_file(a.files[1])["features"], dtype=np.float32)
    index = faiss.IndexFlatIP(g.shape[1])
    index.add(g)
    best = float("inf")
    for _ in range(a.rounds):
        t = time.perf_counter()
        _, rows = index.search(q, a.k)
        best = min(best, time.perf_counter() - t)
    print(f"queries_per_s {len(q) / best:.0f} ({len(q)} queries, {len(g)} gallery, d {g.shape[1]}, "
          f"k {a.k}, {a.threads} threads, best of {a.rounds}: {best:.3f} s)")
    if a.topk:
        save_file({"topk": rows.astype(np.float32)}, a.topk)


if __name__ == "__main__":
    main()
