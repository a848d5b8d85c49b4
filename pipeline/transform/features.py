"""The feature transforms as pure TensorFlow ops (no Beam here).

`make_preprocessing_fn(config)` returns the tf.Transform `preprocessing_fn`.
Its graph is exported as `transform_fn/` and is the only code that computes
features, in batch and in serving. Each op is the one docs/config.md "What each transform means"
names, so ids agree bit for bit with Keras `HashedCrossing`/`Hashing` and
`tf.feature_column`'s hashed columns.

Tensors seen here: a scalar column is a dense `[batch]` tensor, a sequence
column a `tf.SparseTensor` of shape `[batch, None]`.
"""

from __future__ import annotations

from typing import Callable, Mapping, Sequence, Union

import tensorflow as tf
import tensorflow_transform as tft

from pipeline.config import Config, Feature, UnknownKindError
from pipeline.transform.vocabularies import VocabularyAnalyzer, apply_vocabularies

Tensor = Union[tf.Tensor, tf.SparseTensor]


def cross_ids(inputs: list[Tensor], *, num_bins: int, hash_key: int) -> Tensor:
    """`tf.sparse.cross_hashed` over the inputs, hashed in the order given.

    All-scalar inputs give one id per row (a dense `[batch]` tensor), exactly
    as Keras `HashedCrossing`; any sequence input gives the Cartesian product
    per row (a SparseTensor). `hash_key` is the int64 TF's op takes
    (`Feature.applied_hash_key`).
    """
    crossed = tf.sparse.cross_hashed(cross_inputs(inputs), num_buckets=num_bins,
                                     hash_key=hash_key)
    if any(isinstance(x, tf.SparseTensor) for x in inputs):
        return crossed
    return crossed.values  # exactly one id per row, already in row order


def cross_inputs(inputs: list[Tensor]) -> list[Tensor]:
    """The inputs in the one form TF's cross kernel keeps in order.

    The kernel hashes SparseTensor inputs before dense ones whatever the
    list order, so when any input is a sequence every scalar input goes in
    as a one-value-per-row SparseTensor too (docs/config.md "Crosses and input
    order"). All-scalar inputs go in dense, as Keras `HashedCrossing` does.
    """
    if not any(isinstance(x, tf.SparseTensor) for x in inputs):
        return [tf.reshape(x, [-1, 1]) for x in inputs]
    return [x if isinstance(x, tf.SparseTensor) else _one_per_row(x) for x in inputs]


def _one_per_row(values: tf.Tensor) -> tf.SparseTensor:
    """A dense `[batch]` tensor as a `[batch, 1]` SparseTensor holding every value.

    Not `tf.sparse.from_dense`: it drops empty strings and zeros, which are
    values here.
    """
    batch = tf.size(values, out_type=tf.int64)
    rows = tf.range(batch, dtype=tf.int64)
    indices = tf.stack([rows, tf.zeros_like(rows)], axis=1)
    return tf.SparseTensor(indices, values, tf.stack([batch, tf.constant(1, tf.int64)]))


def cross_strings(inputs: list[Tensor]) -> Tensor:
    """`tf.sparse.cross`: each combination's values joined with `_X_`, in config order.

    All-scalar inputs give one string per row (a dense `[batch]` tensor); any
    sequence input gives the Cartesian product per row (a SparseTensor).
    """
    crossed = tf.sparse.cross(cross_inputs(inputs))
    if any(isinstance(x, tf.SparseTensor) for x in inputs):
        return crossed
    return crossed.values  # exactly one string per row, already in row order


_LOW_MODULUS = 2**62        # cross_hashed(num_buckets=2**62): the fingerprint's low 62 bits
_INT64_MAX = 2**63 - 1      # cross_hashed(num_buckets=0): the fingerprint modulo 2**63 - 1


def cross_fingerprints(inputs: list[Tensor], *, hash_key: int) -> Tensor:
    """The 64-bit fingerprints `tf.sparse.cross_hashed` takes modulo num_buckets (uint64).

    TF gives no op for them: `num_buckets=0` returns them modulo 2**63 - 1.
    Two crosses recover them exactly: the low 62 bits, and the residue modulo
    2**63 - 1 tells which of the four candidates for the top two bits it is.
    """
    as_2d = cross_inputs(inputs)
    low = tf.sparse.cross_hashed(as_2d, num_buckets=_LOW_MODULUS, hash_key=hash_key)
    residue = tf.sparse.cross_hashed(as_2d, num_buckets=0, hash_key=hash_key)
    low_bits = tf.bitcast(low.values, tf.uint64)
    modulus = tf.constant(_INT64_MAX, tf.uint64)
    found = tf.zeros_like(low_bits)
    for top in range(4):  # candidate = low + top * 2**62; 2**63 = 1 modulo 2**63 - 1
        offset = (0, _LOW_MODULUS, 1, _LOW_MODULUS + 1)[top]
        candidate = low_bits + tf.constant(offset, tf.uint64)
        candidate = tf.where(candidate >= modulus, candidate - modulus, candidate)
        found = tf.where(tf.equal(candidate, tf.bitcast(residue.values, tf.uint64)),
                         tf.constant(top, tf.uint64), found)
    prints = low_bits + found * tf.constant(_LOW_MODULUS, tf.uint64)
    if any(isinstance(x, tf.SparseTensor) for x in inputs):
        return tf.SparseTensor(low.indices, prints, low.dense_shape)
    return prints


