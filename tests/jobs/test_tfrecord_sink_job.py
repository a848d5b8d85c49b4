"""The batched TFRecord writer writes exactly what TensorFlow's own writer writes,
with features in a fixed key order and gzip without a timestamp.

Here the sink in a Beam pipeline; the framing alone is tests/unit/test_tfrecord_sink.py's.
"""

from __future__ import annotations

import gzip

import apache_beam as beam
import pyarrow as pa
import pytest
import tensorflow as tf
from tfx_bsl.coders import example_coder

from pipeline.io.part_files import PartFileFormat, WritePartFiles
from pipeline.io.rows import Position


@pytest.mark.parametrize("rows", [0, 1, 1000], ids=["empty", "one", "many"])
def test_sink_writes_gzip_tfrecord_of_the_batch_examples(tmp_path, rows):
    batch = _batch(rows)
    with beam.Pipeline() as pipeline:
        _ = (pipeline
             | beam.Create([(Position("in", 0, 0), batch), (Position("in", 0, 5000), batch)])
             | WritePartFiles(str(tmp_path), PartFileFormat(".tfrecord.gz")))
    (written,) = tmp_path.glob("part-*")
    assert written.name == "part-00000-of-00001.tfrecord.gz"
    data = written.read_bytes()
    gzip.decompress(data)  # a complete gzip stream
    assert data[4:8] == b"\0\0\0\0"  # gzip's mtime field: no timestamp
    read = [tf.train.Example.FromString(r.numpy())
            for r in tf.data.TFRecordDataset(str(written), compression_type="GZIP")]
    expected = [tf.train.Example.FromString(e)
                for e in example_coder.RecordBatchToExamples(batch)] * 2
    assert read == expected


def _batch(rows: int) -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays(
        [pa.array([[i] for i in range(rows)], pa.large_list(pa.int64())),
         pa.array([[b"x" * (i % 7)] for i in range(rows)], pa.large_list(pa.large_binary())),
         pa.array([[0.5 * i] for i in range(rows)], pa.large_list(pa.float32()))],
        ["id", "text", "score"])


def test_part_files_follow_input_positions_not_arrival_order(tmp_path):
    """Reads become files in input order; a read's batches stay in one file."""
    elements = [(Position("b.parquet", 0, 0), _batch(3)),
                (Position("a.parquet", 10, 10), _batch(2)),
                (Position("a.parquet", 10, 12), _batch(4)),
                (Position("a.parquet", 0, 0), _batch(1))]
    with beam.Pipeline() as pipeline:
        _ = (pipeline | beam.Create(elements)
             | WritePartFiles(str(tmp_path), PartFileFormat(".tfrecord.gz")))
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [f"part-0000{i}-of-00003.tfrecord.gz" for i in range(3)]
    rows = [sum(1 for _ in tf.data.TFRecordDataset(str(tmp_path / name), "GZIP"))
            for name in names]
    assert rows == [1, 6, 3]
