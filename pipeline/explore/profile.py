"""`featurecross profile`: what the data holds, before choosing num_bins.

A Beam pipeline (so it runs where `run` runs) over the config's input:
per categorical input column (string and int columns of the schema) its
cardinality, null share and top values; per cross and hash the exact
collision figures at its num_bins and the smallest round num_bins for 1%,
5% and `--max-collision-rate` (docs/outputs.md "Profile"). The crosses are computed
by the config's own transform graph, analysed on the same data, so crosses
over bucketized or hashed features are profiled as `run` would build them.
Nothing is written but the figures.

The distinct counts live within the diagnostics' memory budget, as `run`'s do
(`budget.DiagnosticsBudget`): shared equally by the columns and the hashed
features, each counted exactly up to its share and estimated from a bounded
sample above it, and each merged on its own (`CombinePerKey`), so no
accumulator grows with columns x distinct values.
"""

from __future__ import annotations

import json
import os
import tempfile

import apache_beam as beam
import numpy as np
import pyarrow as pa
import tensorflow as tf
from apache_beam.options.pipeline_options import GoogleCloudOptions, PipelineOptions

from pipeline.config import Config
from pipeline.config.model import CATEGORICAL_TYPES
from pipeline.diagnostics.auto_bins import read_choices
from pipeline.diagnostics.budget import SAMPLE_KEYS, DiagnosticsBudget
from pipeline.diagnostics.collision_counts import (
    COLLISIONS_TAG,
    CountCollisions,
    read_collisions,
)
from pipeline.diagnostics.collisions import SKETCH_STDDEVS, KeyCounts, merged
from pipeline.diagnostics.fingerprints import ListColumn, hashed_features
from pipeline.io.layout import TEMP_DIR_NAME
from pipeline.io.rows import RawBatch
from pipeline.io.side_files import write_json
from pipeline.io.sources import ReadRawBatches
from pipeline.job.builder import AnalyzeAndWriteTransformFn
from pipeline.job.run import JobError, check_input, pipeline_counters
from pipeline.job.steps import INVALID_TAG, CheckRows, TransformBatches

DEFAULT_TARGETS = (0.01, 0.05)
TOP_VALUES = 5
TOP_LG_K = 14          # frequent-items sketch: exact counts below ~12,000 distinct values
INPUTS_FILE = "inputs.json"
NULLS_FILE = "nulls.json"


def categorical_columns(config: Config) -> list[str]:
    return [c.name for c in config.schema.values() if c.type in CATEGORICAL_TYPES]


def profile_budget(config: Config) -> DiagnosticsBudget:
    """The config's budget (after any --diagnostics-memory-mb), shared by every distinct
    count profile holds at once: one per categorical column and one per hashed feature."""
    return DiagnosticsBudget(config.diagnostics_memory_mb,
                             len(categorical_columns(config)) + len(hashed_features(config)))


def describe_budget(config: Config, budget: DiagnosticsBudget) -> dict:
    """What the figures say about the budget (`budget` in --json)."""
    return {"memory_budget_mb": budget.memory_mb,
            "columns": len(categorical_columns(config)),
            "hashed_features": len(hashed_features(config)),
            "exact_limit": budget.exact_limit, "sample_keys": SAMPLE_KEYS}


class ColumnValues:
    """Mergeable distinct count and top values of one column."""

    def __init__(self, exact_limit: int) -> None:
        from datasketches import frequent_strings_sketch
        self.distinct = KeyCounts(2, exact_limit=exact_limit)
        self.top = frequent_strings_sketch(TOP_LG_K)
        self.values = 0

    def add(self, keys: np.ndarray, names: list[str], counts: np.ndarray) -> None:
        self.distinct.add(keys, np.zeros(len(keys), np.uint64), counts)
        for name, count in zip(names, counts.tolist()):
            self.top.update(name, count)
        self.values += int(counts.sum())

    def merge(self, other: "ColumnValues") -> None:
        self.distinct.merge(other.distinct)
        self.top.merge(other.top)
        self.values += other.values

    def __getstate__(self) -> dict:
        return {**self.__dict__, "top": self.top.serialize()}

    def __setstate__(self, state: dict) -> None:
        from datasketches import frequent_strings_sketch
        state["top"] = frequent_strings_sketch.deserialize(state["top"])
        self.__dict__.update(state)

    def figures(self) -> dict:
        from datasketches import frequent_items_error_type
        counts = self.distinct
        estimate, error = counts.distinct()
        items = self.top.get_frequent_items(frequent_items_error_type.NO_FALSE_NEGATIVES)
        top = sorted(items, key=lambda item: (-item[1], item[0]))[:TOP_VALUES]
        exact_top = all(low == high for _, _, low, high in top)
        figures = {"distinct": round(estimate),
                   "distinct_method": "exact" if counts.exact else "sample",
                   "exact_limit": counts.exact_limit}
        if not counts.exact:  # the same error and bounds as a sampled feature's
            figures.update(distinct_relative_error=error,
                           distinct_bounds=[round(estimate * (1 - SKETCH_STDDEVS * error)),
                                            round(estimate * (1 + SKETCH_STDDEVS * error))])
        return {**figures, "values": self.values,
                "top_values": [{"value": value, "count": count,
                                "share": count / self.values if self.values else 0.0}
                               for value, count, _, _ in top],
                "top_values_method": "exact" if exact_top else "sketch (frequent items)"}


