"""How much a hashed feature loses to its modulo: the counting math, NumPy only.

A hashed feature maps distinct raw values (or combinations) to bins by
fingerprint modulo `num_bins`. Given the distinct fingerprints, the figures
are exact: distinct keys, bins used, the share of keys that share their bin
with another key, and rows per bin. `KeyCounts` gathers them mergeably (a
Beam accumulator); above its exact limit (set by the memory budget,
`pipeline.diagnostics.budget`) it keeps bounded samples instead
(`pipeline.diagnostics.samples`), and the figures say so and with which error
(docs/outputs.md "Collision report").
"""

from __future__ import annotations

import math
from typing import Iterable

import numpy as np

from pipeline.diagnostics.budget import HEAVY_BINS, SAMPLE_BINS, SAMPLE_KEYS
from pipeline.diagnostics.fingerprints import group_keys
from pipeline.diagnostics.samples import BottomK, HeavyBins, range_rows

EXACT_LIMIT = 1_000_000  # distinct keys counted exactly when no budget says otherwise
SKETCH_STDDEVS = 2       # bounds reported for a sampled count: 2 standard errors (about 95%)
DENSE_BINS_LIMIT = 1 << 22  # sampled features keep rows per bin in an array up to this size
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


def merged(accumulators):
    """A CombineFn's accumulators (anything with `.merge`) merged into the first."""
    accumulators = iter(accumulators)
    first = next(accumulators)
    for accumulator in accumulators:
        first.merge(accumulator)
    return first


