"""Drift of a transform-only run's data against the frozen analysis run: the math.

An analysis run keeps a baseline of what its data looked like through the
graph it froze (docs/running.md "Drift against the frozen analysis"); every later
transform-only run measures the same on its own data and compares:

- hashed features (cross, hash): the unseen rate, the share of today's
  values whose raw combination never occurred at analysis time, from
  bottom-k samples of the distinct combinations' 64-bit fingerprints (the
  same hash-chosen ones on both days: exact while both samples hold every
  key, else a ratio estimate with its standard error); the collision rate
  then and now; the shift in bin shares, over at most 1,024 contiguous bin
  ranges;
- bucketized features: the shift in bucket shares, and the rows in the first
  and the last bucket (values below the lowest or above the highest boundary
  land there);
- categorical inputs: their top values then and now (shown, not gated).

A shift is measured by the population stability index (PSI) and the total
variation distance on row counts. Two samples of the same distribution
still differ by chance, by about chi-square(k - 1) * (1/n + 1/m) in PSI for
k categories and n, m rows, so a PSI only counts as drift above the larger
of the configured `max_psi` and that noise level's 99th percentile.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np

from pipeline.config import DriftThresholds
from pipeline.diagnostics.samples import ALL, mix64

PSI_SMOOTHING = 0.5     # pseudo-rows added to every category before taking logs
NOISE_QUANTILE_Z = 2.3263  # the standard normal's 99th percentile


def shares(counts: np.ndarray) -> np.ndarray:
    total = counts.sum()
    return counts / total if total else np.zeros(len(counts))


def aligned(first: Mapping[int, int] | np.ndarray,
            second: Mapping[int, int] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two count vectors over the categories either one has."""
    first, second = _as_mapping(first), _as_mapping(second)
    categories = sorted(set(first) | set(second))
    return (np.array([first.get(c, 0) for c in categories], dtype=np.float64),
            np.array([second.get(c, 0) for c in categories], dtype=np.float64))


def _as_mapping(counts) -> dict[int, int]:
    if isinstance(counts, Mapping):
        return {int(k): int(v) for k, v in counts.items() if v}
    counts = np.asarray(counts)
    used = np.flatnonzero(counts)
    return dict(zip(used.tolist(), counts[used].tolist()))


def psi(then: np.ndarray, now: np.ndarray) -> float:
    """Population stability index, sum (q - p) ln(q / p), on smoothed shares."""
    p = (then + PSI_SMOOTHING) / (then.sum() + PSI_SMOOTHING * len(then))
    q = (now + PSI_SMOOTHING) / (now.sum() + PSI_SMOOTHING * len(now))
    return float(np.sum((q - p) * np.log(q / p)))


def total_variation(then: np.ndarray, now: np.ndarray) -> float:
    return float(0.5 * np.abs(shares(then) - shares(now)).sum())


def psi_noise_level(categories: int, rows_then: int, rows_now: int) -> float:
    """The PSI two equal distributions exceed 1% of the time at these sample sizes.

    chi-square(k - 1) quantile by the Wilson-Hilferty approximation, times 1/n + 1/m.
    """
    freedom = categories - 1
    if freedom < 1 or not rows_then or not rows_now:
        return 0.0
    term = 2.0 / (9.0 * freedom)
    quantile = freedom * (1.0 - term + NOISE_QUANTILE_Z * math.sqrt(term)) ** 3
    return quantile * (1.0 / rows_then + 1.0 / rows_now)


def share_shift(then, now, max_psi: float) -> dict[str, Any]:
    """PSI, total variation and the sample-size-aware threshold between two count sets."""
    first, second = aligned(then, now)
    noise = psi_noise_level(len(first), int(first.sum()), int(second.sum()))
    value = psi(first, second) if len(first) else 0.0
    return {"psi": value, "total_variation": total_variation(first, second),
            "categories": len(first), "psi_noise_p99": noise,
            "psi_threshold": max(max_psi, noise)}


def unseen(baseline_keys: np.ndarray | None, keys: np.ndarray,
           key_rows: np.ndarray) -> dict[str, Any]:
    """Rows (values) and distinct combinations of today that the baseline never saw."""
    if baseline_keys is None:
        return {"unseen_rate": None, "unseen_rows": None, "unseen_distinct": None}
    new = ~np.isin(keys, baseline_keys, assume_unique=True)
    rows = int(key_rows.sum())
    unseen_rows = int(key_rows[new].sum())
    return {"unseen_rate": unseen_rows / rows if rows else 0.0, "unseen_rows": unseen_rows,
            "unseen_distinct": int(new.sum())}


