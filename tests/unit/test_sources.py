"""The readers without a pipeline: row positions, row groups, decoding, broken files.

Files are written here with pyarrow and `tf.io.TFRecordWriter`; what the
readers return is compared with the rows written.
"""

from __future__ import annotations

import gzip

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import tensorflow as tf

from pipeline.config import parse_config
from pipeline.io.rows import UnreadableFileError
from pipeline.io.sources import PlanParquetReads, TFRecordReader, read_parquet, tfrecord_compression
from pipeline.transform.raw_specs import raw_schema_proto
from tests.support import to_example

CONFIG = parse_config({
    "input": {"format": "tfrecord"},
    "schema": {"name": {"type": "string"}, "code": {"type": "int"},
               "tags": {"type": "string", "shape": "sequence"}},
    "features": [{"name": "f", "hash": "name", "num_bins": 10}],
}, path="sources.yaml")
ROWS = [{"name": f"n{i}", "code": i * 7 - 30, "tags": [f"t{j}" for j in range(i % 3)]}
        for i in range(20)]


@pytest.fixture()
def parquet(tmp_path):
    """ROWS in row groups of 7, with an extra column the schema does not name."""
    path = tmp_path / "rows.parquet"
    table = pa.Table.from_pylist([{**row, "other": 1.5} for row in ROWS])
    pq.write_table(table, path, row_group_size=7)
    return str(path)


def test_parquet_reads_are_planned_per_row_group_with_their_first_row(parquet):
    assert list(PlanParquetReads().process(parquet)) == [
        (parquet, 0, 0), (parquet, 1, 7), (parquet, 2, 14)]


def test_a_row_group_reads_in_batches_that_know_their_position(parquet):
    batches = list(read_parquet(parquet, ["name", "code", "missing"], batch_rows=3,
                                row_group=1, first_row=7))
    assert [(b.file, b.first_row, b.batch.num_rows) for b in batches] == [
        (parquet, 7, 3), (parquet, 10, 3), (parquet, 13, 1)]
    assert batches[0].batch.schema.names == ["name", "code"]  # absent columns are skipped
    rows = [row for b in batches for row in b.batch.to_pylist()]
    assert rows == [{"name": r["name"], "code": r["code"]} for r in ROWS[7:14]]


def test_the_whole_file_reads_when_no_row_group_is_given(parquet):
    batches = list(read_parquet(parquet, ["code"], batch_rows=8))
    sizes = [b.batch.num_rows for b in batches]
    assert max(sizes) <= 8
    assert [b.first_row for b in batches] == [sum(sizes[:i]) for i in range(len(sizes))]
    assert [row["code"] for b in batches for row in b.batch.to_pylist()] == [
        r["code"] for r in ROWS]


def test_a_file_that_is_not_parquet_is_named(tmp_path):
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"not a parquet file at all")
    with pytest.raises(UnreadableFileError, match=rf"^{path}: cannot be read as Parquet: "):
        list(PlanParquetReads().process(str(path)))


def write_tfrecord(path, records: list[bytes], *, gzipped: bool) -> str:
    with tf.io.TFRecordWriter(str(path), options="GZIP" if gzipped else None) as writer:
        for record in records:
            writer.write(record)
    return str(path)


def reader(batch_rows: int = 8) -> TFRecordReader:
    return TFRecordReader(raw_schema_proto(CONFIG).SerializeToString(), batch_rows=batch_rows)


@pytest.mark.parametrize("gzipped", [True, False], ids=["gzip", "plain"])
def test_tfrecord_reads_decode_every_row_whatever_the_file_name(tmp_path, gzipped):
    records = [to_example(row, CONFIG.schema) for row in ROWS]
    path = write_tfrecord(tmp_path / "rows.data", records, gzipped=gzipped)
    assert tfrecord_compression(path) == ("GZIP" if gzipped else "")
    read = list(reader().read(path))
    assert [(b.first_row, b.batch.num_rows) for b, _ in read] == [(0, 8), (8, 8), (16, 4)]
    assert [r for _, serialized in read for r in serialized] == records
    decoded = [row for b, _ in read for row in b.batch.to_pylist()]
    assert decoded == [{"name": [r["name"].encode()], "code": [r["code"]],
                        "tags": [t.encode() for t in r["tags"]]} for r in ROWS]
    assert all(b.errors == {} for b, _ in read)


def test_a_record_of_the_wrong_type_is_an_error_of_its_row_only(tmp_path):
    records = [to_example(row, CONFIG.schema) for row in ROWS[:6]]
    wrong = tf.train.Example()
    wrong.features.feature["name"].bytes_list.value.append(b"x")
    wrong.features.feature["code"].float_list.value.append(6.5)  # an int column
    records[4] = wrong.SerializeToString()
    (batch, _), = reader().read(write_tfrecord(tmp_path / "r.tfrecord", records, gzipped=False))
    assert list(batch.errors) == [4]
    column, reason = batch.errors[4]
    assert column == "code" and reason.startswith("cannot be decoded")
    assert batch.batch.num_rows == 6  # the bad row keeps its place, as an empty row
    assert batch.batch.to_pylist()[5]["name"] == [b"n5"]


def test_a_truncated_gzip_tfrecord_is_named(tmp_path):
    records = [to_example(row, CONFIG.schema) for row in ROWS] * 50
    whole = write_tfrecord(tmp_path / "whole.tfrecord.gz", records, gzipped=True)
    data = open(whole, "rb").read()
    assert gzip.decompress(data)  # the untruncated file is a complete stream
    truncated = tmp_path / "truncated.tfrecord.gz"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(UnreadableFileError, match=rf"^{truncated}: cannot be read as TFRecord"):
        list(reader().read(str(truncated)))
