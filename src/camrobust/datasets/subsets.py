"""Deterministic class-balanced subsets: which images of a labelled set are staged, in what order."""

from __future__ import annotations

import numpy as np

from camrobust.seeding import image_generator


def class_balanced_order(labels: np.ndarray, seed: int) -> np.ndarray:
    """All indices in a deterministic class-balanced order: classes interleaved round-robin, each
    class shuffled by ``seed``; a prefix of length n has per-class counts differing by at most one
    (while every class still has members)."""
    labels = np.asarray(labels)
    classes = np.unique(labels)
    rank = np.empty(len(labels), dtype=np.int64)
    for cls in classes:
        members = np.flatnonzero(labels == cls)
        rank[members] = image_generator("class-balanced", int(cls), seed).permutation(len(members))
    return np.lexsort((labels, rank))


def class_balanced_subset(labels: np.ndarray, n: int, seed: int) -> np.ndarray:
    """``n`` indices (sorted) of a deterministic class-balanced subset; all indices when n >= len."""
    return np.sort(class_balanced_order(labels, seed)[:n])
