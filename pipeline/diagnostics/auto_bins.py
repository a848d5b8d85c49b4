"""`num_bins: auto`: the analysis pass picks a cross's bin count from its data.

Inside tf.Transform's analysis, `ResolveNumBins` (one `ptransform_analyzer`
for all the auto crosses) gathers each cross's distinct 64-bit fingerprints
and returns the smallest round size whose exact collision rate on them is at
most `max_collision_rate` (above the memory budget's exact limit, the
random-hash rate at the sampled distinct count); tf.Transform freezes it
into `transform_fn/` as a constant. How it was chosen is recorded next to the graph, in
`transform_fn/assets.extra/num_bins.json`, which transform-only runs carry
along with the graph (docs/config.md "num_bins: auto").
"""

from __future__ import annotations

import json
import os

import apache_beam as beam
import numpy as np
import tensorflow as tf
import tensorflow_transform as tft

from pipeline.config import Config, Feature
from pipeline.diagnostics.budget import SAMPLE_KEYS
from pipeline.diagnostics.collisions import (
    EXACT_LIMIT,
    KeyCounts,
    colliding_keys,
    expected_collision_rate,
    merged,
    smallest_round_num_bins,
    smallest_round_num_bins_expected,
)
from pipeline.diagnostics.fingerprints import hashed_features
from pipeline.io.layout import NUM_BINS_RECORD, NUM_BINS_RECORD_DIR
from pipeline.io.side_files import write_json


class DistinctFingerprints(beam.CombineFn):
    """Fingerprint batches in; their distinct set (exact up to the limit) out."""

    def __init__(self, exact_limit: int) -> None:
        self.exact_limit = exact_limit

    def create_accumulator(self) -> KeyCounts:
        return KeyCounts(2, exact_limit=self.exact_limit)

    def add_input(self, accumulator: KeyCounts, prints: np.ndarray) -> KeyCounts:
        keys = np.unique(np.asarray(prints).view(np.uint64))
        accumulator.add(keys, np.zeros(len(keys), np.uint64), np.ones(len(keys), np.int64))
        return accumulator

    def merge_accumulators(self, accumulators) -> KeyCounts:
        return merged(accumulators)

    def extract_output(self, accumulator: KeyCounts) -> KeyCounts:
        accumulator.compact()
        return accumulator


def choose_num_bins(counts: KeyCounts, max_collision_rate: float) -> dict:
    """The smallest round num_bins meeting the target, and the figures behind it."""
    if counts.exact:
        keys = counts.keys
        num_bins = smallest_round_num_bins(keys, max_collision_rate)
        distinct = len(keys)
        rate = colliding_keys(keys, num_bins) / distinct if distinct else 0.0
        method = "exact"
    else:
        distinct, error = counts.distinct()
        num_bins = smallest_round_num_bins_expected(distinct, max_collision_rate)
        rate = expected_collision_rate(distinct, num_bins)
        method = (f"sample (bottom-{SAMPLE_KEYS} of the keys, distinct keys with a relative "
                  f"standard error of {error:.2%}; random-hash model)")
    return {"num_bins": int(num_bins), "max_collision_rate": max_collision_rate,
            "distinct": round(distinct), "collision_rate": rate, "method": method}


class ResolveNumBins(beam.PTransform):
    """tf.Transform analyzer: [cross index, fingerprint] batches in; num_bins per cross out.

    One analyzer for every `num_bins: auto` cross of a group: the distinct
    sets are merged per cross (`CombinePerKey`, so on Dataflow the crosses
    spread over workers), and the choices come out as one vector, which
    tf.Transform binds into the graph once whatever the number of crosses.
    """

    def __init__(self, features: list[Feature], record_dir: str, *,
                 exact_limit: int = EXACT_LIMIT) -> None:
        super().__init__()
        self.rates = [f.max_collision_rate for f in features]
        self.record_paths = [os.path.join(record_dir, f"{f.name}.json") for f in features]
        self.exact_limit = exact_limit

    def expand(self, batches):
        chosen = (batches
                  | "PerCross" >> beam.FlatMap(_prints_per_cross)
                  | "DistinctFingerprints" >> beam.CombinePerKey(
                      DistinctFingerprints(self.exact_limit))
                  | "ChooseAndRecord" >> beam.MapTuple(self._choose_and_record))
        return (batches.pipeline
                | "One" >> beam.Create([None])
                | "EveryCross" >> beam.Map(self._every_cross,
                                           chosen=beam.pvalue.AsDict(chosen)))

    def _choose_and_record(self, index: int, counts: KeyCounts) -> tuple[int, int]:
        choice = choose_num_bins(counts, self.rates[index])
        path = self.record_paths[index]
        tf.io.gfile.makedirs(os.path.dirname(path))
        write_json(choice, path)
        return index, choice["num_bins"]

    def _every_cross(self, _, chosen: dict[int, int]) -> np.ndarray:
        """The vector of choices; a cross with no fingerprints at all is chosen from none."""
        for index in set(range(len(self.rates))) - set(chosen):
            empty = KeyCounts(2, exact_limit=self.exact_limit)
            chosen[index] = self._choose_and_record(index, empty)[1]
        return np.array([chosen[i] for i in range(len(self.rates))], dtype=np.int64)


