"""Writes Arrow record batches as gzip TFRecord files of tf.Examples.

Beam's `WriteToTFRecord` takes one element per record, and its per-element
cost (and one gzip call per record) was most of the job's time. This writer
takes a whole record batch at a time: `pipeline.io.example_encoder` lays out the
tf.Examples and their TFRecord framing in one buffer, and Beam's file systems
take the bytes (any file system). `pipeline.io.part_files` names the files and
runs the writer on a thread of its own.

The bytes are reproducible: tf.Example features in a fixed key order (the
encoder's), and a gzip header without a timestamp (zlib's and ISA-L's header
carries mtime 0).
"""

from __future__ import annotations

import functools
import struct

import google_crc32c
import numpy as np
import pyarrow as pa
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from isal import isal_zlib

from pipeline.io.example_encoder import (
    Piece,
    example_header,
    example_pieces,
    join_rows,
    prefix_piece,
)

_LENGTH = struct.Struct("<Q")
_CRC = struct.Struct("<I")
_MASK_DELTA = 0xA282EAD8
_GZIP_LEVEL = 1     # ISA-L's level 1: ~4x faster than zlib's level 1, files no larger
_GZIP_WBITS = 31    # zlib window 2**15 with a gzip header and trailer


def masked_crc32c(data: bytes) -> int:
    """TFRecord's checksum: CRC-32C, rotated right by 15 bits, plus a constant."""
    return int(_mask(np.array([google_crc32c.value(data)], dtype=np.uint32))[0])


def _mask(crcs: np.ndarray) -> np.ndarray:
    crcs = crcs.astype(np.uint64)
    rotated = ((crcs >> 15) | (crcs << 17)) & 0xFFFFFFFF
    return ((rotated + _MASK_DELTA) & 0xFFFFFFFF).astype("<u4")


@functools.lru_cache(maxsize=4096)
def _header(length: int) -> bytes:
    """A record's length and its checksum; records repeat lengths, so it is cached."""
    packed = _LENGTH.pack(length)
    return packed + _CRC.pack(masked_crc32c(packed))


def frame_records(records: list[bytes]) -> bytes:
    """Records in TFRecord framing: length, its checksum, data, its checksum."""
    checksums = np.fromiter(map(google_crc32c.value, records), dtype=np.uint32,
                            count=len(records))
    trailers = _mask(checksums).tobytes()
    parts = []
    for index, record in enumerate(records):
        parts += (_header(len(record)), record, trailers[4 * index:4 * index + 4])
    return b"".join(parts)


def frame_examples(batch: pa.RecordBatch) -> np.ndarray:
    """The batch's rows as TFRecord records of serialized tf.Examples, in one buffer.

    The framing is laid out with the Examples (`pipeline.io.example_encoder`);
    only the data checksums are filled in afterwards, once the bytes exist.
    """
    pieces, features_lengths = example_pieces(batch)

    def framed_header(features_length: int) -> bytes:
        start = example_header(features_length)
        return _header(len(start) + features_length) + start

    header = prefix_piece(features_lengths, framed_header)
    pieces = [header, *pieces, Piece.constant(bytes(_CRC.size))]
    data = join_rows(pieces, batch.num_rows).tobytes()
    ends = np.cumsum(header.row_lengths(batch.num_rows) + features_lengths + _CRC.size)
    starts = np.concatenate([[0], ends[:-1]]) + _LENGTH.size + _CRC.size
    records = map(data.__getitem__, map(slice, starts.tolist(), (ends - _CRC.size).tolist()))
    checksums = np.fromiter(map(google_crc32c.value, records), dtype=np.uint32, count=len(ends))
    framed = np.frombuffer(bytearray(data), dtype=np.uint8)
    trailers = (ends - _CRC.size)[:, None] + np.arange(_CRC.size)
    framed[trailers] = _mask(checksums).view(np.uint8).reshape(-1, _CRC.size)
    return framed


class _ExampleFileWriter:
    """A file handle taking record batches: encodes, frames and gzips each one."""

    def __init__(self, raw) -> None:
        self.raw = raw
        self.compressor = isal_zlib.compressobj(_GZIP_LEVEL, isal_zlib.DEFLATED, _GZIP_WBITS)

    def write_batch(self, batch: pa.RecordBatch) -> None:
        self.raw.write(self.compressor.compress(frame_examples(batch)))

    def close(self) -> None:
        try:
            self.raw.write(self.compressor.flush())
        finally:
            self.raw.close()


def open_example_file(path: str) -> _ExampleFileWriter:
    """A new gzip TFRecord file at `path` (any Beam file system) taking record batches."""
    # Our own gzip stream: Beam's compresses with zlib at level 6, on this thread.
    return _ExampleFileWriter(FileSystems.create(path, "application/octet-stream",
                                                 CompressionTypes.UNCOMPRESSED))