def batch_values(batch: pa.RecordBatch, columns: list[str]) -> dict[str, tuple]:
    """Per column: distinct value fingerprints, their string form and counts."""
    summary = {}
    for name in columns:
        column = ListColumn(batch.column(name))
        indices, distinct = column.string_form
        dictionary = distinct.to_pylist()
        counts = np.bincount(indices, minlength=len(dictionary)).astype(np.int64)
        names = [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
                 for v in dictionary]
        summary[name] = (column.dictionary_fingerprints, names, counts)
    return summary


class MergeColumnValues(beam.CombineFn):
    """One column's per-batch values in (a `CombinePerKey` by column); its figures out.

    An accumulator holds one column, so a worker holds at most its share of the
    budget per column it merges, and on Dataflow the columns spread over workers.
    """

    def __init__(self, exact_limit: int) -> None:
        self.exact_limit = exact_limit

    def create_accumulator(self) -> ColumnValues:
        return ColumnValues(self.exact_limit)

    def add_input(self, accumulator: ColumnValues, summary: tuple) -> ColumnValues:
        accumulator.add(*summary)
        return accumulator

    def merge_accumulators(self, accumulators) -> ColumnValues:
        return merged(accumulators)

    def extract_output(self, accumulator: ColumnValues) -> dict:
        return accumulator.figures()


def null_counts(raw: RawBatch, columns: list[str]) -> list[tuple[str, int]]:
    """Cells of each column that are null or missing in the raw batch, and its rows."""
    rows = raw.batch.num_rows
    names = raw.batch.schema.names
    counts = [(name, raw.batch.column(name).null_count if name in names else rows)
              for name in columns]
    return counts + [("", rows)]


class ProfileInputs(beam.PTransform):
    """Raw batches and (position, clean batch) in; inputs.json and nulls.json out."""

    def __init__(self, columns: list[str], work_dir: str, exact_limit: int) -> None:
        super().__init__()
        self.columns = columns
        self.work_dir = work_dir
        self.exact_limit = exact_limit

    def expand(self, batches):
        raw, clean = batches
        _ = (raw
             | "CountNulls" >> beam.FlatMap(null_counts, self.columns)
             | "SumNulls" >> beam.CombinePerKey(sum)
             | "NullsToDict" >> beam.combiners.ToDict()
             | "WriteNulls" >> beam.Map(write_json, os.path.join(self.work_dir, NULLS_FILE)))
        return (clean
                | "CountValues" >> beam.FlatMap(lambda element, columns: batch_values(
                    element[1], columns).items(), self.columns)
                | "MergeValuesPerColumn" >> beam.CombinePerKey(
                    MergeColumnValues(self.exact_limit))
                | "ValuesToDict" >> beam.combiners.ToDict()
                | "WriteInputs" >> beam.Map(write_json,
                                            os.path.join(self.work_dir, INPUTS_FILE)))


def _read_json(path: str):
    with tf.io.gfile.GFile(path) as handle:
        return json.load(handle)


def build_profile_pipeline(config: Config, options: PipelineOptions, *, work_dir: str,
                           targets: tuple[float, ...]) -> beam.Pipeline:
    """read -> check -> (analyze -> transform -> collision figures) and input figures,
    every distinct count within `profile_budget(config)`."""
    budget = profile_budget(config)
    pipeline = beam.Pipeline(options=options)
    ready = pipeline | "AnalyzeAndWriteTransformFn" >> AnalyzeAndWriteTransformFn(
        config, output_dir=work_dir, temp_dir=os.path.join(work_dir, TEMP_DIR_NAME),
        quarantine=True, exact_limit=budget.exact_limit)
    raw = pipeline | "ReadInput" >> ReadRawBatches(config)
    checked = raw | "CheckRows" >> beam.ParDo(
        CheckRows(config, quarantine=True, report=True)).with_outputs(INVALID_TAG, main="valid")
    _ = (raw, checked.valid) | "ProfileInputs" >> ProfileInputs(
        categorical_columns(config), work_dir, budget.exact_limit)
    if hashed_features(config):
        keys = checked.valid | "TransformBatches" >> beam.ParDo(
            TransformBatches(config, work_dir, count_combinations=True),
            ready=beam.pvalue.AsSingleton(ready)).with_outputs(COLLISIONS_TAG,
                                                               main="transformed")
        _ = keys[COLLISIONS_TAG] | "CountCollisions" >> CountCollisions(
            work_dir, budget=budget, targets=targets,
            order=[f.name for f in hashed_features(config)])
    return pipeline


