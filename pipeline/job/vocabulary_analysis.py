"""The packed vocabulary analyzer: every vocabulary cross's counts in one pass.

`PackedVocabularies` is the Beam side of `pipeline.transform.vocabularies`:
counts keyed by (cross, combination) are summed in one `CombinePerKey`, cut
per cross by `frequency_threshold` then `top_k` in a second one keyed by
cross (so on Dataflow the crosses spread over workers), and written as
tf.Transform writes a text vocabulary: by descending count, ties by
descending bytes, one per line, and tf.Transform's placeholder line when
nothing is kept. The Dataflow graph thus stays the same size whatever the
number of vocabulary crosses (docs/dataflow.md "Job graph size").
"""

from __future__ import annotations

import heapq
import os
from typing import Sequence

import apache_beam as beam
import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam
from tensorflow_transform import analyzers

from pipeline.config import Feature
from pipeline.transform.vocabularies import vocabulary_filename

# tf.Transform's line for a vocabulary that keeps nothing (lookup tables cannot be empty).
EMPTY_VOCABULARY_LINE = analyzers.get_empy_vocabulary_dummy_value(tf.string)[1]


class TopCounts(beam.CombineFn):
    """(count, combination) pairs of one cross in; its kept ones out, best first.

    With a `top_k` the accumulator never holds more than `top_k` pairs; without
    one it holds every pair that passed the threshold, as tf.Transform does.
    """

    def __init__(self, top_k: dict[int, int | None]) -> None:
        self.top_k = top_k

    def create_accumulator(self):
        return None, []

    def add_input(self, accumulator, value):
        index, pairs = accumulator
        cross, pair = value
        pairs.append(pair)
        return self._cut(cross, pairs)

    def merge_accumulators(self, accumulators):
        index, merged = None, []
        for cross, pairs in accumulators:
            index = cross if cross is not None else index
            merged.extend(pairs)
        return self._cut(index, merged)

    def extract_output(self, accumulator):
        index, pairs = accumulator
        return sorted(pairs, reverse=True)[:self.top_k.get(index)]

    def _cut(self, index, pairs):
        k = self.top_k.get(index)
        if k is not None and len(pairs) > 2 * k:  # amortised: cut once twice as many
            pairs = heapq.nlargest(k, pairs)
        return index, pairs


class PackedVocabularies(tft_beam.experimental.PTransformAnalyzer):
    """tf.Transform analyzer: [cross, combination, count] batches in; a path per cross out."""

    def __init__(self, features: Sequence[Feature], group: str) -> None:
        super().__init__()
        self.names = [vocabulary_filename(f) for f in features]
        self.top_k = {i: f.vocabulary.top_k for i, f in enumerate(features)}
        self.threshold = {i: f.vocabulary.frequency_threshold or 0
                          for i, f in enumerate(features)}
        self.group = group

    def expand(self, batches):
        directory = os.path.join(self.base_temp_dir, f"vocabularies_{self.group}")
        kept = (batches
                | "CountsPerBatch" >> beam.FlatMap(_keyed_counts)
                | "SumCounts" >> beam.CombinePerKey(sum)
                | "ByCross" >> beam.MapTuple(lambda key, count: (key[0], (key[0], (count, key[1]))))
                | "Threshold" >> beam.Filter(
                    lambda item, threshold: item[1][1][0] >= threshold[item[0]], self.threshold)
                | "TopPerCross" >> beam.CombinePerKey(TopCounts(self.top_k))
                | "Write" >> beam.Map(self._write, directory))
        paths = (batches.pipeline
                 | "One" >> beam.Create([None])
                 | "WriteEmptyOnes" >> beam.Map(
                     self._complete, directory, written=beam.pvalue.AsList(kept)))
        tags = [f"path_{i}" for i in range(len(self.names))]
        split = paths | "Split" >> beam.FlatMap(self._outputs).with_outputs(*tags)
        return tuple(split[tag] for tag in tags)

    def _write(self, kept: tuple[int, list], directory: str) -> int:
        index, pairs = kept
        _write_lines(os.path.join(directory, self.names[index]), [t for _, t in pairs])
        return index

    def _complete(self, _, directory: str, written: list[int]) -> list[str]:
        """Writes the vocabularies nothing was counted for; every path, in order."""
        paths = [os.path.join(directory, name) for name in self.names]
        for index in set(range(len(paths))) - set(written):
            _write_lines(paths[index], [])
        return paths

    def _outputs(self, paths: list[str]):
        for index, path in enumerate(paths):
            yield beam.pvalue.TaggedOutput(f"path_{index}", np.array(path.encode()))


def _keyed_counts(batch):
    crosses, tokens, counts = batch
    return zip(zip(crosses.tolist(), tokens.tolist()), counts.tolist())


def _write_lines(path: str, tokens: list[bytes]) -> None:
    tf.io.gfile.makedirs(os.path.dirname(path))
    with tf.io.gfile.GFile(path, "wb") as handle:
        handle.write(b"".join(t + b"\n" for t in (tokens or [EMPTY_VOCABULARY_LINE])))


def packed_vocabulary_analyzer():
    """The `vocabulary_analyzer` for `make_preprocessing_fn`.

    A group is named after its first cross: tf.Transform traces the
    preprocessing_fn more than once and matches analyzers by name.
    """
    def analyze(features: Sequence[Feature], counts: list[tf.Tensor]):
        group = features[0].name
        outputs = tft.experimental.ptransform_analyzer(
            counts, PackedVocabularies(features, group),
            output_dtypes=[tf.string] * len(features), output_shapes=[[]] * len(features),
            output_asset_default_values=[EMPTY_VOCABULARY_LINE] * len(features),
            name=f"packed_vocabularies_{group}")
        return list(outputs)
    return analyze
