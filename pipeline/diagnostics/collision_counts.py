"""The Beam side of the combination counts: per-batch keys, merged per feature.

The transform step hands every batch (raw and transformed) to
`combinations.BatchCombinations`, which fingerprints each hashed feature's
values with NumPy and groups them into distinct keys with their bin and row
count; `CountCollisions` merges those across the job (`collisions.KeyCounts`)
and writes into the output directory the collision figures
(`collisions.json`, for `manifest.json` and `report/`) and, while counted
exactly, the distinct keys themselves (`combinations.npz`, for the drift
baseline). One fingerprint pass serves both (docs/outputs.md "Collision report",
docs/running.md "Drift against the frozen analysis").
"""

from __future__ import annotations

import io
import json
import os
from typing import Iterable

import apache_beam as beam
import numpy as np

from pipeline.diagnostics.collisions import EXACT_LIMIT, KeyCounts
from pipeline.io.layout import COLLISIONS_FILE, COMBINATIONS_FILE
from pipeline.io.side_files import take_json

COLLISIONS_TAG = "collisions"


def merge_by_name(accumulators: Iterable[dict]) -> dict:
    """Per-name counts merged: the first of each name absorbs the others (`.merge`)."""
    merged: dict = {}
    for accumulator in accumulators:
        for name, counts in accumulator.items():
            if name in merged:
                merged[name].merge(counts)
            else:
                merged[name] = counts
    return merged


class MergeKeyCounts(beam.CombineFn):
    """Per-batch summaries in; one `KeyCounts` per feature out."""

    def __init__(self, *, exact_limit: int = EXACT_LIMIT) -> None:
        self.exact_limit = exact_limit

    def create_accumulator(self) -> dict[str, KeyCounts]:
        return {}

    def add_input(self, accumulator: dict, summary: dict) -> dict:
        for name, (keys, bins, rows, num_bins) in summary.items():
            if name not in accumulator:
                accumulator[name] = KeyCounts(num_bins, exact_limit=self.exact_limit)
            accumulator[name].add(keys, bins, rows)
        return accumulator

    def merge_accumulators(self, accumulators: Iterable[dict]) -> dict:
        return merge_by_name(accumulators)

    def extract_output(self, accumulator: dict) -> dict[str, KeyCounts]:
        return accumulator


class CountCollisions(beam.PTransform):
    """Per-batch summaries in; `collisions.json` and `combinations.npz` in `output_dir` out.

    `targets`: collision rates to find the smallest round num_bins for.
    """

    def __init__(self, output_dir: str, *, exact_limit: int = EXACT_LIMIT,
                 targets: tuple[float, ...] = ()) -> None:
        super().__init__()
        self.combine = MergeKeyCounts(exact_limit=exact_limit)
        self.output_dir = output_dir
        self.targets = targets

    def expand(self, summaries):
        return (summaries
                | "MergeKeyCounts" >> beam.CombineGlobally(self.combine)
                | "WriteCounts" >> beam.Map(write_counts, self.output_dir, self.targets))


def write_counts(merged: dict[str, KeyCounts], output_dir: str,
                 targets: tuple[float, ...] = ()) -> None:
    """The figures as JSON; the exactly counted keys (sorted), bins and rows as arrays."""
    import tensorflow as tf
    figures = {name: {**counts.figures(targets=targets),
                      "occupancy_curve": counts.occupancy_curve()}
               for name, counts in merged.items()}
    with tf.io.gfile.GFile(os.path.join(output_dir, COLLISIONS_FILE), "w") as handle:
        json.dump(figures, handle)
    arrays = {}
    for name, counts in merged.items():
        if counts.exact:
            order = np.argsort(counts.keys)
            arrays.update({f"{name}/keys": counts.keys[order], f"{name}/bins": counts.bins[order],
                           f"{name}/rows": counts.rows[order]})
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    with tf.io.gfile.GFile(os.path.join(output_dir, COMBINATIONS_FILE), "wb") as handle:
        handle.write(buffer.getvalue())


def read_collisions(output_dir: str) -> dict | None:
    """Reads and removes the figures the pipeline left in `output_dir` (None if none)."""
    return take_json(os.path.join(output_dir, COLLISIONS_FILE), missing=None)


def read_combinations(output_dir: str, collisions: dict | None) -> dict[str, dict]:
    """Reads and removes the keys the pipeline left: per hashed feature, what drift needs.

    An exactly counted feature has its sorted distinct keys (`keys`), their rows
    (`key_rows`) and rows per bin (`bin_rows`); a sketched one only `exact: False`.
    `num_bins` is the one the graph used (an auto cross's, as the analysis chose it).
    """
    import tensorflow as tf
    path = os.path.join(output_dir, COMBINATIONS_FILE)
    if collisions is None or not tf.io.gfile.exists(path):
        return {}
    with tf.io.gfile.GFile(path, "rb") as handle:
        arrays = dict(np.load(io.BytesIO(handle.read())))
    tf.io.gfile.remove(path)
    found: dict[str, dict] = {}
    for name, figures in collisions.items():
        if figures["method"] != "exact":
            found[name] = {"exact": False, "num_bins": figures["num_bins"]}
            continue
        bins, rows = arrays[f"{name}/bins"], arrays[f"{name}/rows"]
        used, codes = np.unique(bins, return_inverse=True)
        bin_rows = np.bincount(codes, weights=rows, minlength=len(used)).astype(np.int64)
        found[name] = {"exact": True, "num_bins": figures["num_bins"],
                       "distinct": figures["distinct"],
                       "bins_used": figures["bins_used"],
                       "collision_rate": figures["collision_rate"], "rows": figures["rows"],
                       "keys": arrays[f"{name}/keys"], "key_rows": rows,
                       "bin_rows": dict(zip(used.tolist(), bin_rows.tolist()))}
    return found