def modulo_ids(prints: Tensor, num_bins: tf.Tensor) -> Tensor:
    """`fingerprint % num_bins` in uint64, as cross_hashed does, for a num_bins tensor."""
    def ids(values: tf.Tensor) -> tf.Tensor:
        return tf.cast(tf.math.floormod(values, tf.cast(num_bins, tf.uint64)), tf.int64)
    if isinstance(prints, tf.SparseTensor):
        return tf.SparseTensor(prints.indices, ids(prints.values), prints.dense_shape)
    return ids(prints)


def hash_ids(values: Tensor, *, num_bins: int, salt: tuple[int, int] | None = None) -> Tensor:
    """Keras `Hashing(num_bins, salt=...)`: FarmHash64 of the string form."""
    def hash_dense(x: tf.Tensor) -> tf.Tensor:
        if x.dtype != tf.string:
            x = tf.strings.as_string(x)
        if salt is None:
            return tf.strings.to_hash_bucket_fast(x, num_bins)
        return tf.strings.to_hash_bucket_strong(x, num_bins, key=list(salt))

    if isinstance(values, tf.SparseTensor):
        return tf.SparseTensor(values.indices, hash_dense(values.values), values.dense_shape)
    return hash_dense(values)


def bucket_ids(values: tf.Tensor, feature: Feature) -> tf.Tensor:
    """Bucket i holds boundaries[i-1] <= x < boundaries[i]."""
    values = tf.cast(values, tf.float32)
    if feature.boundaries is None:
        return tft.bucketize(values, feature.num_buckets, name=f"bucketize_{feature.name}")
    boundaries = tf.constant([feature.boundaries], dtype=tf.float32)
    return tft.apply_buckets(values, boundaries)


def product(inputs: list[tf.Tensor]) -> tf.Tensor:
    result = tf.cast(inputs[0], tf.float32)
    for value in inputs[1:]:
        result = result * tf.cast(value, tf.float32)
    return result


def polynomial(columns: Mapping[str, tf.Tensor], feature: Feature) -> tf.Tensor:
    """scikit-learn `PolynomialFeatures` terms, same order, as `[batch, terms]` float32."""
    floats = {name: tf.cast(columns[name], tf.float32) for name in feature.inputs}
    ones = tf.ones_like(floats[feature.inputs[0]])
    terms = [product([floats[name] for name in term]) if term else ones
             for term in feature.polynomial_terms()]
    return tf.stack(terms, axis=1)