def profile_data(config: Config, beam_args: list[str], *,
                 max_collision_rate: float | None = None) -> dict:
    """Runs the profile pipeline and returns its figures (what --json writes), within
    the config's `diagnostics_memory_mb`."""
    check_input(config.input_pattern, config.input_format)
    targets = tuple(sorted({*DEFAULT_TARGETS, *([max_collision_rate]
                                                if max_collision_rate else [])}))
    options = PipelineOptions(beam_args)
    temp_location = options.view_as(GoogleCloudOptions).temp_location
    work_dir = (os.path.join(temp_location, f"featurecross-profile-{os.getpid()}")
                if temp_location else tempfile.mkdtemp(prefix="featurecross-profile-"))
    try:
        pipeline = build_profile_pipeline(config, options, work_dir=work_dir, targets=targets)
        result = pipeline.run()
        result.wait_until_finish()
        counts = pipeline_counters(result)
        nulls = _read_json(os.path.join(work_dir, NULLS_FILE))
        values = _read_json(os.path.join(work_dir, INPUTS_FILE))
        collisions = (read_collisions(work_dir) or {}).get("features", {})
        choices = read_choices(config, work_dir)
    finally:
        if tf.io.gfile.exists(work_dir):
            tf.io.gfile.rmtree(work_dir)
    rows = nulls.pop("", 0)
    inputs = {}
    for name in categorical_columns(config):
        entry = {"type": config.schema[name].type, "shape": config.schema[name].shape,
                 "null_share": nulls.get(name, 0) / rows if rows else 0.0,
                 **values.get(name, {"distinct": 0, "values": 0, "top_values": []})}
        inputs[name] = entry
    features = {}
    for feature in hashed_features(config):
        if feature.name not in collisions:
            continue
        entry = {k: v for k, v in collisions[feature.name].items() if k != "occupancy_curve"}
        entry.update(kind=feature.kind, inputs=list(feature.inputs))
        if feature.name in choices:
            entry["num_bins_auto"] = choices[feature.name]
        features[feature.name] = entry
    if not rows:
        raise JobError(f"no rows in {config.input_pattern}")
    return {"config": config.path, "input_pattern": config.input_pattern,
            "rows": counts.get("rows_read", rows),
            "rows_skipped_invalid": counts.get("rows_quarantined", 0),
            "targets": list(targets), "budget": describe_budget(config, profile_budget(config)),
            "inputs": inputs, "features": features}


def profile_text(profile: dict) -> str:
    """The terminal tables."""
    lines = [f"featurecross profile: {profile['config']} on {profile['input_pattern']}",
             f"  {profile['rows']:,} rows ({profile['rows_skipped_invalid']:,} invalid, skipped)",
             "", "categorical inputs:"]
    width = max([len(n) for n in profile["inputs"]] + [6])
    lines.append(f"  {'column':<{width}}  {'type':<6}  {'distinct':>9}  {'null':>6}  top values")
    for name, entry in profile["inputs"].items():
        top = ", ".join(f"{_short(v['value'])} {v['share']:.1%}" for v in entry["top_values"])
        distinct = _estimated(entry) + f"{entry['distinct']:,}"
        lines.append(f"  {name:<{width}}  {entry['type']:<6}  {distinct:>9}  "
                     f"{entry['null_share']:>6.1%}  {top}")
    sampled = [entry for entry in profile["inputs"].values() if _estimated(entry)]
    if sampled:
        budget = profile["budget"]
        lines.append(f"  ~ estimated from a sample (relative standard error "
                     f"{sampled[0]['distinct_relative_error']:.2%}): more than "
                     f"{budget['exact_limit']:,} distinct values, the exact limit per column "
                     f"of a {budget['memory_budget_mb']:,} MB memory budget")
    if profile["features"]:
        targets = profile["targets"]
        width = max(len(n) for n in profile["features"])
        lines += ["", "hashed features (collision rate: share of distinct keys sharing a bin):",
                  f"  {'feature':<{width}}  {'num_bins':>13}  {'distinct':>9}  {'collision':>9}  "
                  f"{'expected':>8}  " + "  ".join(f"{'bins@' + f'{t:g}':>12}" for t in targets)]
        for name, entry in profile["features"].items():
            sizes = entry.get("smallest_num_bins", {})
            num_bins = f"{entry['num_bins']:,}" + (" auto" if "num_bins_auto" in entry else "")
            lines.append(
                f"  {name:<{width}}  {num_bins:>13}  {entry['distinct']:>9,}  "
                f"{entry['collision_rate']:>9.2%}  {entry['expected_collision_rate']:>8.2%}  "
                + "  ".join(f"{sizes.get(f'{t:g}', 0):>12,}" for t in targets)
                + ("" if entry["method"] == "exact" else "  (sampled)"))
    return "\n".join(lines)


def _estimated(entry: dict) -> str:
    """"~" before a distinct count estimated from a sample, else nothing."""
    return "~" if entry.get("distinct_method") == "sample" else ""


def _short(value: str, limit: int = 16) -> str:
    if not value:
        return '""'
    return value if len(value) <= limit else value[:limit - 1] + "…"
