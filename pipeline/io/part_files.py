"""Writes `data/part-SSSSS-of-NNNNN` files cut and named by input position.

Beam's file sinks write one file per bundle and number the files in the
order workers finish, so a rerun (or another runner) gives other files. Here
every output batch carries its input position (file, read, first row; see
`pipeline.io.rows.Position`) and each read of the input (a Parquet row group,
a TFRecord file) becomes its own part file. A read's batches come out of the
reader in order and pass the fused check and transform steps in that order,
so a part file's bytes depend only on the input. Files are numbered at the end
in input order. Should a runner ever hand a read's batches over out of order,
the writer starts a new file there instead of mixing them: the content stays
equal even where the bytes could not (docs/outputs.md "Reproducible reruns").
"""

from __future__ import annotations

import collections
import concurrent.futures
import os
import uuid
from typing import Iterator

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.transforms.window import GlobalWindows

from pipeline.io.layout import PARTS_TEMP_DIR
from pipeline.io.pause_points import pause_point
from pipeline.io.rows import Position
from pipeline.io.tfrecord_writer import open_example_file

_PARQUET_ROW_GROUP_BYTES = 64 << 20   # as Beam's Parquet sink: one row group per ~64 MB


class _ParquetFileWriter:
    """Buffers tables into row groups of about 64 MB; no compression (Beam's default)."""

    def __init__(self, path: str, schema: pa.Schema) -> None:
        self.raw = FileSystems.create(path, "application/x-parquet",
                                      CompressionTypes.UNCOMPRESSED)
        self.writer = pq.ParquetWriter(self.raw, schema, compression="none",
                                       use_compliant_nested_type=False)
        self.pending: list[pa.Table] = []
        self.pending_bytes = 0

    def write_batch(self, table: pa.Table) -> None:
        self.pending.append(table)
        self.pending_bytes += table.nbytes
        if self.pending_bytes >= _PARQUET_ROW_GROUP_BYTES:
            self._flush()

    def _flush(self) -> None:
        if self.pending:
            table = pa.concat_tables(self.pending)
            self.writer.write_table(table, row_group_size=table.num_rows)
        self.pending, self.pending_bytes = [], 0

    def close(self) -> None:
        try:
            self._flush()
            self.writer.close()
        finally:
            self.raw.close()


class _WriteQueue:
    """Runs file writes on a thread of their own, in the order they came.

    Parquet's encoder, NumPy's copies and ISA-L's deflate spend most of their
    time outside the GIL, so writing one batch (or closing one file) overlaps
    with transforming the next batch on the main thread. One worker keeps the
    writes in order, and at most two wait, so memory stays flat. A failed
    write is raised by the next call.
    """

    _PENDING = 2

    def __init__(self) -> None:
        self.worker = concurrent.futures.ThreadPoolExecutor(max_workers=1)
        self.pending: collections.deque = collections.deque()

    def submit(self, write, *args) -> None:
        while len(self.pending) >= self._PENDING:
            self.pending.popleft().result()
        self.pending.append(self.worker.submit(write, *args))

    def drain(self) -> None:
        """Waits until every write submitted so far is done."""
        while self.pending:
            self.pending.popleft().result()

    def shutdown(self) -> None:
        self.worker.shutdown()


class PartFileFormat:
    """How one output format opens a part file and what a batch becomes in it."""

    def __init__(self, suffix: str, schema: pa.Schema | None = None) -> None:
        self.suffix = suffix
        self.schema = schema  # Parquet only

    def open(self, path: str):
        if self.schema is not None:
            return _ParquetFileWriter(path, self.schema)
        return open_example_file(path)


class _WriteReads(beam.DoFn):
    """(position, batch) in; one temp file per run of a read's batches out.

    Emits (position of the file's first batch, temp path, rows) when the
    file is closed: when the next read starts, or at the end of the bundle.
    The writes run on a `_WriteQueue`; the bundle ends once they are done.
    """

    def __init__(self, file_format: PartFileFormat, temp_dir: str, to_output) -> None:
        self.file_format = file_format
        self.temp_dir = temp_dir
        self.to_output = to_output

    def setup(self) -> None:
        self.writes = _WriteQueue()

    def teardown(self) -> None:
        self.writes.shutdown()

    def start_bundle(self) -> None:
        self.current = None  # [first position, last position, temp path, writer, rows]

    def process(self, element: tuple[Position, pa.RecordBatch]) -> Iterator:
        position, batch = element
        current = self.current
        if current is not None and not (position.read == current[1].read
                                        and position.first_row > current[1].first_row):
            yield self._close()
            current = None
        if current is None:
            path = os.path.join(self.temp_dir, f"{uuid.uuid4().hex}{self.file_format.suffix}")
            current = self.current = [position, position, path,
                                      self.file_format.open(path), 0]
        self.writes.submit(current[3].write_batch, self.to_output(batch))
        current[1] = position
        current[4] += batch.num_rows

    def finish_bundle(self) -> Iterator:
        last = self._close() if self.current is not None else None
        self.writes.drain()
        pause_point("data")
        if last is not None:
            yield GlobalWindows.windowed_value(last)

    def _close(self) -> tuple[Position, str, int]:
        first, _, path, writer, rows = self.current
        self.current = None
        self.writes.submit(writer.close)
        return first, path, rows


def _name_files(written: list[tuple[Position, str, int]], data_dir: str,
                file_format: PartFileFormat) -> list[str]:
    """Moves the temp files to `part-SSSSS-of-NNNNN` in input order; returns the names."""
    written = sorted(written, key=lambda entry: entry[0])
    temp_dir = os.path.join(data_dir, PARTS_TEMP_DIR)
    if not written:  # an empty input still gives one (empty) file, as Beam's sinks do
        path = os.path.join(temp_dir, f"empty{file_format.suffix}")
        file_format.open(path).close()
        written = [(None, path, 0)]
    names = [os.path.join(data_dir, f"part-{index:05d}-of-{len(written):05d}"
                                    f"{file_format.suffix}")
             for index in range(len(written))]
    FileSystems.rename([path for _, path, _ in written], names)
    _remove_tree(temp_dir)  # files of failed attempts, and the directory itself
    return names


def _remove_tree(directory: str) -> None:
    import tensorflow as tf
    if tf.io.gfile.exists(directory):
        tf.io.gfile.rmtree(directory)


class WritePartFiles(beam.PTransform):
    """(position, batch) pairs in; `data_dir/part-SSSSS-of-NNNNN{suffix}` files out.

    `to_output` turns a batch into what the format's writer takes.
    """

    def __init__(self, data_dir: str, file_format: PartFileFormat, to_output=lambda b: b) -> None:
        super().__init__()
        self.data_dir = data_dir
        self.file_format = file_format
        self.to_output = to_output

    def expand(self, keyed):
        temp_dir = os.path.join(self.data_dir, PARTS_TEMP_DIR)
        return (keyed
                | "WriteTempFiles" >> beam.ParDo(_WriteReads(self.file_format, temp_dir,
                                                             self.to_output))
                | "ListTempFiles" >> beam.combiners.ToList()
                | "NameFiles" >> beam.Map(_name_files, self.data_dir, self.file_format))
