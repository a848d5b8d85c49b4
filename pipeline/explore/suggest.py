"""`featurecross suggest --label COL`: which crosses add information about a label.

A candidate cross is worth adding when its combinations tell more about the
label than its inputs do apart: the interaction information
`I(a,b;y) - I(a;y) - I(b;y)` (for k inputs, `I(joint;y) - sum I(part;y)`).
Plug-in estimates from counts reward high-cardinality pairs for overfitting,
so every term here is a held-out estimate: rows alternate between two
halves, conditional label distributions (smoothed toward the label's
marginal) are fitted on one half and scored by cross-entropy on the other,
and the two directions are averaged. A part's information counts as zero
when it is negative held out (it overfits). A pair of noise columns then
scores at or below zero, however many values they have (docs/outputs.md "Suggest").

Candidates: every pair of the schema's scalar string and int columns and
the config's bucketized features, plus the config's own crosses, leaving out
the label and what is derived from it. Counts are gathered by a Beam
pipeline (it runs where `run` runs), exact per (combination, label, half).
"""

from __future__ import annotations

import itertools
import math
import os
import tempfile
from typing import Iterator

import apache_beam as beam
import numpy as np
import pandas as pd
import pyarrow as pa
import tensorflow as tf
from apache_beam.options.pipeline_options import GoogleCloudOptions, PipelineOptions

from pipeline.config import DEFAULT_HASH_KEY, Config
from pipeline.config.model import CATEGORICAL_TYPES
from pipeline.diagnostics.collisions import smallest_round_num_bins
from pipeline.diagnostics.fingerprints import ListColumn, fingerprint_cat64
from pipeline.io.layout import TEMP_DIR_NAME
from pipeline.io.sources import ReadRawBatches
from pipeline.job.builder import AnalyzeAndWriteTransformFn
from pipeline.job.run import check_input
from pipeline.job.steps import CheckRows

SMOOTHING = 4.0          # pseudo-rows pulling each combination toward the label marginal
SUGGEST_RATE = 0.01      # suggested num_bins: the smallest round size at this collision rate
TABLES_FILE = "suggest_tables.pkl"


class LabelError(ValueError):
    """--label names no usable label; the message says what is allowed."""


class NoCandidatesError(ValueError):
    """Nothing to rank: the schema has too few categorical inputs."""


def label_source(config: Config, label: str) -> str:
    """'column' or 'feature' (a bucketize feature); raises LabelError otherwise."""
    if label in config.schema:
        column = config.schema[label]
        if column.is_sequence or column.type == "float":
            kind = "a sequence column" if column.is_sequence else "a float column"
            buckets = [f.name for f in config.features
                       if f.kind == "bucketize" and f.inputs == (label,)]
            hint = (f" Use its bucketized feature: --label {buckets[0]}." if buckets else
                    " Bucketize it in the config and pass that feature's name.")
            raise LabelError(f"--label {label}: is {kind}; a label must be categorical "
                             f"(a string, int or bool column, or a bucketize feature).{hint}")
        return "column"
    feature = next((f for f in config.features if f.name == label), None)
    if feature is not None and feature.kind == "bucketize" and feature.output == "int":
        return "feature"
    allowed = [c.name for c in config.schema.values()
               if c.type in CATEGORICAL_TYPES and not c.is_sequence]
    allowed += [f.name for f in config.features if f.kind == "bucketize" and f.output == "int"]
    what = ("is a feature that is not a bucketization (output int)" if feature is not None
            else "is neither a column of the schema nor a feature of the config")
    raise LabelError(f"--label {label}: {what}. Allowed: {', '.join(allowed)}.")


def candidates(config: Config, label: str) -> list[tuple[str, ...]]:
    """Input tuples to rank: pairs of categorical inputs, then the config's crosses."""
    derived = {label}
    if label in config.schema:
        derived |= {f.name for f in config.features if label in f.inputs}
    else:
        derived |= set(next(f for f in config.features if f.name == label).inputs)
    inputs = [c.name for c in config.schema.values()
              if c.type in CATEGORICAL_TYPES and not c.is_sequence and c.name not in derived]
    inputs += [f.name for f in config.features
               if f.kind == "bucketize" and f.output == "int" and f.name not in derived]
    found = list(itertools.combinations(inputs, 2))
    usable = set(inputs) | {f.name for f in config.features
                            if f.kind == "hash" and f.output == "int" and not f.is_sequence}
    for feature in config.features:
        if (feature.kind == "cross" and feature.inputs not in found
                and all(name in usable for name in feature.inputs)):
            found.append(feature.inputs)
    if not found:
        raise NoCandidatesError(
            f"no candidate crosses in {config.path}: suggest needs at least two scalar string "
            f"or int columns or bucketized features besides the label {label!r}")
    return found


