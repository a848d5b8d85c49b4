"""How much a hashed feature loses to its modulo: the counting math, NumPy only.

A hashed feature maps distinct raw values (or combinations) to bins by
fingerprint modulo `num_bins`. Given the distinct fingerprints, the figures
are exact: distinct keys, bins used, the share of keys that share their bin
with another key, and rows per bin. `KeyCounts` gathers them mergeably (a
Beam accumulator); above `EXACT_LIMIT` distinct keys it switches to an
Apache DataSketches CPC sketch, and the figures say so (docs/outputs.md "Collision
report").
"""

from __future__ import annotations

import math
from typing import Iterable

import numpy as np

from pipeline.diagnostics.fingerprints import group_keys

EXACT_LIMIT = 1_000_000  # distinct keys per feature counted exactly
SKETCH_LG_K = 12         # CPC sketch size: about 1% relative error
SKETCH_STDDEVS = 2       # bounds reported for a sketched count (about 95%)
DENSE_BINS_LIMIT = 1 << 22  # sketch mode keeps rows per bin in an array up to this size
MAX_ROUND_SIZE = 1 << 62


def expected_collision_rate(keys: float, num_bins: int) -> float:
    """Share of keys sharing their bin under a random hash: 1 - (1 - 1/m)^(n-1)."""
    if keys <= 1:
        return 0.0
    return float(-math.expm1((keys - 1) * math.log1p(-1.0 / num_bins)))


def bin_key_counts(keys: np.ndarray, num_bins: int) -> np.ndarray:
    """Distinct keys per used bin, for distinct `keys` (uint64) at `num_bins`."""
    bins = keys % np.uint64(num_bins)
    if num_bins <= 4 * len(keys) + 1024:
        counts = np.bincount(bins.astype(np.int64), minlength=0)
        return counts[counts > 0]
    return np.unique(bins, return_counts=True)[1]


def colliding_keys(keys: np.ndarray, num_bins: int) -> int:
    """How many of the distinct `keys` share their bin with another key."""
    per_bin = bin_key_counts(keys, num_bins)
    return int(per_bin[per_bin > 1].sum())


def round_sizes(start: int = 2) -> Iterable[int]:
    """Round bin counts in increasing order: powers of two and 1, 2, 5 x 10^k."""
    sizes = {1 << k for k in range(1, 63)}
    sizes.update(d * 10 ** k for k in range(19) for d in (1, 2, 5))
    return (s for s in sorted(sizes) if start <= s <= MAX_ROUND_SIZE)


def smallest_round_num_bins(keys: np.ndarray, target: float) -> int:
    """The smallest round size whose exact collision rate on `keys` is <= target.

    Sizes below n * (1 - target) cannot meet it (more than n * target keys
    would be left without a bin of their own), so the search starts there.
    """
    n = len(keys)
    if n <= 1:
        return 2
    for size in round_sizes(start=max(2, int(n * (1 - target)))):
        if colliding_keys(keys, size) <= target * n:
            return size
    return MAX_ROUND_SIZE


def smallest_round_num_bins_expected(keys: float, target: float) -> int:
    """The same for a random hash at `keys` distinct keys (used above the exact limit)."""
    for size in round_sizes(start=max(2, int(keys * (1 - target)))):
        if expected_collision_rate(keys, size) <= target:
            return size
    return MAX_ROUND_SIZE


