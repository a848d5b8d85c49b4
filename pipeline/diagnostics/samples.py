"""Bounded, mergeable summaries of a hashed feature's keys and bins, NumPy only.

Above its exact limit a feature's figures come from these instead of every
distinct key (docs/outputs.md "Collision report"):

- `BottomK`: a uniform sample of distinct ids, the `k` whose 64-bit mix
  (`mix64`, a bijection) is smallest, each with its rows summed exactly (an
  id once dropped has a mix above the threshold and never comes back). It
  estimates the number of distinct ids ((k - 1) / threshold share, relative
  standard error about 1 / sqrt(k - 2)) and is the drift baseline's sample
  of keys (docs/running.md "Drift against the frozen analysis").
- `HeavyBins`: Misra-Gries counts of the busiest bins, for the maximum rows
  per bin with bounds.
- `range_rows`: rows per contiguous bin range (at most `MAX_RANGES`), exact,
  for the bin shift.
"""

from __future__ import annotations

import numpy as np

from pipeline.diagnostics.fingerprints import group_keys

MAX_RANGES = 1024          # bin ranges the bin shift is measured over
ALL = np.uint64(2**64 - 1)  # the threshold of a sample that holds every id

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def mix64(ids: np.ndarray) -> np.ndarray:
    """SplitMix64's finalizer: a bijection of uint64 that spreads fingerprints uniformly."""
    z = np.asarray(ids, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
        return z ^ (z >> np.uint64(31))


def bottom_k(ids: np.ndarray, rows: np.ndarray, k: int,
             threshold: np.uint64 = ALL) -> tuple[np.ndarray, np.ndarray, np.uint64]:
    """(the ids with the k smallest mixes at or below `threshold`, their rows, new threshold).

    `ids` distinct. The threshold is the largest mix kept once more than k ids
    were offered, else `threshold` unchanged.
    """
    mixed = mix64(ids)
    inside = mixed <= threshold
    ids, rows, mixed = ids[inside], rows[inside], mixed[inside]
    if len(ids) <= k:
        return ids, rows, threshold
    keep = np.argpartition(mixed, k - 1)[:k]
    return ids[keep], rows[keep], mixed[keep].max()


class BottomK:
    """A uniform sample of distinct ids with their exact rows; mergeable."""

    def __init__(self, k: int) -> None:
        self.k = k
        self.ids = np.zeros(0, np.uint64)
        self.rows = np.zeros(0, np.int64)
        self.threshold = ALL

    @property
    def complete(self) -> bool:
        """True while the sample holds every id it was given."""
        return self.threshold == ALL

    def add(self, ids: np.ndarray, rows: np.ndarray) -> None:
        """Adds distinct ids of a batch and their rows."""
        inside = mix64(ids) <= self.threshold
        ids, rows = ids[inside], rows[inside]
        if not len(ids):
            return
        merged_ids, _, merged_rows = group_keys(np.concatenate([self.ids, ids]),
                                                np.zeros(len(self.ids) + len(ids), np.uint64),
                                                np.concatenate([self.rows, rows]))
        self.ids, self.rows, self.threshold = bottom_k(merged_ids, merged_rows, self.k,
                                                       self.threshold)

    def merge(self, other: "BottomK") -> None:
        if other.threshold < self.threshold:  # ids above it may lack the other's rows
            self.threshold = other.threshold
            inside = mix64(self.ids) <= self.threshold
            self.ids, self.rows = self.ids[inside], self.rows[inside]
        self.add(other.ids, other.rows)

    def share(self) -> float:
        """The share of all mixes at or below the threshold (1.0 when complete)."""
        return 1.0 if self.complete else (float(self.threshold) + 1.0) / 2.0**64

    def distinct(self) -> tuple[float, float]:
        """(estimated distinct ids, its relative standard error); exact when complete."""
        if self.complete:
            return float(len(self.ids)), 0.0
        return (self.k - 1) / self.share(), float(1.0 / np.sqrt(self.k - 2))

    def subsample(self, k: int) -> tuple[np.ndarray, np.ndarray, np.uint64]:
        """The bottom-k of this sample for a smaller k: (ids sorted, rows, threshold)."""
        ids, rows, threshold = bottom_k(self.ids, self.rows, k, self.threshold)
        order = np.argsort(ids)
        return ids[order], rows[order], threshold


class HeavyBins:
    """Misra-Gries counts of the busiest bins: each kept count is at most the bin's
    rows and at least its rows minus `slack` (<= total rows / (capacity + 1))."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.bins = np.zeros(0, np.uint64)
        self.rows = np.zeros(0, np.int64)
        self.slack = 0

    def add(self, bins: np.ndarray, rows: np.ndarray) -> None:
        """Adds rows per bin (bins need not be distinct)."""
        merged, _, counts = group_keys(np.concatenate([self.bins, bins]),
                                       np.zeros(len(self.bins) + len(bins), np.uint64),
                                       np.concatenate([self.rows, rows]))
        if len(merged) > self.capacity:
            cut = np.partition(counts, len(counts) - self.capacity - 1)[
                len(counts) - self.capacity - 1]
            counts = counts - cut
            self.slack += int(cut)
            merged, counts = merged[counts > 0], counts[counts > 0]
        self.bins, self.rows = merged, counts

    def merge(self, other: "HeavyBins") -> None:
        self.slack += other.slack
        self.add(other.bins, other.rows)

    def max_bounds(self) -> tuple[int, int]:
        """(lower, upper) bounds on the rows of the busiest bin."""
        top = int(self.rows.max()) if len(self.rows) else 0
        return top, top + self.slack


def range_width(num_bins: int) -> int:
    """Bins per range: ranges of `width` contiguous bins, at most MAX_RANGES of them."""
    return max(1, -(-num_bins // MAX_RANGES))


def range_rows(bins: np.ndarray, rows: np.ndarray, num_bins: int) -> np.ndarray:
    """Rows per contiguous bin range (dense, one entry per range)."""
    width = range_width(num_bins)
    count = -(-num_bins // width)
    ranges = (np.asarray(bins, np.uint64) // np.uint64(width)).astype(np.int64)
    return np.bincount(ranges, weights=rows, minlength=count).astype(np.int64)
