"""Vocabulary crosses, packed: every cross's vocabulary from one analyzer.

`tft.compute_and_apply_vocabulary` gives each vocabulary its own analysis
stages, so a Dataflow job grows by about 90 Beam transforms per vocabulary
cross. Here the graph reduces each batch to (cross, combination, count)
triples for all the vocabulary crosses at once and hands them to one
analyzer (`pipeline.job.vocabulary_analysis`), which writes one vocabulary
file per cross; the ids are then `tft.apply_vocabulary` of that file, the op
`compute_and_apply_vocabulary` applies. Files, ids and OOV buckets are
tf.Transform's (docs/config.md "Exact ids: vocabulary crosses").
"""

from __future__ import annotations

from typing import Callable, Sequence, Union

import tensorflow as tf
import tensorflow_transform as tft
from tensorflow_transform import annotators

from pipeline.config import Feature

Tensor = Union[tf.Tensor, tf.SparseTensor]

# tf.Transform leaves out of a text vocabulary the empty string and any value
# holding a line break (a line of the file could not hold it).
UNKEPT_TOKENS = r"^$|\C*[\n\r]\C*"

# (features, [cross index, combination, count]) -> one vocabulary path per feature
VocabularyAnalyzer = Callable[[Sequence[Feature], list[tf.Tensor]], list[tf.Tensor]]


def vocabulary_filename(feature: Feature) -> str:
    """The vocabulary's asset name in transform_fn/ (and serving/)."""
    return f"vocabulary_{feature.name}"


def batch_counts(strings: Sequence[Tensor]) -> list[tf.Tensor]:
    """One batch's distinct combinations per cross: [cross index, combination, count].

    What tf.Transform's own vocabulary analyzer sends out of the graph per
    batch, for all the crosses in three flat tensors.
    """
    indices, tokens, counts = [], [], []
    for index, crossed in enumerate(strings):
        values = crossed.values if isinstance(crossed, tf.SparseTensor) else crossed
        values = tf.reshape(values, [-1])
        values = tf.boolean_mask(values, tf.logical_not(
            tf.strings.regex_full_match(values, UNKEPT_TOKENS)))
        unique, _, count = tf.unique_with_counts(values, out_idx=tf.int64)
        indices.append(tf.fill(tf.shape(unique, out_type=tf.int64), tf.constant(index, tf.int64)))
        tokens.append(unique)
        counts.append(count)
    return [tf.concat(indices, 0), tf.concat(tokens, 0), tf.concat(counts, 0)]


def apply_vocabularies(features: Sequence[Feature], strings: Sequence[Tensor],
                       analyzer: VocabularyAnalyzer) -> list[Tensor]:
    """The crosses' ids from one packed analysis of their combination strings."""
    paths = analyzer(features, batch_counts(strings))
    ids = []
    for feature, crossed, path in zip(features, strings, paths):
        name = vocabulary_filename(feature)
        annotators.annotate_asset(name, name)
        ids.append(tft.apply_vocabulary(
            crossed, deferred_vocab_filename_tensor=path,
            num_oov_buckets=feature.vocabulary.num_oov_buckets,
            name=f"apply_vocabulary_{feature.name}"))
    return ids
