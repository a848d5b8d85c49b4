"""The drift baseline: what an analysis run's data looked like, kept with its graph.

Every run sums up its own data per feature (`summaries`): for hashed
features a bottom-k sample of the distinct combinations (their 64-bit
fingerprints, every one up to the sample's threshold) with their rows,
rows per bin range (at most 1,024 contiguous ranges), and the collision
figures; for bucketized features the rows per bucket; for the categorical
inputs their top values. An analysis run stores its summary as the
baseline: figures in `manifest.json` (`drift_baseline`), arrays in
`OUT/report/drift_baseline.npz` (at most `BASELINE_KEYS` keys per feature, so
its size is bounded: about 40 KB per hashed feature). A transform-only run
carries the frozen run's baseline forward unchanged and compares its own
summary with it (`pipeline.diagnostics.drift`). docs/running.md "Drift
against the frozen analysis".
"""

from __future__ import annotations

import io
import json
import os
from typing import Any, Mapping

import numpy as np
import tensorflow as tf

from pipeline.config import Config
from pipeline.diagnostics.budget import BASELINE_KEYS
from pipeline.diagnostics.drift import compare
from pipeline.diagnostics.drift_counts import top_values
from pipeline.diagnostics.samples import ALL, bottom_k, range_rows
from pipeline.io.layout import BASELINE_FILE, MANIFEST, REPORT_DIR


def summaries(config: Config, *, boundaries: Mapping[str, list[float]],
              combinations: Mapping[str, dict],
              drift_counts: Mapping[str, Any]) -> dict[str, Any]:
    """{"features": {name: summary}, "inputs": {column: top values}} of one run's data.

    `combinations` holds `collision_counts.read_combinations()`: per hashed feature,
    a sample of its distinct keys with their rows, and rows per bin range (empty
    without the collision counts).
    """
    features: dict[str, Any] = {}
    for feature in config.features:
        if feature.name in combinations:
            entry = combinations[feature.name]
            features[feature.name] = {
                "kind": "hashed", "num_bins": entry["num_bins"], "exact": entry["exact"],
                **{k: entry.get(k) for k in ("distinct", "bins_used", "collision_rate",
                                             "rows", "keys", "key_rows", "threshold",
                                             "range_rows")},
                "rows_per_bin": {k: entry["rows_per_bin"][k] for k in ("max", "p50")}}
        elif feature.kind == "bucketize":
            width = len(boundaries.get(feature.name, [])) + 1
            rows = list(drift_counts.get("buckets", {}).get(feature.name, []))
            rows += [0] * (width - len(rows))
            total = sum(rows)
            features[feature.name] = {
                "kind": "bucketized", "bucket_rows": rows, "rows": total,
                "bucket_shares": [r / total if total else 0.0 for r in rows]}
    inputs = {}
    truncated = set(drift_counts.get("truncated", ()))
    for name, counts in drift_counts.get("inputs", {}).items():
        total = sum(counts.values())
        inputs[name] = {"rows": total, "distinct": len(counts),
                        "top_values": top_values(counts, total),
                        "approximate": name in truncated}
    return {"features": features, "inputs": inputs}


_ARRAYS = ("keys", "key_rows", "threshold", "range_rows")


def figures(summary: Mapping[str, Any]) -> dict[str, Any]:
    """The summary without its arrays: what `manifest.json` shows."""
    return {"features": {name: {k: v for k, v in entry.items() if k not in _ARRAYS}
                         for name, entry in summary["features"].items()},
            "inputs": summary["inputs"]}


def save(output_dir: str, summary: Mapping[str, Any]) -> None:
    """Writes the arrays of a summary to `report/drift_baseline.npz`: per hashed
    feature the bottom-`BASELINE_KEYS` of its key sample, their rows, the
    sample's threshold and rows per bin range."""
    arrays = {}
    for name, entry in summary["features"].items():
        if entry["kind"] != "hashed" or entry.get("keys") is None:
            continue
        keys, key_rows, threshold = bottom_k(entry["keys"], entry["key_rows"],
                                             BASELINE_KEYS, entry["threshold"])
        order = np.argsort(keys)
        arrays.update({f"{name}/keys": keys[order], f"{name}/key_rows": key_rows[order],
                       f"{name}/threshold": np.array([threshold], np.uint64),
                       f"{name}/range_rows": np.asarray(entry["range_rows"], np.int64)})
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    report_dir = os.path.join(output_dir, REPORT_DIR)
    tf.io.gfile.makedirs(report_dir)
    with tf.io.gfile.GFile(os.path.join(report_dir, BASELINE_FILE), "wb") as handle:
        handle.write(buffer.getvalue())


def load(run_dir: str) -> dict[str, Any] | None:
    """The baseline a run stored (its own, or the one it carried), or None if it has none.

    A baseline from before the samples (every key, rows per bin) reads as a
    complete sample with its bins grouped into ranges.
    """
    manifest_path = os.path.join(run_dir, MANIFEST)
    arrays_path = os.path.join(run_dir, REPORT_DIR, BASELINE_FILE)
    if not (tf.io.gfile.exists(manifest_path) and tf.io.gfile.exists(arrays_path)):
        return None
    with tf.io.gfile.GFile(manifest_path) as handle:
        stored = json.load(handle).get("drift_baseline")
    if not stored:
        return None
    with tf.io.gfile.GFile(arrays_path, "rb") as handle:
        arrays = dict(np.load(io.BytesIO(handle.read())))
    summary = {"features": {}, "inputs": stored["inputs"]}
    for name, entry in stored["features"].items():
        entry = dict(entry)
        if entry["kind"] == "hashed":
            entry["keys"] = arrays.get(f"{name}/keys")
            entry["key_rows"] = arrays.get(f"{name}/key_rows")
            threshold = arrays.get(f"{name}/threshold")
            entry["threshold"] = ALL if threshold is None else np.uint64(threshold[0])
            entry["range_rows"] = arrays.get(f"{name}/range_rows")
            bins = arrays.get(f"{name}/bins")
            if entry["range_rows"] is None and bins is not None:
                entry["range_rows"] = range_rows(bins, arrays[f"{name}/bin_rows"],
                                                 entry["num_bins"])
        summary["features"][name] = entry
    return summary


def record(config: Config, output_dir: str, today: Mapping[str, Any], *,
           frozen_run: str | None, fail_on_drift: bool) -> tuple[dict | None, dict | None]:
    """Stores or carries the baseline; returns (its figures, the drift section or None).

    An analysis run's own summary becomes the baseline. A transform-only run
    copies the frozen run's baseline (so a chain of daily runs always compares
    with the analysis run) and compares `today` with it.
    """
    if frozen_run is None:
        save(output_dir, today)
        return figures(today), None
    frozen = load(frozen_run)
    if frozen is None:  # a frozen run from before baselines existed
        return None, None
    report_dir = os.path.join(output_dir, REPORT_DIR)
    tf.io.gfile.makedirs(report_dir)
    tf.io.gfile.copy(os.path.join(frozen_run, REPORT_DIR, BASELINE_FILE),
                     os.path.join(report_dir, BASELINE_FILE), overwrite=True)
    section = compare(frozen, today, config.drift, gate=config.drift.gate or fail_on_drift)
    return figures(frozen), section