class KeyCounts:
    """Mergeable distinct keys of one feature, each with its bin and row count.

    Exact while at most `exact_limit` distinct keys were seen. Above that it
    keeps bounded samples instead (`pipeline.diagnostics.samples`): a bottom-k
    sample of the keys with their rows (distinct count, drift), rows per bin
    range (bin shift), and rows per bin as an array of `num_bins` while
    `num_bins <= dense_bin_limit`, else a sample of the bins and the busiest
    bins (bins used, rows per bin).
    """

    def __init__(self, num_bins: int, *, exact_limit: int = EXACT_LIMIT,
                 dense_bin_limit: int = DENSE_BINS_LIMIT) -> None:
        self.num_bins = num_bins
        self.exact_limit = exact_limit
        self.dense_bin_limit = dense_bin_limit
        self.keys = np.zeros(0, np.uint64)
        self.bins = np.zeros(0, np.uint64)
        self.rows = np.zeros(0, np.int64)
        self.pending: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self.pending_size = 0
        self.sampled = False
        self.sample: BottomK | None = None       # keys and their rows, once over the limit
        self.ranges: np.ndarray | None = None    # rows per bin range, once over the limit
        self.bin_rows: np.ndarray | None = None  # rows per bin, when num_bins fits
        self.bin_sample: BottomK | None = None   # else a sample of the bins
        self.heavy: HeavyBins | None = None      # and the busiest bins

    @property
    def exact(self) -> bool:
        return not self.sampled

    def add(self, keys: np.ndarray, bins: np.ndarray, rows: np.ndarray) -> None:
        """Adds a batch's keys with their rows (a key may repeat; the grouping merges them)."""
        if self.sampled:
            self._add_to_samples(keys, bins, rows)
            return
        self.pending.append((keys, bins, rows))
        self.pending_size += len(keys)
        if self.pending_size > max(1 << 16, len(self.keys)):
            self.compact()

    def merge(self, other: "KeyCounts") -> None:
        other.compact()  # first: grouping its pending keys may switch `other` to samples
        if not other.sampled:
            self.add(other.keys, other.bins, other.rows)
            return
        self.compact()  # which may start this one's samples: start them only once
        if not self.sampled:
            self._start_samples()
        self.sample.merge(other.sample)
        self.ranges += other.ranges
        if self.bin_rows is not None:
            self.bin_rows += other.bin_rows
        else:
            self.bin_sample.merge(other.bin_sample)
            self.heavy.merge(other.heavy)

    def compact(self) -> None:
        if not self.pending:
            return
        keys = np.concatenate([self.keys, *(p[0] for p in self.pending)])
        bins = np.concatenate([self.bins, *(p[1] for p in self.pending)])
        rows = np.concatenate([self.rows, *(p[2] for p in self.pending)])
        self.pending, self.pending_size = [], 0
        self.keys, self.bins, self.rows = group_keys(keys, bins, rows)
        if len(self.keys) > self.exact_limit:
            self._start_samples()

    def _start_samples(self) -> None:
        self.sampled = True
        self.sample = BottomK(SAMPLE_KEYS)
        self.ranges = np.zeros(len(range_rows(np.zeros(0, np.uint64), np.zeros(0),
                                              self.num_bins)), np.int64)
        if self.num_bins <= self.dense_bin_limit:
            self.bin_rows = np.zeros(self.num_bins, np.int64)
        else:
            self.bin_sample, self.heavy = BottomK(SAMPLE_BINS), HeavyBins(HEAVY_BINS)
        keys, bins, rows = self.keys, self.bins, self.rows
        self.keys, self.bins, self.rows = (np.zeros(0, np.uint64), np.zeros(0, np.uint64),
                                           np.zeros(0, np.int64))
        self._add_to_samples(keys, bins, rows)

    def _add_to_samples(self, keys: np.ndarray, bins: np.ndarray, rows: np.ndarray) -> None:
        self.sample.add(keys, rows)
        self.ranges += range_rows(bins, rows, self.num_bins)
        if self.bin_rows is not None:
            # In place: a batch's bins are few next to num_bins (a bincount of
            # num_bins would allocate and add the whole array per batch).
            np.add.at(self.bin_rows, bins.astype(np.intp), rows.astype(np.int64))
            return
        used, _, per_bin = group_keys(bins, bins, rows)
        self.bin_sample.add(used, per_bin)
        self.heavy.add(used, per_bin)

    def bin_rows_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """(the bins in use, rows in each): exact, or sampled when the bins are."""
        if not self.sampled:
            self.compact()
            bins, _, rows = group_keys(self.bins, self.bins, self.rows)
            return bins, rows
        if self.bin_rows is None:
            return self.bin_sample.ids, self.bin_sample.rows
        used = np.flatnonzero(self.bin_rows)
        return used.astype(np.uint64), self.bin_rows[used]

    def __getstate__(self) -> dict:
        self.compact()
        return dict(self.__dict__)

    def distinct(self) -> tuple[float, float]:
        """(distinct keys, relative standard error: 0 when counted exactly)."""
        self.compact()
        return self.sample.distinct() if self.sampled else (float(len(self.keys)), 0.0)

    def drift_sample(self) -> dict:
        """What drift needs, bounded: a bottom-k sample of the keys (sorted) with
        their rows and threshold, and rows per bin range (docs/running.md "Drift
        against the frozen analysis")."""
        self.compact()
        if self.sampled:
            keys, key_rows, threshold = self.sample.subsample(SAMPLE_KEYS)
            ranges = self.ranges
        else:
            sample = BottomK(SAMPLE_KEYS)
            sample.add(self.keys, self.rows)
            keys, key_rows, threshold = sample.subsample(SAMPLE_KEYS)
            ranges = range_rows(self.bins, self.rows, self.num_bins)
        return {"keys": keys, "key_rows": key_rows, "threshold": np.uint64(threshold),
                "range_rows": ranges}

    def figures(self, *, targets: Iterable[float] = ()) -> dict:
        """The feature's collision figures; `targets` adds the smallest round size per rate."""
        self.compact()
        if not self.sampled:
            n = len(self.keys)
            # Keys per bin from the bins the batches gave: a salted hash's are not key % m.
            per_bin = np.unique(self.bins, return_counts=True)[1]
            colliding = int(per_bin[per_bin > 1].sum())
            rate = colliding / n if n else 0.0
            _, bin_rows = self.bin_rows_arrays()
            result = {"method": "exact", "distinct": n, "bins_used": len(per_bin),
                      "colliding": colliding, "collision_rate": rate}
            result.update(occupancy(bin_rows))
            sizes = {t: smallest_round_num_bins(self.keys, t) for t in targets}
        else:
            result = self._sampled_figures()
            n = result["distinct"]
            sizes = {t: smallest_round_num_bins_expected(n, t) for t in targets}
        result["num_bins"] = self.num_bins
        result["exact_limit"] = self.exact_limit
        result["expected_collision_rate"] = expected_collision_rate(n, self.num_bins)
        if targets:
            result["smallest_num_bins"] = {f"{t:g}": size for t, size in sizes.items()}
        return result

    def _sampled_figures(self) -> dict:
        n, error = self.sample.distinct()
        rate = expected_collision_rate(n, self.num_bins)
        result = {"method": f"sample (bottom-{SAMPLE_KEYS} of the keys; distinct keys "
                            f"with a relative standard error of {error:.2%}; "
                            "collision rate from the random-hash model)",
                  "distinct": round(n), "distinct_relative_error": error,
                  "distinct_bounds": [round(n * (1 - SKETCH_STDDEVS * error)),
                                      round(n * (1 + SKETCH_STDDEVS * error))],
                  "colliding": round(rate * n), "collision_rate": rate}
        _, bin_rows = self.bin_rows_arrays()
        if self.bin_rows is not None:
            result["bins_used"] = len(bin_rows)
            result.update(occupancy(bin_rows))
            return result
        used, used_error = self.bin_sample.distinct()
        figures = occupancy(bin_rows)
        low, high = self.heavy.max_bounds()
        low = max(low, figures["rows_per_bin"]["max"])
        figures["rows"] = int(self.ranges.sum())
        figures["rows_per_bin"]["max"] = low
        result.update(figures, bins_used=round(used), bins_used_relative_error=used_error,
                      rows_per_bin_max_bounds=[low, max(low, high)])
        result["method"] += (f"; bins from a bottom-{SAMPLE_BINS} sample, the maximum "
                             f"from the {HEAVY_BINS} busiest")
        return result

    def occupancy_curve(self, points: int = 400) -> list[list[int]]:
        """[rank, rows] of the used bins, busiest first, thinned to about `points` (for plots).

        From a sample of the bins each rank is scaled by the sample's share."""
        _, bin_rows = self.bin_rows_arrays()
        ordered = np.sort(bin_rows)[::-1]
        scale = 1.0 / self.bin_sample.share() if self.bin_sample is not None else 1.0
        ranks = np.arange(len(ordered))
        if len(ordered) > points:
            ranks = np.unique(np.geomspace(1, len(ordered), points).astype(int) - 1)
        # np.round rounds halves to even, as round() does
        shown = np.maximum(1, np.round((ranks + 1).astype(np.float64) * scale)).astype(np.int64)
        return np.stack([shown, ordered[ranks].astype(np.int64)], axis=1).tolist()


def occupancy(bin_rows: np.ndarray) -> dict:
    """Rows per bin over the bins in use: max, median and 99th percentile."""
    if not len(bin_rows):
        return {"rows": 0, "rows_per_bin": {"max": 0, "p50": 0, "p99": 0}}
    p50, p99 = np.percentile(bin_rows, [50, 99], method="lower")
    return {"rows": int(bin_rows.sum()),
            "rows_per_bin": {"max": int(bin_rows.max()), "p50": int(p50), "p99": int(p99)}}