def _prints_per_cross(batch):
    """(cross index, its fingerprints) for each cross present in one batch."""
    crosses, prints = batch
    order = np.argsort(crosses, kind="stable")
    crosses, prints = crosses[order], prints[order]
    present, starts = np.unique(crosses, return_index=True)
    return zip(present.tolist(), np.split(prints, starts[1:]))


def num_bins_analyzer(record_dir: str, *, exact_limit: int = EXACT_LIMIT):
    """The `num_bins_analyzer` for `make_preprocessing_fn`, recording into record_dir.

    A group is named after its first cross: tf.Transform traces the
    preprocessing_fn more than once and matches analyzers by name.
    """
    def analyze(features, prints) -> tf.Tensor:
        indices, values = [], []
        for index, feature_prints in enumerate(prints):
            flat = (feature_prints.values if isinstance(feature_prints, tf.SparseTensor)
                    else feature_prints)
            values.append(tf.bitcast(flat, tf.int64))
            indices.append(tf.fill(tf.shape(flat, out_type=tf.int64),
                                   tf.constant(index, tf.int64)))
        (num_bins,) = tft.experimental.ptransform_analyzer(
            [tf.concat(indices, 0), tf.concat(values, 0)],
            ResolveNumBins(features, record_dir, exact_limit=exact_limit),
            output_dtypes=[tf.int64], output_shapes=[[len(features)]],
            name=f"num_bins_{features[0].name}")
        return num_bins
    return analyze


def publish_choices(config: Config, output_dir: str) -> dict[str, dict]:
    """Moves the analysis' records into transform_fn/assets.extra/num_bins.json."""
    record_dir = os.path.join(output_dir, NUM_BINS_RECORD_DIR)
    choices = {}
    for feature in config.features:
        if feature.auto_num_bins:
            with tf.io.gfile.GFile(os.path.join(record_dir, f"{feature.name}.json")) as handle:
                choices[feature.name] = json.load(handle)
    if tf.io.gfile.exists(record_dir):
        tf.io.gfile.rmtree(record_dir)
    if choices:
        path = os.path.join(output_dir, NUM_BINS_RECORD)
        tf.io.gfile.makedirs(os.path.dirname(path))
        with tf.io.gfile.GFile(path, "w") as handle:
            json.dump(choices, handle, indent=2)
    return choices


def read_choices(config: Config, output_dir: str) -> dict[str, dict]:
    """How each auto cross's num_bins was chosen: from the graph's record, or mid-run."""
    if not any(f.auto_num_bins for f in config.features):
        return {}
    path = os.path.join(output_dir, NUM_BINS_RECORD)
    if tf.io.gfile.exists(path):
        with tf.io.gfile.GFile(path) as handle:
            return json.load(handle)
    choices = {}
    for feature in config.features:
        if feature.auto_num_bins:
            record = os.path.join(output_dir, NUM_BINS_RECORD_DIR, f"{feature.name}.json")
            with tf.io.gfile.GFile(record) as handle:
                choices[feature.name] = json.load(handle)
    return choices


def resolved_num_bins(config: Config, output_dir: str) -> dict[str, int]:
    """num_bins of every hashed cross and hash, auto ones as the analysis chose them."""
    choices = read_choices(config, output_dir)
    return {f.name: choices[f.name]["num_bins"] if f.auto_num_bins else f.num_bins
            for f in hashed_features(config)}
