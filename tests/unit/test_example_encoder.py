"""The vectorized tf.Example encoder writes exactly what protobuf and TensorFlow expect.

The reference for every row: tfx-bsl's C++ encoder makes the Example, and
protobuf serializes each feature on its own (a one-entry map has a single
serialization), joined in key order: the bytes protobuf's deterministic
serializer gives a map with string keys.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
import tensorflow as tf
from google.protobuf.internal.encoder import _VarintBytes
from tfx_bsl.coders import example_coder

from pipeline.io.example_encoder import serialize_examples, varints
from pipeline.io.tfrecord_writer import frame_examples

INT64 = np.iinfo(np.int64)


def _lists(values, value_type):
    return pa.array(values, pa.large_list(value_type))


def _edge_batch() -> pa.RecordBatch:
    """Every layout featurecross writes, with the values where encodings change."""
    ints = [0, 1, 127, 128, 16_383, 16_384, 2 ** 35, INT64.max, -1, INT64.min]
    rows = len(ints)
    long_text = "é" * 100  # 200 bytes: a two-byte length
    return pa.RecordBatch.from_arrays([
        _lists([[v] for v in ints], pa.int64()),                                  # scalar int
        _lists([list(range(i * 40)) for i in range(rows)], pa.int64()),           # sequences
        _lists([[] if i % 3 == 0 else [i, -i] for i in range(rows)], pa.int64()),  # some empty
        _lists([[float(i), float("nan"), float("inf"), -0.0] for i in range(rows)],
               pa.float32()),                                                     # dense floats
        _lists([[1.5] * (i % 4) for i in range(rows)], pa.float32()),             # sparse values
        _lists([[np.float32(3.4e38)] for _ in range(rows)], pa.float32()),         # scalar float
        _lists([[b""], [b"x"], [long_text.encode()], ["東京".encode()], [b"\x00\n"],
                [b"a" * 127], [b"a" * 128], [b""], [b"UA"], [b"z" * 20_000]],
               pa.large_binary()),                                                # scalar bytes
        _lists([[b"a", b""] * (i % 3) for i in range(rows)], pa.large_binary()),  # bytes lists
        _lists([[i] for i in range(rows)], pa.int64()),
    ], names=["id", "tokens", "tokens_x", "one_hot", "sparse_values", "big",
              "carrier", "words", "k" * 300])


def _reference(record_batch: pa.RecordBatch) -> list[bytes]:
    """tfx-bsl's Examples, re-serialized with the features in key order."""
    references = []
    for record in example_coder.RecordBatchToExamples(record_batch):
        example = tf.train.Example.FromString(record)
        features = example.features.feature
        body = b"".join(tf.train.Features(feature={key: features[key]}).SerializeToString()
                        for key in sorted(features, key=str.encode))
        references.append(b"\n" + _VarintBytes(len(body)) + body)
    return references


def test_varints_match_protobuf():
    values = np.array([0, 1, 127, 128, 300, 2 ** 21, 2 ** 63 - 1, -1, -300], dtype=np.int64)
    data, lengths = varints(values)
    expected = [_VarintBytes(int(v) % 2 ** 64) for v in values]
    assert data.tobytes() == b"".join(expected)
    assert lengths.tolist() == [len(e) for e in expected]


def test_bytes_equal_protobuf_in_key_order():
    batch = _edge_batch()
    assert serialize_examples(batch) == _reference(batch)


def test_key_order_is_bytewise_with_prefixes_first():
    batch = pa.RecordBatch.from_arrays([_lists([[1]], pa.int64())] * 4,
                                       names=["a_b", "ab", "a", "B"])
    (encoded,) = serialize_examples(batch)
    positions = [encoded.index(b"\n" + bytes([len(k)]) + k.encode() + b"\x12")
                 for k in ("B", "a", "a_b", "ab")]
    assert positions == sorted(positions)
    assert [encoded] == _reference(batch)


def test_sliced_and_empty_batches():
    batch = _edge_batch()
    assert serialize_examples(batch.slice(3, 5)) == _reference(batch.slice(3, 5))
    assert serialize_examples(batch.slice(0, 0)) == []


def test_tensorflow_parses_the_values_back():
    batch = _edge_batch()
    spec = {name: tf.io.VarLenFeature({"int64": tf.int64, "float": tf.float32}.get(
        kind, tf.string)) for name, kind in [
        ("id", "int64"), ("tokens", "int64"), ("tokens_x", "int64"), ("one_hot", "float"),
        ("sparse_values", "float"), ("big", "float"), ("carrier", "bytes"),
        ("words", "bytes")]}
    parsed = tf.io.parse_example(serialize_examples(batch), spec)
    for name in spec:
        column = batch.column(name).to_pylist()
        got = tf.sparse.to_dense(parsed[name], default_value=b"" if spec[name].dtype ==
                                 tf.string else 0).numpy().tolist()
        rows = [row[:len(want)] for row, want in zip(got, column)]
        if spec[name].dtype == tf.float32:
            assert np.array_equal(np.array(sum(rows, []), np.float32),
                                  np.array(sum(column, []), np.float32), equal_nan=True), name
        else:
            assert rows == column, name


def test_framed_bytes_equal_tf_record_writer(tmp_path):
    batch = _edge_batch()
    path = tmp_path / "tf.tfrecord"
    with tf.io.TFRecordWriter(str(path)) as writer:
        for record in _reference(batch):
            writer.write(record)
    assert frame_examples(batch).tobytes() == path.read_bytes()


@pytest.mark.parametrize("column", [
    pa.array([[1.0]], pa.large_list(pa.float64())),
    pa.array([[1], None], pa.large_list(pa.int64())),
    pa.array([1, 2], pa.int64()),
], ids=["float64", "null-list", "not-a-list"])
def test_layouts_featurecross_never_writes_are_refused(column):
    with pytest.raises((TypeError, ValueError)):
        serialize_examples(pa.RecordBatch.from_arrays([column], names=["x"]))
