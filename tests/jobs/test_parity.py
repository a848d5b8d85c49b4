"""The parity test: batch output, serving and independent references agree.

For the flights sample and the edge-value set (Parquet and TFRecord runs),
every feature of every row must be the same in
  1. the batch output in OUT/data,
  2. OUT/serving's `serving_default`, loaded in a fresh process and fed the
     raw rows as tf.Examples with null cells left out (serving applies the
     defaults),
  3. Keras preprocessing layers built from the config alone
     (`tf.sparse.cross_hashed` where Keras has no sequence or hash_key
     support; NumPy and scikit-learn for the numeric crosses),
  4. the pure-Python FarmHash reference, for crosses and unsalted hashes.
Rows are compared by position; the kept raw columns prove the order held.
"""

from __future__ import annotations

import functools
import pathlib
from typing import Any

import keras
import numpy as np
import pytest
import tensorflow as tf
from sklearn.preprocessing import PolynomialFeatures

from pipeline.config import Config, Feature, load_config
from pipeline.transform.output_specs import output_feature_spec
from tests.farmhash_reference import DEFAULT_HASH_KEY, cross_row, hash_bucket
from tests.support import (
    SAMPLE_PARQUET,
    Rows,
    batch_rows,
    default_columns,
    examples,
    manifest_boundaries,
    read_manifest,
    read_raw_rows,
    row_differences,
    serve_in_one_fresh_process,
    split_sparse,
    tensors_to_rows,
)

# --- independent references ------------------------------------------------

def _tensor(values: list, column_type: str, sequence: bool):
    dtype = {"string": tf.string, "int": tf.int64, "float": tf.float32}[column_type]
    if not sequence:
        return tf.constant(values, dtype)
    flat = [v for row in values for v in row]
    ragged = tf.RaggedTensor.from_row_lengths(tf.constant(flat, dtype, shape=[len(flat)]),
                                              [len(row) for row in values])
    return ragged.to_sparse()


def _tf_hash_key(feature: Feature) -> int:
    """The config's key as TF's Python API takes it: int64, 0 left to TF."""
    return feature.hash_key - 2**64 if feature.hash_key >= 2**63 else feature.hash_key


def _one_per_row(tensor) -> tf.SparseTensor:
    """A dense column as a `[batch, 1]` SparseTensor keeping every value."""
    tensor = tf.convert_to_tensor(tensor)
    return tf.RaggedTensor.from_row_lengths(tensor, tf.ones_like(tensor, tf.int64)).to_sparse()


def tf_cross(feature: Feature, inputs: list, *, all_sparse: bool = True):
    """`tf.sparse.cross_hashed` in one of the two TF forms docs/config.md "Crosses and
    input order" maps to a config: every input sparse, or dense scalars."""
    if all_sparse and feature.is_sequence:
        fed = [x if isinstance(x, tf.SparseTensor) else _one_per_row(x) for x in inputs]
    else:
        fed = [x if isinstance(x, tf.SparseTensor) else tf.reshape(x, [-1, 1]) for x in inputs]
    ids = tf.sparse.cross_hashed(fed, num_buckets=feature.num_bins,
                                 hash_key=_tf_hash_key(feature))
    return ids if feature.is_sequence else ids.values


def _keras_feature(feature: Feature, inputs: list, boundaries: list[float] | None):
    """(bin ids, encoded output) from Keras layers, or TF ops where Keras has none."""
    mode = feature.output
    if feature.kind == "cross":
        if feature.is_sequence or feature.hash_key not in (0, DEFAULT_HASH_KEY):
            ids = tf_cross(feature, inputs)
            if mode == "int":
                return ids, ids
            return ids, keras.layers.CategoryEncoding(feature.num_bins, output_mode=mode)(ids)
        return (keras.layers.HashedCrossing(feature.num_bins)(inputs),
                keras.layers.HashedCrossing(feature.num_bins, output_mode=mode)(inputs))
    if feature.kind == "hash":
        salt = list(feature.salt) if feature.salt else None
        return (keras.layers.Hashing(feature.num_bins, salt=salt)(inputs[0]),
                keras.layers.Hashing(feature.num_bins, salt=salt, output_mode=mode)(inputs[0]))
    layer = keras.layers.Discretization(bin_boundaries=boundaries)
    ids = tf.cast(layer(inputs[0]), tf.int64)
    encoded = keras.layers.Discretization(bin_boundaries=boundaries, output_mode=mode)
    return ids, (ids if mode == "int" else encoded(inputs[0]))


