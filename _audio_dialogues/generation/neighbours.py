"""Choosing the clips of a comparison: an anchor clip and its most (or least) similar neighbours.

The paper compared an anchor clip with its top-k or bottom-k neighbours by CLAP audio embeddings.
Similarities here are dot products of unit vectors: a scorer's audio embeddings
(:func:`unit_rows`), or, without them, the clips' label sets as multi-hot vectors
(:func:`label_vectors`, i.e. the cosine similarity of two sets). The search is exact, in chunks of
anchors, so 100,000 clips need no index.

By default every clip anchors one comparison (about 120k for AudioSet-SL); ``--comparisons N``
keeps a seeded sample of N anchors per split, and ``--comparisons paper`` the paper's counts
(:func:`comparison_limit`, :func:`sample_anchors`).
"""

from __future__ import annotations

import hashlib
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


def comparison_limit(comparisons: int | str | None, published: int) -> int | None:
    """Anchors wanted in a split: ``None`` (every clip), an ``int``, or ``"paper"`` (the published count)."""
    if comparisons is None or comparisons == "all":
        return None
    if comparisons == "paper":
        return published
    try:
        limit = int(comparisons)
    except (TypeError, ValueError):
        limit = -1
    if limit < 1:
        raise ValueError(f"--comparisons {comparisons!r}: expected a count >= 1, 'paper' or 'all'")
    return limit


def sample_anchors(youtube_ids: Sequence[str], limit: int | None, seed: int) -> list[int]:
    """The positions of the anchors: all, or the ``limit`` ids ranked first by a seeded hash of the id.

    The rank of an id does not depend on the other ids, so a run over more clips keeps the anchors of
    a run over fewer (when they still rank high enough) and a rerun with the same seed picks the same."""
    if limit is None or limit >= len(youtube_ids):
        return list(range(len(youtube_ids)))

    def rank(i: int) -> bytes:
        return hashlib.sha256(f"anchor:{seed}:{youtube_ids[i]}".encode()).digest()

    return sorted(sorted(range(len(youtube_ids)), key=rank)[:limit])


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
