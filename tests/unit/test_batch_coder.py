"""The record batch coder: a lossless round trip, and a size estimate that encodes nothing."""

import apache_beam as beam
import pyarrow as pa

from pipeline.io.batch_coder import RecordBatchCoder
from pipeline.job.steps import POSITIONED_BATCH


def _batch() -> pa.RecordBatch:
    ids = pa.LargeListArray.from_arrays(pa.array([0, 1, 3, 3], pa.int64()),
                                        pa.array([5, 6, 7], pa.int64()))
    text = pa.array([b"a", None, b"ccc"], pa.large_binary())
    return pa.RecordBatch.from_arrays([ids, text], names=["ids", "text"])


def test_round_trip_keeps_schema_and_values():
    coder = RecordBatchCoder()
    batch = _batch()
    decoded = coder.decode(coder.encode(batch))
    assert decoded.schema == batch.schema
    assert decoded.equals(batch)
    sliced = batch.slice(1, 2)
    assert coder.decode(coder.encode(sliced)).equals(sliced)


def test_size_estimate_does_not_encode(monkeypatch):
    coder = RecordBatchCoder()

    def refuse(_):
        raise AssertionError("estimate_size encoded the batch")

    monkeypatch.setattr(coder, "encode", refuse)
    assert coder.get_impl().estimate_size(_batch()) >= _batch().get_total_buffer_size()


def test_registered_for_the_steps_output_type():
    assert isinstance(beam.coders.registry.get_coder(pa.RecordBatch), RecordBatchCoder)
    coder = beam.coders.registry.get_coder(POSITIONED_BATCH)
    assert isinstance(coder, beam.coders.TupleCoder)
    assert isinstance(coder.coders()[1], RecordBatchCoder)
