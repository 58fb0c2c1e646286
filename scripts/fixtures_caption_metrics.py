#!/usr/bin/env python3
"""Fixture of crates/splot/tests/caption.rs: corpus BLEU-1..4 (nltk) and CIDEr-D
(pycocoevalcap) of candidate captions against several references per image.

Three corpora, drawn from a fixed seed: digit-scene-like sentences with words swapped,
dropped and repeated (lengths 0 to 14, 1 to 5 references per image); a corpus with no
4-gram in common (BLEU-4 is 0); and nltk's own doctest example. Sentences are already
tokenised (space-separated): pycocoevalcap's PTB tokenizer needs Java and is not used.
Writes crates/splot/tests/fixtures/caption/metrics.json:

    {"corpora": [{"references": [[str]], "candidates": [str],
                  "bleu": [b1, b2, b3, b4], "cider": mean, "cider_per_image": [..]}]}

Run from the repository root:

    /work/main/bench/.venv/bin/python scripts/fixtures_caption_metrics.py
"""

import json
import os
import random

from nltk.translate.bleu_score import corpus_bleu
from pycocoevalcap.cider.cider import Cider

OUT = os.path.join("crates", "splot", "tests", "fixtures", "caption", "metrics.json")

WORDS = ("a small large medium 3 7 8 2 digits two three the of to left right above below "
         "and on background striped from top bottom picture digit largest is other").split()


def sentence(rng):
    n = rng.randint(3, 12)
    return [rng.choice(WORDS) for _ in range(n)]


def mutate(rng, s):
    s = list(s)
    for _ in range(rng.randint(0, 4)):
        op = rng.randint(0, 3)
        if op == 0 and s:
            s[rng.randrange(len(s))] = rng.choice(WORDS)
        elif op == 1 and s:
            del s[rng.randrange(len(s))]
        elif op == 2:
            s.insert(rng.randrange(len(s) + 1), rng.choice(WORDS))
        elif s:
            i = rng.randrange(len(s))
            s.insert(i, s[i])
    return s


def scene_corpus(rng, images):
    refs, cands = [], []
    for k in range(images):
        base = sentence(rng)
        rs = [mutate(rng, base) for _ in range(rng.randint(1, 5))]
        rs = [r if r else ["a"] for r in rs]
        cand = [] if k == 7 else mutate(rng, base)
        refs.append(rs)
        cands.append(cand)
    return refs, cands


def score(refs, cands):
    bleu = [corpus_bleu(refs, cands, weights=tuple([1.0 / n] * n)) for n in range(1, 5)]
    gts = {i: [" ".join(r) for r in rs] for i, rs in enumerate(refs)}
    res = {i: [" ".join(c)] for i, c in enumerate(cands)}
    cider, per = Cider().compute_score(gts, res)
    return {
        "references": [[" ".join(r) for r in rs] for rs in refs],
        "candidates": [" ".join(c) for c in cands],
        "bleu": [float(b) for b in bleu],
        "cider": float(cider),
        "cider_per_image": [float(x) for x in per],
    }


def main():
    rng = random.Random(18)
    corpora = [score(*scene_corpus(rng, 40))]
    # No 4-gram in common: BLEU-4 is 0 (nltk's unsmoothed corpus_bleu).
    corpora.append(score([[["a", "b", "c", "d", "e"]], [["f", "g", "h"]]],
                         [["a", "b", "c", "x", "d"], ["f", "g", "y", "h"]]))
    hyp1 = ("It is a guide to action which ensures that the military always obeys "
            "the commands of the party").split()
    ref1 = [("It is a guide to action that ensures that the military will forever "
             "heed Party commands").split(),
            ("It is the guiding principle which guarantees the military forces always "
             "being under the command of the Party").split(),
            ("It is the practical guide for the army always to heed the directions "
             "of the party").split()]
    hyp2 = "he read the book because he was interested in world history".split()
    ref2 = ["he was interested in world history because he read the book".split()]
    corpora.append(score([ref1, ref2], [hyp1, hyp2]))
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump({"corpora": corpora}, f, indent=1)
    for c in corpora:
        print(c["bleu"], c["cider"])


if __name__ == "__main__":
    main()