def sampled_unseen(then: Mapping[str, Any], now: Mapping[str, Any]) -> dict[str, Any]:
    """`unseen` over bottom-k samples, with the standard error of the rate.

    Both samples hold every key whose mix is at or below their threshold, so
    today's keys at or below the smaller threshold (the window) are a uniform
    sample of today's distinct keys, each known to be seen or not. The rate is
    the unseen share of their rows (a ratio estimator); it is exact, with
    error 0, when the window holds every key (docs/running.md "Drift against
    the frozen analysis").
    """
    window = min(then.get("threshold", ALL), now.get("threshold", ALL))
    keys, key_rows = now["keys"], np.asarray(now["key_rows"], dtype=np.int64)
    if window == ALL:
        return {**unseen(then["keys"], keys, key_rows), "unseen_rate_error": 0.0,
                "unseen_method": "exact"}
    inside = mix64(keys) <= window
    keys, key_rows = keys[inside], key_rows[inside]
    baseline = then["keys"][mix64(then["keys"]) <= window]
    figures = unseen(baseline, keys, key_rows)
    share = (float(window) + 1.0) / 2.0**64
    n, rate = len(keys), figures["unseen_rate"]
    error = 0.0
    if n > 1 and key_rows.sum():
        new = ~np.isin(keys, baseline, assume_unique=True)
        residual = key_rows * new - rate * key_rows
        mean = key_rows.mean()
        error = math.sqrt(max(0.0, 1.0 - share) * float((residual ** 2).sum())
                          / (n - 1) / n) / mean
    total = now.get("rows") or int(key_rows.sum())
    return {"unseen_rate": rate, "unseen_rows": round(rate * total),
            "unseen_distinct": round(figures["unseen_distinct"] / share),
            "unseen_rate_error": error,
            "unseen_method": f"sample ({n:,} of today's distinct keys in both samples)"}


def compare_feature(name: str, kind: str, then: Mapping[str, Any], now: Mapping[str, Any],
                    thresholds: Mapping[str, float]) -> dict[str, Any]:
    """Every drift figure of one feature, and the thresholds it crossed.

    `then` and `now` are `drift_baseline.summaries()` entries: for hashed
    features `keys` (a bottom-k sample of the distinct fingerprints, every
    one up to `threshold`, which is `samples.ALL` when it holds them all),
    `key_rows`, `range_rows` (or `bin_rows`), `collision_rate`; for bucketized
    ones `bucket_rows`.
    """
    row: dict[str, Any] = {"feature": name, "kind": kind}
    crossed = []
    if kind == "hashed":
        figures = (sampled_unseen(then, now)
                   if now.get("keys") is not None and then.get("keys") is not None
                   else unseen(None, None, None))
        row.update(figures)
        row.update(collision_rate_then=then["collision_rate"],
                   collision_rate_now=now["collision_rate"],
                   collision_rate_change=(None if None in (now["collision_rate"],
                                                           then["collision_rate"])
                                          else now["collision_rate"] - then["collision_rate"]),
                   distinct_then=then["distinct"], distinct_now=now["distinct"])
        then_bins, now_bins = (_bin_rows(then), _bin_rows(now))
        row["bin_shift"] = (share_shift(then_bins, now_bins, thresholds["max_psi"])
                            if then_bins is not None and now_bins is not None else None)
        limit = thresholds["max_unseen_rate"]
        row["max_unseen_rate"] = limit
        if figures["unseen_rate"] is not None and figures["unseen_rate"] > limit:
            crossed.append(("unseen_rate", figures["unseen_rate"], limit))
        shift = row["bin_shift"]
        if shift is not None and shift["psi"] > shift["psi_threshold"]:
            crossed.append(("bin_psi", shift["psi"], shift["psi_threshold"]))
    else:
        then_rows = np.asarray(then["bucket_rows"], dtype=np.int64)
        now_rows = np.asarray(now["bucket_rows"], dtype=np.int64)
        width = max(len(then_rows), len(now_rows))
        then_rows, now_rows = (np.pad(r, (0, width - len(r))) for r in (then_rows, now_rows))
        row["bucket_shift"] = share_shift(then_rows, now_rows, thresholds["max_psi"])
        row["edge_buckets"] = {
            "first_rows_then": int(then_rows[0]), "first_rows_now": int(now_rows[0]),
            "last_rows_then": int(then_rows[-1]), "last_rows_now": int(now_rows[-1]),
            "first_share_then": float(shares(then_rows)[0]),
            "first_share_now": float(shares(now_rows)[0]),
            "last_share_then": float(shares(then_rows)[-1]),
            "last_share_now": float(shares(now_rows)[-1])}
        shift = row["bucket_shift"]
        if shift["psi"] > shift["psi_threshold"]:
            crossed.append(("bucket_psi", shift["psi"], shift["psi_threshold"]))
    row["max_psi"] = thresholds["max_psi"]
    row["crossed"] = [{"figure": figure, "value": value, "threshold": limit}
                      for figure, value, limit in crossed]
    return row


def _bin_rows(summary: Mapping[str, Any]):
    """Rows per bin range (`range_rows`), or per bin (`bin_rows`), or None."""
    found = summary.get("range_rows")
    return summary.get("bin_rows") if found is None else found


def compare(baseline: Mapping[str, Any], today: Mapping[str, Any],
            thresholds: DriftThresholds, *, gate: bool) -> dict[str, Any]:
    """The manifest's `drift` section: every figure per feature, and what crossed.

    `baseline` and `today` are `pipeline.diagnostics.drift_baseline.summaries()` of the two runs.
    """
    then, now = baseline["features"], today["features"]
    rows = [compare_feature(name, now[name]["kind"], then[name], now[name],
                            thresholds.for_feature(name))
            for name in now if name in then]
    crossings = [{"feature": row["feature"], **crossing}
                 for row in rows for crossing in row["crossed"]]
    inputs = {name: {"top_values_then": baseline["inputs"].get(name, {}).get("top_values", []),
                     "top_values_now": entry["top_values"]}
              for name, entry in today["inputs"].items()}
    return {"features": rows, "inputs": inputs, "crossings": crossings, "gate": gate,
            "status": "drift" if crossings else "within thresholds"}


def crossing_text(crossing: Mapping[str, Any]) -> str:
    return (f"{crossing['feature']}: {crossing['figure']} {crossing['value']:.4g} > "
            f"threshold {crossing['threshold']:.4g}")
