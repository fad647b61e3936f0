"""Choosing the clips of a comparison: an anchor clip and its most (or least) similar neighbours.

The paper compared an anchor clip with its top-k or bottom-k neighbours by CLAP audio embeddings.
Similarities here are dot products of unit vectors: a scorer's audio embeddings
(:func:`unit_rows`), or, without them, the clips' label sets as multi-hot vectors
(:func:`label_vectors`, i.e. the cosine similarity of two sets). The search is exact, in chunks of
anchors, so 100,000 clips need no index.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


def unit_rows(matrix) -> np.ndarray:
    """The rows of ``matrix`` scaled to length 1 (a zero row stays zero)."""
    vectors = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1, norms)


def label_vectors(label_sets: Sequence[Sequence[str]]) -> np.ndarray:
    """One unit multi-hot row per clip: two rows' dot product is the cosine similarity of their label sets."""
    vocabulary = {label: i for i, label in enumerate(sorted({label for labels in label_sets for label in labels}))}
    vectors = np.zeros((len(label_sets), len(vocabulary)), dtype=np.float32)
    for row, labels in enumerate(label_sets):
        vectors[row, [vocabulary[label] for label in labels]] = 1.0
    return unit_rows(vectors)


def choose_neighbours(vectors: np.ndarray, anchors: list[int], plans: dict[int, tuple[int, bool]], seed: int,
                      chunk: int = 256) -> dict[int, list[int]]:
    """For each anchor row, the k-1 other rows most similar to it (``plans[anchor] == (k, True)``) or
    least similar (``(k, False)``), the closest to that end first; ties are broken by a seeded jitter."""
    out: dict[int, list[int]] = {}
    for start in range(0, len(anchors), chunk):
        rows = anchors[start:start + chunk]
        rng = np.random.default_rng([seed, start])
        similarity = vectors[rows] @ vectors.T + rng.uniform(0, 1e-6, (len(rows), len(vectors)))
        for r, anchor in enumerate(rows):
            k, most = plans[anchor]
            scores = similarity[r] if most else -similarity[r]
            scores[anchor] = -np.inf
            picked = np.argpartition(-scores, k - 1)[: k - 1] if k - 1 < len(scores) else np.arange(len(scores))
            out[anchor] = [int(j) for j in picked[np.argsort(-scores[picked])] if j != anchor][: k - 1]
    return out