def _encoded_rows(output, feature: Feature) -> list:
    if isinstance(output, tf.SparseTensor):  # sequence ids
        return tensors_to_rows(split_sparse({"f": output}), {"f": tf.io.VarLenFeature(tf.int64)},
                               int(output.dense_shape[0]))["f"]
    dense = np.asarray(output)
    if feature.output != "int" and feature.sparse:
        return [(np.flatnonzero(row).tolist(), row[row != 0].tolist()) for row in dense]
    return dense.tolist()


def keras_rows(config: Config, columns: dict[str, list], boundaries: dict) -> Rows:
    """Every feature from Keras/TF/NumPy/scikit-learn, built from the config alone."""
    values = {name: _tensor(columns[name], column.type, column.is_sequence)
              for name, column in config.schema.items()}
    rows = {}
    for feature in config.features:
        inputs = [values[name] for name in feature.inputs]
        if feature.kind == "product":
            values[feature.name] = np.prod([np.asarray(x, np.float32) for x in inputs], axis=0)
            rows[feature.name] = values[feature.name].tolist()
            continue
        if feature.kind == "polynomial":
            matrix = np.stack([np.asarray(x, np.float32) for x in inputs], 1)
            poly = PolynomialFeatures(feature.degree, interaction_only=feature.interaction_only,
                                      include_bias=feature.include_bias)
            with np.errstate(over="ignore"):
                rows[feature.name] = poly.fit_transform(matrix).tolist()
            continue
        ids, encoded = _keras_feature(feature, inputs, boundaries.get(feature.name))
        values[feature.name] = ids
        rows[feature.name] = _encoded_rows(encoded, feature)
    return rows


def encode_ids(ids: list, feature: Feature) -> Any:
    """One row's bin ids in the feature's output mode (Keras' encodings)."""
    if feature.output == "int":
        return ids if feature.is_sequence else ids[0]
    present = sorted(set(ids))
    if feature.sparse:
        return (present, [1.0] * len(present))
    return [1.0 if i in present else 0.0 for i in range(feature.width)]


def farmhash_rows(config: Config, columns: dict[str, list], int_inputs: Rows) -> Rows:
    """Crosses and unsalted hashes from tests/farmhash_reference.py.

    `int_inputs` gives the ids of features this cannot compute itself
    (buckets, salted hashes) when a cross uses them.
    """
    values: dict[str, list] = {**columns, **int_inputs}
    rows = {}
    for feature in config.features:
        if feature.kind == "cross":
            per_row = zip(*[values[name] for name in feature.inputs])
            ids = [cross_row(list(row), feature.num_bins, hash_key=feature.hash_key)
                   for row in per_row]
        elif feature.kind == "hash" and not feature.salt:
            ids = [[hash_bucket(v, feature.num_bins) for v in (cell if feature.is_sequence
                                                              else [cell])]
                   for cell in values[feature.inputs[0]]]
        else:
            continue
        values[feature.name] = [i if feature.is_sequence else i[0] for i in ids]
        rows[feature.name] = [encode_ids(i, feature) for i in ids]
    return rows


# --- the runs under test ---------------------------------------------------

class Case:
    """One run, its raw rows and its outputs in every form (each computed once)."""

    def __init__(self, out: pathlib.Path, config_path: pathlib.Path,
                 parquet: pathlib.Path) -> None:
        self.out = out
        self.config = load_config(str(config_path))
        self.rows = read_raw_rows(parquet, self.config)
        self.columns = default_columns(self.rows, self.config)
        self.boundaries = manifest_boundaries(out)
        self.features = [f.name for f in self.config.features]
        self.numeric = [f.name for f in self.config.features
                        if f.kind in ("product", "polynomial")]
        self.served: Rows = {}  # filled by the `cases` fixture

    @functools.cached_property
    def batch(self) -> Rows:
        return batch_rows(self.out, self.config)

    @functools.cached_property
    def keras(self) -> Rows:
        return keras_rows(self.config, self.columns, self.boundaries)


