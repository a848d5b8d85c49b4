"""Serializes list-layout record batches as tf.Examples, a whole batch at a time.

featurecross writes lists of int64, float32 and bytes (docs/outputs.md "Output"). For
these, a tf.train.Example's protobuf wire format is a fixed pattern of tags,
varint lengths and the values themselves, and everything before a feature's
values depends only on their byte length. So a batch is encoded with NumPy:
per feature, one prefix per distinct length (looked up for every row) and
the values (varints or raw floats, for all rows at once); Arrow's binary
join then lays each row's pieces side by side. tfx-bsl's C++ encoder builds
a protobuf message per row and holds the GIL throughout; this is several
times faster.

The bytes are those of protobuf's own serializer with the features in key
order, so a rerun writes the same bytes (tests pin this against
`tf.train.Example` and TensorFlow's writer and parser).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_LEN = 0x0A            # field 1, length-delimited: Example.features, Features.feature,
                       # the map key, and the `value` of each *List
_MAP_VALUE = 0x12      # field 2, length-delimited: the map entry's Feature
_LIST_TAGS = {"bytes": 0x0A, "float": 0x12, "int64": 0x1A}  # Feature's oneof fields


@dataclasses.dataclass
class Piece:
    """One piece of every row, in one of three layouts.

    - constant: `data` (1-d) is the same bytes in every row;
    - padded: `data` is 2-d, row i's bytes are `data[i, :lengths[i]]`
      (`lengths=None`: the whole row);
    - ragged: `data` is flat, row i's bytes are `data[offsets[i]:offsets[i+1]]`.
    """
    data: np.ndarray
    lengths: np.ndarray | None = None
    offsets: np.ndarray | None = None

    @classmethod
    def constant(cls, data: bytes) -> "Piece":
        return cls(np.frombuffer(data, dtype=np.uint8))

    @classmethod
    def ragged(cls, data: np.ndarray, offsets: np.ndarray) -> "Piece":
        """A ragged piece; padded instead when every row has the same length."""
        lengths = np.diff(offsets)
        if len(lengths) and (lengths == lengths[0]).all():
            first = offsets[0]
            return cls(data[first:first + len(lengths) * lengths[0]].reshape(len(lengths), -1))
        return cls(data, offsets=offsets)

    def row_lengths(self, rows: int) -> np.ndarray:
        if self.offsets is not None:
            return np.diff(self.offsets)
        if self.lengths is not None:
            return self.lengths
        return np.full(rows, self.data.shape[-1], dtype=np.int64)


def padded_varints(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Protobuf varints of integers: a (values, most bytes) array, and each one's length.

    Negative int64s take ten bytes (two's complement), as protobuf writes them.
    """
    unsigned = np.asarray(values).astype(np.uint64)
    lengths = np.ones(len(unsigned), dtype=np.int64)
    for group in range(1, 10):
        longer = unsigned >= np.uint64(1 << (7 * group))
        if not longer.any():
            break
        lengths += longer
    width = int(lengths.max(initial=1))
    if width == 1:
        return unsigned.astype(np.uint8)[:, None], lengths
    shifts = np.arange(width, dtype=np.uint64) * np.uint64(7)
    groups = ((unsigned[:, None] >> shifts) & np.uint64(0x7F)).astype(np.uint8)
    groups[np.arange(width) < lengths[:, None] - 1] |= 0x80  # continuation bits
    return groups, lengths