class CountCombinations(beam.DoFn):
    """Clean batches in; per candidate, counts of (input keys, label, half) out.

    Keys are each input's 64-bit hash as TF's cross takes it (Fingerprint64
    of a string, an int's bits), so a candidate's cross fingerprints, and
    from them its suggested num_bins, are exact.
    """

    def __init__(self, config: Config, label: str, candidates: list[tuple[str, ...]],
                 transform_output_dir: str) -> None:
        self.config = config
        self.label = label
        self.candidates = candidates
        self.transform_output_dir = transform_output_dir
        self.transformer = None

    def process(self, batch: pa.RecordBatch, ready=None) -> Iterator[tuple]:
        names = {self.label, *itertools.chain.from_iterable(self.candidates)}
        transformed = None
        if any(name not in self.config.schema for name in names):
            if self.transformer is None:
                from pipeline.transform.batch_transformer import BatchTransformer
                self.transformer = BatchTransformer(self.config, self.transform_output_dir)
            transformed = self.transformer(batch)
        keys = {name: ListColumn((batch if name in self.config.schema else transformed)
                                 .column(name)).fingerprints for name in names}
        half = np.arange(batch.num_rows, dtype=np.int64) % 2
        for candidate in self.candidates:
            frame = pd.DataFrame({**{f"k{i}": keys[n] for i, n in enumerate(candidate)},
                                  "y": keys[self.label], "half": half})
            counts = frame.groupby(list(frame.columns), sort=False).size()
            yield candidate, counts.rename("count").reset_index()


def merge_tables(tables) -> pd.DataFrame:
    tables = list(tables)
    frame = pd.concat(tables, ignore_index=True)
    keys = [c for c in frame.columns if c != "count"]
    return frame.groupby(keys, sort=False)["count"].sum().reset_index()


def _cross_entropy(table: pd.DataFrame, keys: list[str], train_half: int,
                   labels: int) -> float:
    """Held-out cross-entropy (nats) of y given `keys`, fitted on one half."""
    train = table[table["half"] == train_half]
    test = table[table["half"] != train_half]
    prior = train.groupby("y")["count"].sum()
    prior = (prior + 1) / (prior.sum() + labels)
    if keys:
        cell = train.groupby(keys + ["y"])["count"].sum().rename("n_cy").reset_index()
        total = train.groupby(keys)["count"].sum().rename("n_c").reset_index()
        scored = test.groupby(keys + ["y"])["count"].sum().rename("m").reset_index()
        scored = scored.merge(cell, how="left", on=keys + ["y"]).merge(total, how="left",
                                                                       on=keys)
        scored = scored.fillna({"n_cy": 0, "n_c": 0})
    else:
        scored = test.groupby("y")["count"].sum().rename("m").reset_index()
        scored["n_cy"], scored["n_c"] = 0.0, 0.0
    p_y = scored["y"].map(prior).fillna(1 / (prior.sum() + labels)).to_numpy(float)
    p = (scored["n_cy"].to_numpy(float) + SMOOTHING * p_y) / (scored["n_c"].to_numpy(float)
                                                              + SMOOTHING)
    m = scored["m"].to_numpy(float)
    return float(-(m * np.log(p)).sum() / m.sum()) if m.sum() else 0.0


def score(candidate: tuple[str, ...], table: pd.DataFrame, *, hash_key: int) -> dict:
    """Held-out interaction information (bits) and what goes with it."""
    keys = [f"k{i}" for i in range(len(candidate))]
    labels = table["y"].nunique()
    gains, joint_info = [], []
    for train_half in (0, 1):
        prior = _cross_entropy(table, [], train_half, labels)
        joint = prior - _cross_entropy(table, keys, train_half, labels)
        # A part whose held-out information is below zero carries none that
        # generalizes; counting it as negative would credit the cross for it.
        parts = [max(0.0, prior - _cross_entropy(table, [key], train_half, labels))
                 for key in keys]
        gains.append(joint - sum(parts))
        joint_info.append(joint)
    combos = table[keys].drop_duplicates()
    prints = np.full(len(combos), hash_key & (2**64 - 1), dtype=np.uint64)
    for key in keys:
        prints = fingerprint_cat64(prints, combos[key].to_numpy(np.uint64))
    rows = int(table["count"].sum())
    return {"inputs": list(candidate), "interaction_bits": float(np.mean(gains)) / math.log(2),
            "joint_information_bits": float(np.mean(joint_info)) / math.log(2),
            "distinct": len(combos), "rows": rows,
            "rows_per_combination": rows / len(combos) if len(combos) else 0.0,
            "suggested_num_bins": smallest_round_num_bins(np.unique(prints), SUGGEST_RATE)}


