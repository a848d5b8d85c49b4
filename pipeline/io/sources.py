"""Reads Parquet or tf.Example TFRecord files as Arrow record batches.

Files are matched with Beam's `fileio` (so any Beam file system works:
local, `gs://`, ...) and spread over workers, a Parquet row group or a
TFRecord file at a time; each piece is read in order, so every batch knows
its file and the position of its first row: a bad row can always be named.
Parquet comes through pyarrow's batch reader; TFRecord through tf.data's
record reader and tfx-bsl's C++ tf.Example decoder.
"""

from __future__ import annotations

import contextlib
import os
import re
import zlib
from typing import Iterator

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io import fileio
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from pipeline.config import Config
from pipeline.io.rows import RawBatch, UnreadableFileError
from pipeline.transform.raw_specs import raw_schema_proto

DEFAULT_BATCH_ROWS = 16_384
_GZIP_MAGIC = b"\x1f\x8b"
_FRAMING_BYTES = 16  # per TFRecord record: length, its CRC, the data's CRC


class PlanParquetReads(beam.DoFn):
    """One Parquet file in, one read per row group out: (path, row group, first row).

    Row groups are the unit of parallelism, so one big file still spreads
    over every worker, and each read knows the file position of its rows.
    """

    def process(self, path: str) -> Iterator[tuple[str, int, int]]:
        with _reading(path, "Parquet"), FileSystems.open(
                path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
            metadata = pq.ParquetFile(handle).metadata
        first_row = 0
        for group in range(metadata.num_row_groups):
            yield path, group, first_row
            first_row += metadata.row_group(group).num_rows


def read_parquet(path: str, columns: list[str], *, batch_rows: int = DEFAULT_BATCH_ROWS,
                 row_group: int | None = None, first_row: int = 0) -> Iterator[RawBatch]:
    """The file's (or one row group's) rows as batches of the schema's columns."""
    with _reading(path, "Parquet"), FileSystems.open(
            path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
        parquet = pq.ParquetFile(handle)
        present = [c for c in columns if c in parquet.schema_arrow.names]
        groups = None if row_group is None else [row_group]
        read_first_row = first_row
        for batch in parquet.iter_batches(batch_size=batch_rows, row_groups=groups,
                                          columns=present):
            yield RawBatch(path, first_row, batch, read_first_row=read_first_row,
                           file_columns=tuple(parquet.schema_arrow.names))
            first_row += batch.num_rows


class ReadParquetBatches(beam.DoFn):
    """Reads one row group as record batches of the schema's columns."""

    def __init__(self, columns: list[str], batch_rows: int) -> None:
        self.columns = columns
        self.batch_rows = batch_rows

    def process(self, read: tuple[str, int, int]) -> Iterator[RawBatch]:
        path, group, first_row = read
        yield from read_parquet(path, self.columns, batch_rows=self.batch_rows,
                                row_group=group, first_row=first_row)


class TFRecordReader:
    """Reads TFRecord files of tf.Examples (gzip or plain) as record batches."""

    def __init__(self, schema_bytes: bytes, *, batch_rows: int = DEFAULT_BATCH_ROWS) -> None:
        from tfx_bsl.coders import example_coder
        self.new_decoder = lambda: example_coder.ExamplesToRecordBatchDecoder(schema_bytes)
        self.decoder = self.new_decoder()
        self.batch_rows = batch_rows

    def read(self, path: str) -> Iterator[tuple[RawBatch, list[bytes]]]:
        """(batch, its serialized records) pairs, in file order."""
        import tensorflow as tf
        with _reading(path, "TFRecord"):
            compression = tfrecord_compression(path)
            records = tf.data.TFRecordDataset(path, compression_type=compression)
            first_row, framed_bytes = 0, 0
            for chunk in records.batch(self.batch_rows).as_numpy_iterator():
                serialized = chunk.tolist()
                batch, errors = self._decode(list(serialized))
                yield RawBatch(path, first_row, batch, errors), serialized
                first_row += len(serialized)
                framed_bytes += sum(map(len, serialized)) + _FRAMING_BYTES * len(serialized)
            if compression and not _gzip_complete(path, framed_bytes):
                raise OSError("the gzip stream ends early: the file is truncated")

    def _decode(self, serialized: list[bytes]):
        """Decodes a batch; on failure, finds the bad records one by one.

        A decoder that failed is left in a broken state, so each failure is
        followed by a fresh one.
        """
        try:
            return self.decoder.DecodeBatch(serialized), {}
        except RuntimeError:
            self.decoder = self.new_decoder()
        errors = {}
        for index, record in enumerate(serialized):
            try:
                self.decoder.DecodeBatch([record])
            except RuntimeError as error:
                self.decoder = self.new_decoder()
                column = re.search(r'feature "([^"]+)"', str(error))
                errors[index] = (column.group(1) if column else "<record>",
                                 f"cannot be decoded: {error}")
                serialized[index] = b""  # an empty Example keeps the row's place
        return self.decoder.DecodeBatch(serialized), errors


class ReadTFRecordBatches(beam.DoFn):
    """One TFRecord file in, record batches out (a file is read from its start)."""

    def __init__(self, schema_bytes: bytes, batch_rows: int) -> None:
        self.schema_bytes = schema_bytes
        self.batch_rows = batch_rows

    def setup(self) -> None:
        self.reader = TFRecordReader(self.schema_bytes, batch_rows=self.batch_rows)

    def process(self, path: str) -> Iterator[RawBatch]:
        for batch, _ in self.reader.read(path):
            yield batch


@contextlib.contextmanager
def _reading(path: str, kind: str) -> Iterator[None]:
    """Turns a reader's failure into an error that names the file."""
    import tensorflow as tf
    try:
        yield
    except (OSError, pa.ArrowException, tf.errors.OpError) as error:
        reason = re.sub(r"\{\{.*?\}\}\s*|\s*\[Op:.*", "", str(error).splitlines()[0])
        raise UnreadableFileError(f"{path}: cannot be read as {kind}: {reason}") from error


def _gzip_complete(path: str, uncompressed_bytes: int) -> bool:
    """Whether a gzip file holds all the bytes TensorFlow read from it.

    tf.data stops quietly at some truncation points; gzip's trailer records the
    stream's length, so a mismatch means rows were lost. A multi-member file
    only records its last member there: then the whole file is checked.
    """
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
        handle.seek(-4, os.SEEK_END)
        if int.from_bytes(handle.read(4), "little") == uncompressed_bytes % 2 ** 32:
            return True
        handle.seek(0)
        inflater = zlib.decompressobj(31)
        while chunk := handle.read(1 << 20):
            while chunk:
                inflater.decompress(chunk)
                chunk = inflater.unused_data
                if chunk:  # a further gzip member
                    inflater = zlib.decompressobj(31)
        return inflater.eof


def tfrecord_compression(path: str) -> str:
    """"GZIP" or "" for a TFRecord file, from its first bytes, whatever its name."""
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
        return "GZIP" if handle.read(2) == _GZIP_MAGIC else ""


class ReadRawBatches(beam.PTransform):
    """Matches `config.input_pattern` and reads every file as RawBatch elements."""

    def __init__(self, config: Config, *, batch_rows: int = DEFAULT_BATCH_ROWS) -> None:
        super().__init__()
        self.config = config
        self.batch_rows = batch_rows

    def expand(self, pbegin):
        paths = (pbegin
                 | "MatchFiles" >> fileio.MatchFiles(self.config.input_pattern)
                 | "TakePaths" >> beam.Map(lambda metadata: metadata.path))
        if self.config.input_format == "parquet":
            reads = paths | "PlanReads" >> beam.ParDo(PlanParquetReads())
            reader = ReadParquetBatches(list(self.config.schema), self.batch_rows)
        else:  # a TFRecord file can only be read from its start
            reads = paths
            reader = ReadTFRecordBatches(raw_schema_proto(self.config).SerializeToString(),
                                         self.batch_rows)
        return (reads
                | "SpreadReads" >> beam.Reshuffle()
                | "ReadBatches" >> beam.ParDo(reader))
