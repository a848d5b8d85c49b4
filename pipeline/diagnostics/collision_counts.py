"""The Beam side of the combination counts: per-batch keys, merged per feature.

The transform step hands every batch (raw and transformed) to
`fingerprints.BatchCombinations`, which fingerprints each hashed feature's
values with NumPy into keys with their bin and row count (distinct where
grouping them is cheap). `CountCollisions` keys each batch's summaries by feature and merges
them per feature (`beam.CombinePerKey` over `collisions.KeyCounts`: no
accumulator holds more than one feature, and on Dataflow the features' merges
spread over workers; each bundle pre-combines its own) within the memory
budget (`budget.DiagnosticsBudget`), and writes into the output directory the
collision figures (`collisions.json`, for `manifest.json` and `report/`) and,
per feature, a bounded sample of the keys with rows per bin range
(`combinations.npz`, for the drift baseline). One fingerprint pass serves both
(docs/outputs.md "Collision report", docs/running.md "Drift against the frozen
analysis").
"""

from __future__ import annotations

import io
import os
from typing import Iterable, Sequence

import apache_beam as beam
import numpy as np

from pipeline.diagnostics.budget import DiagnosticsBudget
from pipeline.diagnostics.collisions import KeyCounts
from pipeline.io.layout import COLLISIONS_FILE, COMBINATIONS_FILE
from pipeline.io.side_files import take_json, write_json

COLLISIONS_TAG = "collisions"


class MergeKeyCounts(beam.CombineFn):
    """One feature's per-batch summaries in (a `CombinePerKey` by feature); its
    `KeyCounts` out. `exact_limit` overrides the budget's."""

    def __init__(self, budget: DiagnosticsBudget, *, exact_limit: int | None = None) -> None:
        self.exact_limit = exact_limit or budget.exact_limit
        self.dense_bin_limit = budget.dense_bin_limit

    def create_accumulator(self) -> KeyCounts | None:
        return None  # num_bins comes with the first summary (auto crosses resolve at run time)

    def add_input(self, accumulator: KeyCounts | None, summary: tuple) -> KeyCounts:
        keys, bins, rows, num_bins = summary
        if accumulator is None:
            accumulator = KeyCounts(num_bins, exact_limit=self.exact_limit,
                                    dense_bin_limit=self.dense_bin_limit)
        accumulator.add(keys, bins, rows)
        return accumulator

    def merge_accumulators(self, accumulators: Iterable) -> KeyCounts | None:
        merged = None
        for accumulator in accumulators:
            if accumulator is None:
                continue
            if merged is None:
                merged = accumulator
            else:
                merged.merge(accumulator)
        return merged

    def extract_output(self, accumulator: KeyCounts | None) -> KeyCounts | None:
        return accumulator


def feature_output(merged: tuple[str, KeyCounts], targets: tuple[float, ...]) -> tuple:
    """(name, its figures, its drift sample): small, whatever the feature's size."""
    name, counts = merged
    return (name, {**counts.figures(targets=targets),
                   "occupancy_curve": counts.occupancy_curve()}, counts.drift_sample())


class CountCollisions(beam.PTransform):
    """Per-batch summaries ({feature: summary}) in; `collisions.json` and
    `combinations.npz` in `output_dir` out. Each summary is split by feature
    and merged per feature.

    `targets`: collision rates to find the smallest round num_bins for;
    `order`: the features' order in the figures (the config's).
    """

    def __init__(self, output_dir: str, *, budget: DiagnosticsBudget | None = None,
                 exact_limit: int | None = None, targets: tuple[float, ...] = (),
                 order: Sequence[str] = ()) -> None:
        super().__init__()
        self.budget = budget or DiagnosticsBudget()
        self.combine = MergeKeyCounts(self.budget, exact_limit=exact_limit)
        self.output_dir = output_dir
        self.targets = targets
        self.order = tuple(order)

    def expand(self, summaries):
        described = {**self.budget.describe(), "exact_limit": self.combine.exact_limit}
        return (summaries
                | "ByFeature" >> beam.FlatMap(dict.items)
                | "MergeKeyCountsPerFeature" >> beam.CombinePerKey(self.combine)
                | "FiguresAndSample" >> beam.Map(feature_output, self.targets)
                | "Gather" >> beam.combiners.ToList()
                | "WriteCounts" >> beam.Map(write_counts, self.output_dir, described,
                                            self.order))


def write_counts(outputs: list[tuple], output_dir: str, budget: dict,
                 order: Sequence[str] = ()) -> None:
    """The figures as JSON (`budget` and `features`); each feature's sample as arrays."""
    import tensorflow as tf
    rank = {name: i for i, name in enumerate(order)}
    outputs = sorted(outputs, key=lambda o: (rank.get(o[0], len(rank)), o[0]))
    figures = {name: entry for name, entry, _ in outputs}
    write_json({"budget": budget, "features": figures}, os.path.join(output_dir, COLLISIONS_FILE))
    arrays = {}
    for name, _, sample in outputs:
        arrays.update({f"{name}/{key}": np.atleast_1d(value) for key, value in sample.items()})
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    with tf.io.gfile.GFile(os.path.join(output_dir, COMBINATIONS_FILE), "wb") as handle:
        handle.write(buffer.getvalue())


def read_collisions(output_dir: str) -> dict | None:
    """Reads and removes the figures the pipeline left in `output_dir` (None if none):
    {"budget": the budget and its limits, "features": per hashed feature}."""
    return take_json(os.path.join(output_dir, COLLISIONS_FILE), missing=None)


def read_combinations(output_dir: str, collisions: dict | None) -> dict[str, dict]:
    """Reads and removes the samples the pipeline left: per hashed feature, what drift needs.

    `collisions`: the per-feature figures. Each feature has a bottom-k sample
    of its distinct keys (`keys`, sorted; every key when `threshold` is
    `samples.ALL`), their rows (`key_rows`), and rows per bin range
    (`range_rows`); `exact` says whether its figures were counted exactly.
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
        found[name] = {"exact": figures["method"] == "exact", "num_bins": figures["num_bins"],
                       "distinct": figures["distinct"], "bins_used": figures["bins_used"],
                       "collision_rate": figures["collision_rate"], "rows": figures["rows"],
                       "rows_per_bin": figures["rows_per_bin"],
                       "keys": arrays[f"{name}/keys"], "key_rows": arrays[f"{name}/key_rows"],
                       "threshold": np.uint64(arrays[f"{name}/threshold"][0]),
                       "range_rows": arrays[f"{name}/range_rows"]}
    return found