def build_suggest_pipeline(config: Config, options: PipelineOptions, *, label: str,
                           candidate_inputs: list[tuple[str, ...]],
                           work_dir: str) -> beam.Pipeline:
    pipeline = beam.Pipeline(options=options)
    ready = pipeline | "AnalyzeAndWriteTransformFn" >> AnalyzeAndWriteTransformFn(
        config, output_dir=work_dir, temp_dir=os.path.join(work_dir, TEMP_DIR_NAME),
        quarantine=True)
    checked = (pipeline
               | "ReadInput" >> ReadRawBatches(config)
               | "CheckRows" >> beam.ParDo(CheckRows(config, quarantine=True, report=False)))
    _ = (checked
         | "CountCombinations" >> beam.ParDo(
             CountCombinations(config, label, candidate_inputs, work_dir),
             ready=beam.pvalue.AsSingleton(ready))
         | "MergePerCandidate" >> beam.CombinePerKey(merge_tables)
         | "ToList" >> beam.combiners.ToList()
         | "WriteTables" >> beam.Map(_write_tables, os.path.join(work_dir, TABLES_FILE)))
    return pipeline


def _write_tables(tables: list, path: str) -> None:
    import pickle
    with tf.io.gfile.GFile(path, "wb") as handle:
        pickle.dump(tables, handle)


def suggest_crosses(config: Config, beam_args: list[str], *, label: str) -> dict:
    """Runs the counting pipeline and ranks the candidates (what the CLI prints)."""
    label_source(config, label)
    found = candidates(config, label)
    check_input(config.input_pattern, config.input_format)
    options = PipelineOptions(beam_args)
    temp_location = options.view_as(GoogleCloudOptions).temp_location
    work_dir = (os.path.join(temp_location, f"featurecross-suggest-{os.getpid()}")
                if temp_location else tempfile.mkdtemp(prefix="featurecross-suggest-"))
    try:
        pipeline = build_suggest_pipeline(config, options, label=label,
                                          candidate_inputs=found, work_dir=work_dir)
        pipeline.run().wait_until_finish()
        import pickle
        with tf.io.gfile.GFile(os.path.join(work_dir, TABLES_FILE), "rb") as handle:
            tables = dict(pickle.load(handle))
    finally:
        if tf.io.gfile.exists(work_dir):
            tf.io.gfile.rmtree(work_dir)
    in_config = {f.inputs: f.name for f in config.features if f.kind == "cross"}
    hash_keys = {f.inputs: f.applied_hash_key for f in config.features if f.kind == "cross"}
    ranked = []
    for candidate in found:
        if candidate not in tables:
            continue
        entry = score(candidate, tables[candidate],
                      hash_key=hash_keys.get(candidate, DEFAULT_HASH_KEY))
        entry["in_config"] = in_config.get(candidate)
        ranked.append(entry)
    ranked.sort(key=lambda e: (-e["interaction_bits"], e["inputs"]))
    labels = next(iter(tables.values()))["y"].nunique() if tables else 0
    return {"config": config.path, "label": label, "label_values": labels,
            "rows": ranked[0]["rows"] if ranked else 0, "candidates": ranked}


def suggest_text(result: dict, *, top: int) -> str:
    """The ranked table and a YAML snippet for the top candidates not yet in the config."""
    shown = result["candidates"][:top]
    lines = [f"featurecross suggest: {result['config']}, label {result['label']} "
             f"({result['label_values']} values), {result['rows']:,} rows",
             "ranked by held-out interaction information I(a,b;y) - I(a;y) - I(b;y), in bits",
             ""]
    width = max([len(" x ".join(c["inputs"])) for c in shown] + [5])
    lines.append(f"  {'rank':>4}  {'cross':<{width}}  {'gain bits':>9}  {'I(ab;y)':>8}  "
                 f"{'distinct':>9}  {'rows/comb':>9}  {'num_bins':>10}")
    for rank, entry in enumerate(shown, 1):
        name = " x ".join(entry["inputs"])
        note = f"  (in config: {entry['in_config']})" if entry["in_config"] else ""
        lines.append(f"  {rank:>4}  {name:<{width}}  {entry['interaction_bits']:>9.4f}  "
                     f"{entry['joint_information_bits']:>8.4f}  {entry['distinct']:>9,}  "
                     f"{entry['rows_per_combination']:>9.1f}  "
                     f"{entry['suggested_num_bins']:>10,}{note}")
    new = [e for e in shown if not e["in_config"] and e["interaction_bits"] > 0]
    lines += ["", "to add (paste under features:; num_bins: smallest round size with at most "
              f"{SUGGEST_RATE:.0%} collisions on this data):"]
    if not new:
        lines.append("  # nothing: no new candidate adds information beyond its inputs")
    for entry in new:
        lines += [f"  - name: {'_x_'.join(entry['inputs'])}",
                  f"    cross: [{', '.join(entry['inputs'])}]",
                  f"    num_bins: {entry['suggested_num_bins']}"]
    return "\n".join(lines)