def varints(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Protobuf varints of integers: (all their bytes, the byte count of each)."""
    groups, lengths = padded_varints(values)
    if groups.shape[1] == 1:
        return groups[:, 0], lengths
    return groups[np.arange(groups.shape[1]) < lengths[:, None]], lengths


def _offsets(lengths: np.ndarray) -> np.ndarray:
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return offsets


def _varint_piece(values: np.ndarray) -> tuple[Piece, np.ndarray]:
    groups, lengths = padded_varints(values)
    return Piece(groups, lengths if groups.shape[1] > 1 else None), lengths


def _binary_offsets(array: pa.Array) -> np.ndarray:
    """The offsets of a binary or string array as int64, its slice applied."""
    large = pa.types.is_large_binary(array.type) or pa.types.is_large_string(array.type)
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int64 if large else np.int32)
    return offsets[array.offset:array.offset + len(array) + 1].astype(np.int64)


def _list_parts(column: pa.Array) -> tuple[str, np.ndarray, pa.Array]:
    """(kind, values per row, the values) of a list column, its slice applied."""
    if not (pa.types.is_list(column.type) or pa.types.is_large_list(column.type)):
        raise TypeError(f"expected a list column, got {column.type}")
    if column.null_count:
        raise ValueError("a null list has no tf.Example encoding here; "
                         "featurecross's outputs never hold one")
    offsets = column.offsets.to_numpy().astype(np.int64)
    values = column.values.slice(offsets[0], offsets[-1] - offsets[0])
    value_type = values.type
    if pa.types.is_integer(value_type):
        kind = "int64"
    elif pa.types.is_float32(value_type):
        kind = "float"
    elif any(check(value_type) for check in (pa.types.is_binary, pa.types.is_large_binary,
                                             pa.types.is_string, pa.types.is_large_string)):
        kind = "bytes"
    else:
        raise TypeError(f"no tf.Example list holds {value_type}")
    if values.null_count:
        raise ValueError("a null value has no tf.Example encoding")
    return kind, np.diff(offsets), values


def _payload(kind: str, counts: np.ndarray, values: pa.Array) -> tuple[Piece, np.ndarray]:
    """The values of each row's *List message, as written (varints, floats or
    `value` fields), and their byte length."""
    row_offsets = _offsets(counts)
    if kind == "bytes":
        # One `value` field per string: tag, length, the bytes.
        value_offsets = _binary_offsets(values)
        value_bytes = np.frombuffer(values.buffers()[2], dtype=np.uint8)
        sizes, _ = _varint_piece(np.diff(value_offsets))
        fields = [Piece.constant(bytes([_LEN])), sizes, Piece.ragged(value_bytes, value_offsets)]
        field_lengths = sum(piece.row_lengths(len(values)) for piece in fields)
        row_ends = _offsets(field_lengths)[row_offsets]
        return Piece.ragged(join_rows(fields, len(values)), row_ends), np.diff(row_ends)
    if kind == "float":
        data = values.to_numpy(zero_copy_only=False).astype("<f4", copy=False).view(np.uint8)
        return Piece.ragged(data, 4 * row_offsets), 4 * counts
    numbers = values.to_numpy(zero_copy_only=False)
    if len(counts) and (counts == 1).all():
        return _varint_piece(numbers)
    data, lengths = varints(numbers)
    offsets = _offsets(lengths)[row_offsets]
    return Piece.ragged(data, offsets), np.diff(offsets)


def _varint(value: int) -> bytes:
    """One non-negative integer's varint; built for each distinct prefix, so plain Python."""
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _entry_prefix(key_field: bytes, kind: str, payload_length: int) -> bytes:
    """Everything of a map entry before its values; it depends on their length only."""
    if kind == "bytes":
        values_list = b""
    else:  # a packed repeated field: tag and byte length; nothing at all when empty
        values_list = bytes([_LEN]) + _varint(payload_length) if payload_length else b""
    list_length = len(values_list) + payload_length
    feature = bytes([_LIST_TAGS[kind]]) + _varint(list_length) + values_list
    entry = key_field + bytes([_MAP_VALUE]) + _varint(len(feature) + payload_length) + feature
    return bytes([_LEN]) + _varint(len(entry) + payload_length) + entry


_DENSE_LENGTHS = 1 << 16  # below this, distinct lengths are found by counting, not sorting