def encode(ids: Tensor, feature: Feature) -> Tensor:
    """Turns bin ids into the feature's output mode (Keras' encodings)."""
    if feature.output == "int":
        return ids
    width = feature.width
    if isinstance(ids, tf.SparseTensor):
        rows, bins = ids.indices[:, 0], ids.values
    else:
        rows, bins = tf.range(tf.size(ids, out_type=tf.int64), dtype=tf.int64), ids
    if not feature.sparse:
        batch = tf.cast(_batch_size(ids), tf.int64)
        dense_shape = tf.stack([batch, tf.constant(width, tf.int64)])
        indicator = tf.scatter_nd(tf.stack([rows, bins], axis=1),
                                  tf.ones_like(bins, dtype=tf.float32), dense_shape)
        return tf.minimum(indicator, 1.0)  # multi_hot marks presence, not counts
    # Sparse: one (row, bin) entry per distinct pair, in row-major order.
    keys, _ = tf.unique(rows * width + bins)
    keys = tf.sort(keys)
    indices = tf.stack([keys // width, keys % width], axis=1)
    batch = tf.cast(_batch_size(ids), tf.int64)
    result = tf.SparseTensor(indices, tf.ones_like(keys, dtype=tf.float32),
                             tf.stack([batch, tf.constant(width, tf.int64)]))
    if not tf.executing_eagerly():  # annotations belong to tf.Transform's traced graph
        tft.experimental.annotate_sparse_output_shape(result, [width])
    return result


def _batch_size(ids: Tensor) -> tf.Tensor:
    if isinstance(ids, tf.SparseTensor):
        return ids.dense_shape[0]
    return tf.shape(ids, out_type=tf.int64)[0]


# (auto crosses, their fingerprints) -> an int64 [crosses] tensor: the bin
# counts the analysis chose, constants of the exported graph
NumBinsAnalyzer = Callable[[Sequence[Feature], list[Tensor]], tf.Tensor]


def compute_feature(feature: Feature, values: Mapping[str, Tensor]) -> Tensor:
    """The feature's bin ids (categorical kinds) or numbers (numeric kinds).

    Not for the kinds that need the data first (`needs_packed_analysis`):
    make_preprocessing_fn analyses those in groups.
    """
    inputs = [values[name] for name in feature.inputs]
    if needs_packed_analysis(feature):
        raise ValueError(f"feature {feature.name!r} needs the analysis pass: its ids come "
                         "from make_preprocessing_fn's packed analysis")
    if feature.kind == "cross":
        return cross_ids(inputs, num_bins=feature.num_bins, hash_key=feature.applied_hash_key)
    if feature.kind == "hash":
        return hash_ids(inputs[0], num_bins=feature.num_bins, salt=feature.salt)
    if feature.kind == "bucketize":
        return bucket_ids(inputs[0], feature)
    if feature.kind == "product":
        return product(inputs)
    if feature.kind == "polynomial":
        return polynomial(values, feature)
    raise UnknownKindError(feature, "compute_feature")


def needs_packed_analysis(feature: Feature) -> bool:
    """Vocabulary and `num_bins: auto` crosses: one analyzer serves all of each kind."""
    return feature.kind == "cross" and (feature.vocabulary is not None
                                        or feature.auto_num_bins)


def make_preprocessing_fn(config: Config, *, num_bins_analyzer: NumBinsAnalyzer | None = None,
                          vocabulary_analyzer: VocabularyAnalyzer | None = None
                          ) -> Callable[[dict], dict]:
    """Builds the tf.Transform preprocessing_fn for a validated config.

    Vocabulary crosses and `num_bins: auto` crosses wait in a group until the
    end, or until a feature reads one of them: then the group goes through
    one packed analysis of each kind (`pipeline.transform.vocabularies`, the
    `num_bins_analyzer`), so the analysis, and the Dataflow job, does not
    grow a set of stages per cross (docs/dataflow.md "Job graph size").
    """

    def preprocessing_fn(inputs: dict) -> dict:
        values: dict[str, Tensor] = dict(inputs)  # raw columns, then features by name
        waiting: list[tuple[Feature, Tensor]] = []  # with their strings or fingerprints

        def analyze_waiting() -> None:
            vocabulary = [(f, t) for f, t in waiting if f.vocabulary is not None]
            auto = [(f, t) for f, t in waiting if f.vocabulary is None]
            waiting.clear()
            if vocabulary:
                features, strings = zip(*vocabulary)
                if vocabulary_analyzer is None:
                    raise ValueError(f"feature {features[0].name!r} has a vocabulary, which "
                                     "needs the analysis pass")
                for feature, ids in zip(features, apply_vocabularies(features, strings,
                                                                     vocabulary_analyzer)):
                    values[feature.name] = ids
            if auto:
                features, prints = zip(*auto)
                if num_bins_analyzer is None:
                    raise ValueError(f"feature {features[0].name!r} has num_bins: auto, "
                                     "which needs the analysis pass")
                num_bins = num_bins_analyzer(features, list(prints))
                for index, (feature, feature_prints) in enumerate(auto):
                    values[feature.name] = modulo_ids(feature_prints, num_bins[index])

        for feature in config.features:
            if any(name == f.name for f, _ in waiting for name in feature.inputs):
                analyze_waiting()
            inputs_of = [values[n] for n in feature.inputs]
            if feature.kind == "cross" and feature.vocabulary is not None:
                waiting.append((feature, cross_strings(inputs_of)))
            elif needs_packed_analysis(feature):
                waiting.append((feature, cross_fingerprints(
                    inputs_of, hash_key=feature.applied_hash_key)))
            else:
                values[feature.name] = compute_feature(feature, values)
        if waiting:
            analyze_waiting()
        outputs: dict[str, Tensor] = {name: inputs[name] for name in config.keep}
        for feature in config.features:
            ids = values[feature.name]
            outputs[feature.name] = encode(ids, feature) if feature.is_categorical else ids
        return outputs

    return preprocessing_fn
