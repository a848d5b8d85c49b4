"""The batched TFRecord writer's framing is byte-identical to TensorFlow's own writer.

The sink in a Beam pipeline (key order, gzip) is tests/jobs/test_tfrecord_sink_job.py's.
"""

from __future__ import annotations

import tensorflow as tf

from pipeline.io.tfrecord_writer import frame_records

RECORDS = [b"", b"a", "東京".encode(), bytes(range(256)) * 40, b"same length", b"same-length"]


def test_framing_is_byte_identical_to_tf_record_writer(tmp_path):
    path = tmp_path / "tf.tfrecord"
    with tf.io.TFRecordWriter(str(path)) as writer:
        for record in RECORDS:
            writer.write(record)
    assert frame_records(RECORDS) == path.read_bytes()
