"""The pure-Python reference agrees with TensorFlow and with the pipeline's output.

First on edge values against `tf.sparse.cross_hashed` and
`tf.strings.to_hash_bucket_fast`, then row by row against a real run of
configs/flights.yaml on the shipped sample (the `flights_parquet_run` fixture).
"""

from __future__ import annotations

import pathlib

import numpy as np
import pyarrow.parquet as pq
import pytest
import tensorflow as tf

from pipeline.config import Config, Feature, load_config
from pipeline.outputs import sparse_keys
from tests.farmhash_reference import (
    DEFAULT_HASH_KEY,
    cross_hash,
    cross_row,
    fingerprint64,
    hash_bucket,
)
from tests.support import FLIGHTS_CONFIG, SAMPLE_PARQUET

EDGE_STRINGS = ["", "A", "東京", "café", "😀", "a longer string, with spaces"]
EDGE_INTS = [0, 101, -1, -2**63, 2**63 - 1]
NUM_BINS = [2, 5000, 2**40, 0]


def tf_cross(values: list, num_bins: int, hash_key: int | None = None) -> int:
    """`tf.sparse.cross_hashed` of one row holding one value per input."""
    inputs = [tf.constant([[v]], tf.int64 if isinstance(v, int) else tf.string) for v in values]
    return int(tf.sparse.cross_hashed(inputs, num_buckets=num_bins, hash_key=hash_key).values[0])


CROSS_CASES = (
    [pytest.param([s, i], id=f"str{a}-int{b}") for a, s in enumerate(EDGE_STRINGS)
     for b, i in enumerate(EDGE_INTS)]
    + [pytest.param([s, t], id=f"str{a}-str{b}") for a, s in enumerate(EDGE_STRINGS)
       for b, t in enumerate(EDGE_STRINGS[::-1])]
    + [pytest.param([-1, "東京", 2**63 - 1], id="three_inputs"),
       pytest.param([-2**63, -1], id="int-int")]
)


@pytest.mark.parametrize("values", CROSS_CASES)
def test_cross_hash_matches_tf(values):
    for num_bins in NUM_BINS:
        assert cross_hash(values, num_bins) == tf_cross(values, num_bins), num_bins


@pytest.mark.parametrize("hash_key", [0, 1, 12345, DEFAULT_HASH_KEY, 2**63 - 1, -1, -2**63])
def test_cross_hash_key_matches_tf(hash_key):
    values = ["café", -2**63]
    assert cross_hash(values, 2**40, hash_key=hash_key) == tf_cross(values, 2**40, hash_key)


@pytest.mark.parametrize("unsigned", [2**63, 2**64 - 1])
def test_unsigned_hash_key_is_its_int64_bits(unsigned):
    """TF's Python API refuses keys from 2**63 up; the same 64 bits as an int64 work."""
    values = ["café", -2**63]
    with pytest.raises((OverflowError, ValueError)):
        tf_cross(values, 2**40, unsigned)
    assert cross_hash(values, 2**40, hash_key=unsigned) == tf_cross(values, 2**40,
                                                                   unsigned - 2**64)


def test_hash_key_zero_is_tf_default_key():
    """TF replaces a falsy key by its default, so `hash_key: 0` is the default."""
    values = ["café", -2**63]
    assert tf_cross(values, 2**40, 0) == tf_cross(values, 2**40, DEFAULT_HASH_KEY)


def test_cross_hash_is_not_commutative():
    assert cross_hash(["a", "b"], 0) != cross_hash(["b", "a"], 0)


@pytest.mark.parametrize("value", EDGE_STRINGS + EDGE_INTS)
def test_hash_bucket_matches_to_hash_bucket_fast(value):
    text = tf.strings.as_string(tf.constant([value], tf.int64)) if isinstance(value, int) \
        else tf.constant([value])
    for num_bins in (2, 5000, 2**40, 2**63 - 1):
        assert hash_bucket(value, num_bins) == int(
            tf.strings.to_hash_bucket_fast(text, num_bins)[0])