class KeyCounts:
    """Mergeable distinct keys of one feature, each with its bin and row count.

    Exact while at most `exact_limit` distinct keys were seen; above that a
    CPC sketch counts keys and rows per bin are kept per bin instead.
    """

    def __init__(self, num_bins: int, *, exact_limit: int = EXACT_LIMIT) -> None:
        self.num_bins = num_bins
        self.exact_limit = exact_limit
        self.keys = np.zeros(0, np.uint64)
        self.bins = np.zeros(0, np.uint64)
        self.rows = np.zeros(0, np.int64)
        self.pending: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self.pending_size = 0
        self.sketch = None        # datasketches.cpc_sketch once over the limit
        self.bin_rows = None      # rows per bin (dense array or (bins, rows)) in sketch mode

    @property
    def exact(self) -> bool:
        return self.sketch is None

    def add(self, keys: np.ndarray, bins: np.ndarray, rows: np.ndarray) -> None:
        """Adds distinct keys of a batch (from `group_keys`)."""
        if self.sketch is not None:
            self._add_to_sketch(keys, bins, rows)
            return
        self.pending.append((keys, bins, rows))
        self.pending_size += len(keys)
        if self.pending_size > max(1 << 16, len(self.keys)):
            self.compact()

    def merge(self, other: "KeyCounts") -> None:
        if other.sketch is None:
            other.compact()
            self.add(other.keys, other.bins, other.rows)
            return
        if self.sketch is None:
            self.compact()
            self._start_sketch()
        from datasketches import cpc_union
        union = cpc_union(SKETCH_LG_K)
        union.update(self.sketch)
        union.update(other.sketch)
        self.sketch = union.get_result()
        self._add_bin_rows(*other.bin_rows_arrays())

    def compact(self) -> None:
        if not self.pending:
            return
        keys = np.concatenate([self.keys, *(p[0] for p in self.pending)])
        bins = np.concatenate([self.bins, *(p[1] for p in self.pending)])
        rows = np.concatenate([self.rows, *(p[2] for p in self.pending)])
        self.pending, self.pending_size = [], 0
        self.keys, self.bins, self.rows = group_keys(keys, bins, rows)
        if len(self.keys) > self.exact_limit:
            self._start_sketch()

    def _start_sketch(self) -> None:
        from datasketches import cpc_sketch
        self.sketch = cpc_sketch(SKETCH_LG_K)
        keys, bins, rows = self.keys, self.bins, self.rows
        self.keys = self.bins = self.rows = np.zeros(0, np.uint64)
        self._add_to_sketch(keys, bins, rows)

    def _add_to_sketch(self, keys: np.ndarray, bins: np.ndarray, rows: np.ndarray) -> None:
        for key in keys.view(np.int64).tolist():
            self.sketch.update(key)
        self._add_bin_rows(bins, rows)

    def _add_bin_rows(self, bins: np.ndarray, rows: np.ndarray) -> None:
        if self.num_bins <= DENSE_BINS_LIMIT:
            counts = np.bincount(bins.astype(np.int64), weights=rows,
                                 minlength=self.num_bins).astype(np.int64)
            self.bin_rows = counts if self.bin_rows is None else self.bin_rows + counts
            return
        old_bins, old_rows = self.bin_rows_arrays()
        merged_bins, _, merged_rows = group_keys(np.concatenate([old_bins, bins]),
                                                 np.concatenate([old_bins, bins]),
                                                 np.concatenate([old_rows, rows]))
        self.bin_rows = (merged_bins, merged_rows)

    def bin_rows_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """(the bins in use, rows in each), exact or sketched."""
        if self.sketch is None:
            self.compact()
            bins, _, rows = group_keys(self.bins, self.bins, self.rows)
            return bins, rows
        if self.bin_rows is None:
            return np.zeros(0, np.uint64), np.zeros(0, np.int64)
        if isinstance(self.bin_rows, tuple):
            return self.bin_rows
        used = np.flatnonzero(self.bin_rows)
        return used.astype(np.uint64), self.bin_rows[used]

    def __getstate__(self) -> dict:
        self.compact()
        state = dict(self.__dict__)
        if self.sketch is not None:
            state["sketch"] = self.sketch.serialize()
        return state

    def __setstate__(self, state: dict) -> None:
        if state.get("sketch") is not None:
            from datasketches import cpc_sketch
            state["sketch"] = cpc_sketch.deserialize(state["sketch"])
        self.__dict__.update(state)

    def figures(self, *, targets: Iterable[float] = ()) -> dict:
        """The feature's collision figures; `targets` adds the smallest round size per rate."""
        self.compact()
        if self.sketch is None:
            n = len(self.keys)
            # Keys per bin from the bins the batches gave: a salted hash's are not key % m.
            per_bin = np.unique(self.bins, return_counts=True)[1]
            colliding = int(per_bin[per_bin > 1].sum())
            rate = colliding / n if n else 0.0
            _, bin_rows = self.bin_rows_arrays()
            result = {"method": "exact", "distinct": n, "bins_used": len(per_bin),
                      "colliding": colliding, "collision_rate": rate}
            sizes = {t: smallest_round_num_bins(self.keys, t) for t in targets}
        else:
            n = self.sketch.get_estimate()
            _, bin_rows = self.bin_rows_arrays()
            rate = expected_collision_rate(n, self.num_bins)
            result = {"method": f"sketch (Apache DataSketches CPC, lg_k={SKETCH_LG_K}; "
                                "collision rate from the random-hash model)",
                      "distinct": round(n),
                      "distinct_bounds": [round(self.sketch.get_lower_bound(SKETCH_STDDEVS)),
                                          round(self.sketch.get_upper_bound(SKETCH_STDDEVS))],
                      "bins_used": len(bin_rows), "colliding": round(rate * n),
                      "collision_rate": rate}
            sizes = {t: smallest_round_num_bins_expected(n, t) for t in targets}
        result["num_bins"] = self.num_bins
        result["expected_collision_rate"] = expected_collision_rate(n, self.num_bins)
        result.update(occupancy(bin_rows))
        if targets:
            result["smallest_num_bins"] = {f"{t:g}": size for t, size in sizes.items()}
        return result

    def occupancy_curve(self, points: int = 400) -> list[list[int]]:
        """[rank, rows] of the used bins, busiest first, thinned to about `points` (for plots)."""
        _, bin_rows = self.bin_rows_arrays()
        ordered = np.sort(bin_rows)[::-1]
        ranks = np.arange(len(ordered))
        if len(ordered) > points:
            ranks = np.unique(np.geomspace(1, len(ordered), points).astype(int) - 1)
        return [[int(rank) + 1, int(ordered[rank])] for rank in ranks]


def occupancy(bin_rows: np.ndarray) -> dict:
    """Rows per bin over the bins in use: max, median and 99th percentile."""
    if not len(bin_rows):
        return {"rows": 0, "rows_per_bin": {"max": 0, "p50": 0, "p99": 0}}
    p50, p99 = np.percentile(bin_rows, [50, 99], method="lower")
    return {"rows": int(bin_rows.sum()),
            "rows_per_bin": {"max": int(bin_rows.max()), "p50": int(p50), "p99": int(p99)}}
