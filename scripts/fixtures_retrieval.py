#!/usr/bin/env python3
"""Fixture of crates/splot/tests/retrieve.rs: exact search and retrieval metrics.

A random gallery (300 unit vectors of 24 values, 5 classes, clustered so that retrieval is
neither perfect nor chance) and 60 queries. Saves them with the references:
- `topk`: the 10 gallery rows of highest inner product per query (numpy, stable: ties
  rank the lower row first), as faiss' IndexFlatIP returns them;
- `metrics`: precision@1, precision@10, and mAP = the mean over queries of scikit-learn's
  `average_precision_score(same_class, inner_products)`.

    bench/.venv/bin/python scripts/fixtures_retrieval.py    # numpy, scikit-learn, safetensors
"""
import os

import numpy as np
from safetensors.numpy import save_file
from sklearn.metrics import average_precision_score

OUT = os.path.join("crates", "splot", "tests", "fixtures", "retrieval", "search.safetensors")


def unit(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def main():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(5, 24))
    glabels = rng.integers(0, 5, size=300)
    qlabels = rng.integers(0, 5, size=60)
    gallery = unit(centres[glabels] + 1.5 * rng.normal(size=(300, 24))).astype(np.float32)
    queries = unit(centres[qlabels] + 1.5 * rng.normal(size=(60, 24))).astype(np.float32)
    scores = queries.astype(np.float64) @ gallery.astype(np.float64).T
    order = np.argsort(-scores, axis=1, kind="stable")
    topk = order[:, :10]
    relevant = glabels[None, :] == qlabels[:, None]
    p1 = relevant[np.arange(60), order[:, 0]].mean()
    p10 = np.mean([relevant[i, order[i, :10]].mean() for i in range(60)])
    ap = np.mean([average_precision_score(relevant[i], scores[i]) for i in range(60)])
    save_file(
        {
            "gallery": gallery,
            "gallery_labels": glabels.astype(np.float32),
            "queries": queries,
            "query_labels": qlabels.astype(np.float32),
            "topk": topk.astype(np.float32),
            "metrics": np.array([p1, p10, ap], dtype=np.float64),
        },
        OUT,
    )
    print(f"precision@1 {p1:.6f}, precision@10 {p10:.6f}, mAP {ap:.6f}")


if __name__ == "__main__":
    main()