@pytest.fixture(scope="module")
def cases(flights_parquet_run, edge_parquet_run, edge_tfrecord_run) -> dict[str, Case]:
    """The three runs; their serving models all answer in one fresh process."""
    config = pathlib.Path(read_manifest(flights_parquet_run)["config_path"])
    built = {"flights": Case(flights_parquet_run, config, SAMPLE_PARQUET)}
    for name, run in (("edge-parquet", edge_parquet_run), ("edge-tfrecord", edge_tfrecord_run)):
        built[name] = Case(run.out, run.config, run.data.parquet)
    served = serve_in_one_fresh_process([(c.out / "serving", examples(c.rows, c.config))
                                         for c in built.values()])
    for case, tensors in zip(built.values(), served):
        case.served = tensors_to_rows(tensors, output_feature_spec(case.config), len(case.rows))
    return built


@pytest.fixture(params=["flights", "edge-parquet", "edge-tfrecord"])
def case(request, cases) -> Case:
    return cases[request.param]


def test_rows_keep_input_order(case):
    for name in case.config.keep:
        assert case.batch[name] == [_stored(v) for v in case.columns[name]], name
    assert len(case.batch[case.features[0]]) == len(case.rows)


def _stored(value: Any) -> Any:
    if isinstance(value, list):
        return [_stored(v) for v in value]
    return value.encode("utf-8") if isinstance(value, str) else value


def test_batch_equals_serving_in_a_fresh_process(case):
    names = list(case.config.keep) + case.features
    assert row_differences(case.batch, case.served, names) == []


def test_batch_equals_keras_layers(case):
    categorical = [n for n in case.features if n not in case.numeric]
    assert row_differences(case.batch, case.keras, categorical) == []
    # TF flushes subnormal float32 results to zero; NumPy keeps them.
    assert row_differences(case.batch, case.keras, case.numeric, rtol=1e-6,
                           atol=float(np.finfo(np.float32).tiny)) == []


def test_batch_equals_farmhash_reference(case):
    ids = {f.name: case.keras[f.name] for f in case.config.features
           if f.kind == "bucketize" or f.salt}
    reference = farmhash_rows(case.config, case.columns, ids)
    assert {f.kind for f in case.config.features if f.name in reference} == {"cross", "hash"}
    assert row_differences(case.batch, reference, list(reference)) == []


def test_mixed_crosses_match_tfs_dense_and_sparse_form_only_sequences_first(case):
    """docs/config.md "Crosses and input order": a TF pipeline that fed scalars dense and
    sequences sparse is matched by the config that lists the sequences first;
    listed otherwise, the ids differ from that form (they follow the list)."""
    mixed = [f for f in case.config.features if f.kind == "cross" and f.is_sequence
             and not all(case.config.schema[n].is_sequence for n in f.inputs)]
    if not mixed:
        pytest.skip("no cross of scalars and sequences in this config")
    checked = {True: 0, False: 0}
    for feature in mixed:
        assert all(n in case.config.schema for n in feature.inputs), feature.name
        inputs = [_tensor(case.columns[n], case.config.schema[n].type,
                          case.config.schema[n].is_sequence) for n in feature.inputs]
        shapes = [case.config.schema[n].is_sequence for n in feature.inputs]
        sequences_first = shapes == sorted(shapes, reverse=True)
        dense_form = _encoded_rows(tf_cross(feature, inputs, all_sparse=False), feature)
        same = row_differences(case.batch, {feature.name: dense_form}, [feature.name]) == []
        assert same is sequences_first, feature.name
        checked[sequences_first] += 1
    assert all(checked.values()), checked  # the edge config has both kinds


def test_manifest_boundaries_are_the_config_or_the_quantiles(case):
    for feature in case.config.features:
        if feature.kind != "bucketize":
            continue
        found = case.boundaries[feature.name]
        if feature.boundaries is not None:
            assert found == list(feature.boundaries), feature.name
        else:
            assert len(found) == feature.num_buckets - 1 and found == sorted(found)


def test_ids_are_in_range_and_not_degenerate(case):
    """Guards the comparisons above against outputs (and references) that are constant."""
    checked = 0
    for feature in case.config.features:
        if feature.kind not in ("cross", "hash") or feature.output != "int" or feature.is_sequence:
            continue
        ids = case.batch[feature.name]
        assert 0 <= min(ids) and max(ids) < feature.num_bins, feature.name
        sources = [case.columns.get(name) or case.batch[name] for name in feature.inputs]
        combinations = len(set(zip(*sources)))
        assert len(set(ids)) >= min(combinations, feature.num_bins, 10) // 2, feature.name
        checked += 1
    assert checked