def _distinct(lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`np.unique(lengths, return_inverse=True)` for byte lengths (non-negative)."""
    if lengths.max() >= _DENSE_LENGTHS:
        return np.unique(lengths, return_inverse=True)
    present = np.bincount(lengths) > 0
    return np.flatnonzero(present), (np.cumsum(present) - 1)[lengths]


def prefix_piece(lengths: np.ndarray, prefix) -> Piece:
    """A piece whose bytes in each row are `prefix(length of that row)`.

    Rows have few distinct lengths, so each prefix is built once and looked up.
    """
    if not len(lengths):
        return Piece(np.zeros((0, 0), dtype=np.uint8))
    distinct, inverse = _distinct(lengths)
    prefixes = [prefix(int(length)) for length in distinct]
    widths = np.array([len(p) for p in prefixes], dtype=np.int64)
    table = np.zeros((len(prefixes), int(widths.max(initial=0))), dtype=np.uint8)
    for row, data in enumerate(prefixes):
        table[row, :len(data)] = np.frombuffer(data, dtype=np.uint8)
    if len(prefixes) == 1:
        return Piece.constant(prefixes[0])
    same = (widths == widths[0]).all()
    return Piece(table[inverse], None if same else widths[inverse])


def _map_entry(key: str, column: pa.Array) -> tuple[list, np.ndarray]:
    """Each row's `feature` map entry for one column, and its byte length."""
    kind, counts, values = _list_parts(column)
    payload, payload_lengths = _payload(kind, counts, values)
    key_bytes = key.encode()
    key_field = bytes([_LEN]) + _varint(len(key_bytes)) + key_bytes
    prefix = prefix_piece(payload_lengths, lambda length: _entry_prefix(key_field, kind, length))
    return [prefix, payload], prefix.row_lengths(len(counts)) + payload_lengths


def example_pieces(batch: pa.RecordBatch) -> tuple[list[Piece], np.ndarray]:
    """The pieces of every row's serialized tf.Example but its first field's header,
    and the byte length of the Example's `features` field (see `example_header`)."""
    pieces, features_lengths = [], np.zeros(batch.num_rows, dtype=np.int64)
    for name in sorted(batch.schema.names, key=str.encode):
        entry, lengths = _map_entry(name, batch.column(name))
        pieces += entry
        features_lengths += lengths
    return pieces, features_lengths


def example_header(features_length: int) -> bytes:
    """The start of a serialized Example: its `features` field's tag and length."""
    return bytes([_LEN]) + _varint(features_length)


def _as_binary(piece: Piece, rows: int) -> pa.LargeBinaryArray | pa.Scalar:
    """A piece as one binary value per row (a scalar when every row's is the same)."""
    if piece.offsets is not None:
        offsets, data = piece.offsets, piece.data
    elif piece.data.ndim == 1:
        return pa.scalar(piece.data.tobytes(), pa.large_binary())
    elif piece.lengths is None:
        offsets = np.arange(rows + 1, dtype=np.int64) * piece.data.shape[1]
        data = piece.data
    else:  # the few short varying pieces (varint lengths): drop their padding
        offsets = _offsets(piece.lengths)
        data = piece.data[np.arange(piece.data.shape[1]) < piece.lengths[:, None]]
    buffers = [None, pa.py_buffer(np.ascontiguousarray(offsets, dtype=np.int64)),
               pa.py_buffer(np.ascontiguousarray(data))]
    return pa.LargeBinaryArray.from_buffers(pa.large_binary(), rows, buffers)


def join_rows(pieces: list[Piece], rows: int) -> np.ndarray:
    """Row 0's pieces in order, then row 1's, ...: one flat, read-only byte buffer.

    Arrow's element-wise binary join does the copying, row by row in C++ and
    without the GIL; NumPy copies of the narrow pieces' columns cost three
    times as much.
    """
    if not rows:
        return np.zeros(0, dtype=np.uint8)
    parts = [_as_binary(piece, rows) for piece in pieces]
    if not any(isinstance(part, pa.Array) for part in parts):  # every piece the same bytes
        return np.frombuffer(b"".join(part.as_py() for part in parts) * rows, dtype=np.uint8)
    joined = pc.binary_join_element_wise(*parts, pa.scalar(b"", pa.large_binary()))
    offsets = np.frombuffer(joined.buffers()[1], dtype=np.int64)
    data = joined.buffers()[2]
    if data is None:  # every row empty
        return np.zeros(0, dtype=np.uint8)
    return np.frombuffer(data, dtype=np.uint8)[offsets[joined.offset]:offsets[joined.offset + rows]]


def serialize_examples(batch: pa.RecordBatch) -> list[bytes]:
    """One serialized tf.Example per row, features in key order."""
    pieces, features_lengths = example_pieces(batch)
    header = prefix_piece(features_lengths, example_header)
    data = join_rows([header, *pieces], batch.num_rows).tobytes()
    offsets = _offsets(header.row_lengths(batch.num_rows) + features_lengths)
    return [data[start:end] for start, end in zip(offsets[:-1], offsets[1:])]