@pytest.mark.parametrize("text", EDGE_STRINGS)
def test_fingerprint_is_of_utf8_bytes(text):
    assert fingerprint64(text) == fingerprint64(text.encode("utf-8"))
    unreduced = int(tf.strings.to_hash_bucket_fast([text], 2**63 - 1)[0])
    assert fingerprint64(text) % (2**63 - 1) == unreduced


@pytest.mark.parametrize("rows", [
    pytest.param([[], "DL"], id="empty_sequence"),
    pytest.param([["a"], "DL"], id="one_element"),
    pytest.param([["a", "東京", "", "a", "😀"], -1], id="many_elements"),
    pytest.param([["x", "y"], 7, [3, -2**63, 5]], id="two_sequences"),
    pytest.param([5, ["x", "y"], "DL"], id="scalar_first"),
])
def test_cross_row_matches_tf_on_sequences(rows):
    """Against TF with every input sparse, so the kernel keeps the given order."""
    inputs = [tf.ragged.constant([v if isinstance(v, list) else [v]], _dtype(v)).to_sparse()
              for v in rows]
    expected = tf.sparse.cross_hashed(inputs, num_buckets=5000).values.numpy().tolist()
    assert cross_row(rows, 5000) == expected


def _dtype(value) -> tf.DType:
    first = value[0] if isinstance(value, list) and value else value
    return tf.int64 if isinstance(first, int) and not isinstance(first, list) else tf.string


# --- The pipeline's output on the shipped sample ---------------------------------------

@pytest.fixture(scope="module")
def config() -> Config:
    return load_config(str(FLIGHTS_CONFIG))


@pytest.fixture(scope="module")
def raw(config) -> dict[str, list]:
    """The sample's schema columns as Python lists, nulls replaced by the column default."""
    table = pq.read_table(SAMPLE_PARQUET, columns=list(config.schema))
    return {name: [column.default if v is None else v for v in table.column(name).to_pylist()]
            for name, column in config.schema.items()}


@pytest.fixture(scope="module")
def written(flights_parquet_run: pathlib.Path) -> dict[str, list]:
    parts = sorted((flights_parquet_run / "data").glob("part-*.parquet"))
    assert len(parts) == 1, parts
    return pq.read_table(parts[0]).to_pydict()


def feature(config: Config, name: str) -> Feature:
    return next(f for f in config.features if f.name == name)


def reference_cross(feature: Feature, columns: dict[str, list]) -> list[int]:
    return [cross_hash(values, feature.num_bins, hash_key=feature.hash_key)
            for values in zip(*(columns[name] for name in feature.inputs))]


def test_rows_are_written_in_input_order(config, raw, written):
    """Checked first: the row-by-row comparisons below rely on it."""
    for name in config.keep:
        assert [v.decode("utf-8") for v in written[name]] == raw[name], name


@pytest.mark.parametrize("name", ["route", "origin_x_distance"])
def test_int_crosses_match_reference(config, raw, written, name):
    spec = feature(config, name)
    assert spec.kind == "cross" and spec.output == "int"
    columns = {**raw, **{n: written[n] for n in spec.inputs if n not in raw}}
    assert written[name] == reference_cross(spec, columns)


def test_sparse_one_hot_cross_matches_reference(config, raw, written):
    spec = feature(config, "carrier_x_hour")
    assert spec.output == "one_hot" and spec.sparse
    index_key, value_key = sparse_keys(spec.name)
    assert written[index_key] == [[i] for i in reference_cross(spec, raw)]
    assert written[value_key] == [[1.0]] * len(raw[spec.inputs[0]])


def test_hash_matches_reference(config, raw, written):
    spec = feature(config, "tailnum_id")
    assert spec.kind == "hash" and spec.salt is None and spec.output == "int"
    assert config.schema[spec.inputs[0]].default == ""
    assert "" in raw[spec.inputs[0]]  # the sample has null tail numbers
    assert written[spec.name] == [hash_bucket(v, spec.num_bins) for v in raw[spec.inputs[0]]]


def test_sample_ids_span_the_bins(config, written):
    """Guards the comparisons above against a degenerate, constant output."""
    for name in ("route", "tailnum_id", "origin_x_distance"):
        ids = np.array(written[name])
        assert ids.min() >= 0 and ids.max() < feature(config, name).num_bins
        assert len(np.unique(ids)) > 10, name
