"""Per-column statistics of the written outputs, for manifest.json.

Computed on the output record batches as they are written (vectorized
pyarrow per batch, then merged), so the manifest shows what the data holds
without a second pass: rows with no value, value counts, min, max, mean.
Batch sums are added exactly (as fractions), so the mean does not depend on
the order in which workers merge them: reruns write the same manifest.
"""

from __future__ import annotations

import functools
import os
from fractions import Fraction

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.io.layout import STATS_FILE
from pipeline.io.side_files import take_json, write_json


def batch_stats(batch: pa.RecordBatch) -> dict[str, dict]:
    """Stats of each list-layout column of one output batch."""
    stats = {}
    for name, column in zip(batch.schema.names, batch.columns):
        lengths = pc.list_value_length(column).fill_null(0).to_numpy()
        values = pc.list_flatten(column)
        entry = {"rows": len(column), "empty_rows": int(np.count_nonzero(lengths == 0)),
                 "values": len(values)}
        if (pa.types.is_integer(values.type) or pa.types.is_floating(values.type)) and len(values):
            numbers = values.to_numpy(zero_copy_only=False)
            # NaN and inf are legal float values; the manifest writes them as null with a note.
            with np.errstate(invalid="ignore", over="ignore"):
                entry.update(min=numbers.min().item(), max=numbers.max().item(),
                             sum=float(np.sum(numbers, dtype=np.float64)))
        stats[name] = entry
    return stats


def merge_stats(first: dict[str, dict], second: dict[str, dict]) -> dict[str, dict]:
    merged = dict(first)
    for name, theirs in second.items():
        mine = merged.get(name)
        if mine is None:
            merged[name] = dict(theirs)
            continue
        combined = {key: mine[key] + theirs[key] for key in ("rows", "empty_rows", "values")}
        if "min" in mine and "min" in theirs:
            combined.update(min=min(mine["min"], theirs["min"]),
                            max=max(mine["max"], theirs["max"]),
                            sum=_exact_sum(mine["sum"], theirs["sum"]))
        else:
            combined.update({k: v for k, v in {**mine, **theirs}.items()
                             if k in ("min", "max", "sum")})
        merged[name] = combined
    return merged


def _exact_sum(first: float | Fraction, second: float | Fraction) -> float | Fraction:
    try:
        return Fraction(first) + Fraction(second)
    except (ValueError, OverflowError):  # NaN or infinity: no exact sum to keep
        return float(first) + float(second)


class MergeStats(beam.CombineFn):
    def create_accumulator(self) -> dict:
        return {}

    def add_input(self, accumulator: dict, batch_summary: dict) -> dict:
        return merge_stats(accumulator, batch_summary)

    def merge_accumulators(self, accumulators) -> dict:
        return functools.reduce(merge_stats, accumulators, {})

    def extract_output(self, accumulator: dict) -> dict:
        for entry in accumulator.values():
            total = entry.pop("sum", None)
            if total is not None and entry["values"]:
                entry["mean"] = float(_exact_sum(total, 0) / entry["values"])
        return accumulator


class WriteFeatureStats(beam.PTransform):
    """Output batches in; `feature_stats.json` in `output_dir` out."""

    def __init__(self, output_dir: str) -> None:
        super().__init__()
        self.path = os.path.join(output_dir, STATS_FILE)

    def expand(self, batches):
        return (batches
                | "SummarizeBatches" >> beam.Map(batch_stats)
                | "MergeSummaries" >> beam.CombineGlobally(MergeStats())
                | "WriteStatsFile" >> beam.Map(write_json, self.path))


def read_feature_stats(output_dir: str) -> dict:
    """Reads and removes the stats file the pipeline left in `output_dir`."""
    stats = take_json(os.path.join(output_dir, STATS_FILE))
    return stats
