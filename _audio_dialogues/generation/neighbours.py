"""Choosing the clips of a comparison: an anchor clip and its most (or least) similar neighbours.

The paper compared an anchor clip with its top-k or bottom-k neighbours by CLAP audio embeddings.
Similarities here are dot products of unit vectors: a scorer's audio embeddings
(:func:`unit_rows`), or, without them, the clips' label sets as multi-hot vectors
(:func:`label_vectors`, i.e. the cosine similarity of two sets). The search is exact, in chunks of
anchors, so 100,000 clips need no index.
"""

from __future__ import annotations

import sys
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


def choose_neighbours(
    vectors: np.ndarray,
    anchors: list[int],
    plans: dict[int, tuple[int, bool]],
    seed: int,
    chunk: int = 256,
    progress: bool = False,
) -> dict[int, list[int]]:
    """For each anchor row, the k-1 other rows most similar to it (``plans[anchor] == (k, True)``) or
    least similar (``(k, False)``), the closest to that end first; ties are broken by a seeded jitter."""
    from tqdm.auto import tqdm

    out: dict[int, list[int]] = {}
    most_wanted = max((k - 1 for k, _ in plans.values()), default=0)
    width = min(most_wanted, len(vectors) - 1)  # the best `width` candidates of each row are enough
    if width <= 0:
        return {anchor: [] for anchor in anchors}
    for start in tqdm(
        range(0, len(anchors), chunk), desc="comparison neighbours", unit="chunk", disable=not progress, file=sys.stderr
    ):
        rows = np.asarray(anchors[start : start + chunk])
        jitter = np.random.default_rng([seed, start]).random((len(rows), len(vectors)), dtype=np.float32) * 1e-6
        sign = np.array([1.0 if plans[a][1] else -1.0 for a in rows], dtype=np.float32)[:, None]
        scores = (vectors[rows] @ vectors.T + jitter) * sign  # higher: a better neighbour for this anchor
        every_row = np.arange(len(rows))
        scores[every_row, rows] = -np.inf  # never the anchor itself
        best = []  # `width` passes of argmax: far cheaper than a partial sort of each row, as width <= 3
        for _ in range(width):
            column = scores.argmax(axis=1)
            best.append(column)
            scores[every_row, column] = -np.inf
        for anchor, candidates in zip(rows.tolist(), np.stack(best, axis=1).tolist()):
            out[anchor] = candidates[: plans[anchor][0] - 1]
    return out
