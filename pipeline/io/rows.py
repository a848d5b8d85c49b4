"""Checks raw record batches against the config's schema, column at a time.

A raw batch (any Arrow layout a reader gives) becomes a batch in TFXIO's
layout (see `pipeline.transform.raw_specs`) holding only valid rows, with nulls replaced
by the column's default. Every other row comes back as an `InvalidRow` that
names the file, the row and the column, so nothing is dropped silently.
All the work is vectorized in pyarrow; per-row Python runs only for rows
that are already known to be bad.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Mapping, NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.config import Column, Config
from pipeline.transform.raw_specs import as_lists, column_value_type, raw_arrow_schema


class InvalidInputError(ValueError):
    """A bad row in `--on-invalid fail` mode; the message locates it."""


class UnreadableFileError(IOError):
    """An input file that cannot be read at all (not Parquet, truncated, ...)."""


MISSING_COLUMN = "has no column"  # a declared column the file lacks, named as such
NAN_REASON = "is NaN, and the column has no default (NaN counts as missing)"
_SHOWN_VALUE_CHARS = 80  # a long sequence is cut in messages (invalid/ keeps it whole)


@dataclasses.dataclass(frozen=True)
class InvalidRow:
    file: str
    row: int        # 0-based position of the row in its file
    column: str
    reason: str
    values: Mapping[str, Any]
    # The column's type is wrong in the whole file, not this row's value.
    whole_column: bool = dataclasses.field(default=False, compare=False)

    def to_json(self) -> str:
        record = {"file": self.file, "row": self.row, "column": self.column,
                  "reason": self.reason, "values": self.values}
        return json.dumps(record, default=_json_value, ensure_ascii=False)

    def message(self) -> str:
        """Where the problem is and, when the cell has one, the value found there."""
        if self.reason.startswith(MISSING_COLUMN):
            return f"{self.file} {self.reason}"
        if self.whole_column:
            return f"{self.file}: column {self.column!r}, every row: {self.reason}"
        message = f"{self.file}: row {self.row}: column {self.column!r}: {self.reason}"
        value = self.values.get(self.column)
        if value is not None:
            shown = repr(value)
            if len(shown) > _SHOWN_VALUE_CHARS:
                shown = shown[:_SHOWN_VALUE_CHARS - 3] + "..."
            message += f" (value: {shown})"
        return message


class Position(NamedTuple):
    """Where a batch sits in the input; sorting positions gives the input order.

    `read_first_row` is the first row of the read the batch came from (a
    Parquet row group, a whole TFRecord file): output part files are cut there.
    """
    file: str
    read_first_row: int
    first_row: int

    @property
    def read(self) -> tuple[str, int]:
        return self.file, self.read_first_row


@dataclasses.dataclass(frozen=True)
class RawBatch:
    """What readers emit: rows `first_row ...` of `file`, as Arrow.

    `errors` maps a row's index in `batch` to (column, reason) for rows the
    reader could not decode at all (they are present in `batch` as empty rows).
    """
    file: str
    first_row: int
    batch: pa.RecordBatch
    errors: Mapping[int, tuple[str, str]] = dataclasses.field(default_factory=dict)
    read_first_row: int = 0
    file_columns: tuple[str, ...] | None = None  # every column of a Parquet file

    @property
    def position(self) -> Position:
        return Position(self.file, self.read_first_row, self.first_row)


_ACCEPTED_TYPES = {
    "string": (pa.types.is_string, pa.types.is_large_string, pa.types.is_binary,
               pa.types.is_large_binary),
    "int": (pa.types.is_integer, pa.types.is_floating),
    "float": (pa.types.is_integer, pa.types.is_floating),
    "bool": (pa.types.is_boolean, pa.types.is_integer),  # read as int64 0/1
}


class RowChecker:
    """Splits raw batches into a clean batch and the invalid rows."""

    def __init__(self, config: Config) -> None:
        self.columns = list(config.schema.values())
        self.arrow_schema = raw_arrow_schema(config)

    def check(self, raw: RawBatch) -> tuple[pa.RecordBatch, list[InvalidRow]]:
        clean, invalid, _ = self.check_counting_nan(raw)
        return clean, invalid

    def check_counting_nan(self, raw: RawBatch) -> tuple[pa.RecordBatch, list[InvalidRow], int]:
        """`check`, plus how many rows held a NaN float (docs/config.md "Missing and
        invalid values": NaN is missing)."""
        rows = raw.batch.num_rows
        reasons: dict[int, tuple[str, str]] = dict(raw.errors)
        arrays, whole_columns = [], set()
        nan_rows = np.zeros(rows, dtype=bool)
        for column in self.columns:
            array, problems, wrong_type = self._column(raw, column, nan_rows)
            if wrong_type:
                whole_columns.add(column.name)
            for row, reason in problems.items():
                reasons.setdefault(row, (column.name, reason))
            arrays.append(array)
        clean = pa.RecordBatch.from_arrays(arrays, schema=self.arrow_schema)
        if not reasons:
            return clean, [], int(nan_rows.sum())
        keep = np.ones(rows, dtype=bool)
        keep[list(reasons)] = False
        invalid = [InvalidRow(raw.file, raw.first_row + row, column, reason,
                              _row_values(raw.batch, row), column in whole_columns)
                   for row, (column, reason) in sorted(reasons.items())]
        return clean.filter(pa.array(keep)), invalid, int(nan_rows.sum())

    def _column(self, raw: RawBatch, column: Column,
                nan_rows: np.ndarray) -> tuple[pa.Array, dict[int, str], bool]:
        """The column in list layout, {row: reason} for its bad rows, and whether the
        column's type itself is wrong (then every row is bad). Rows holding a NaN
        float are flagged in `nan_rows`."""
        batch = raw.batch
        rows = batch.num_rows
        target = column_value_type(column)
        index = batch.schema.get_field_index(column.name)
        # A column absent from the file reads as all nulls.
        array = batch.column(index) if index >= 0 else pa.nulls(rows, target)
        if (index < 0 and raw.file_columns is not None and not column.has_default
                and not column.is_sequence):
            reason = (f"{MISSING_COLUMN} {column.name!r}; its columns are: "
                      f"{', '.join(raw.file_columns)}")
            placeholder = as_lists(_placeholder(rows, target), np.ones(rows, np.int64))
            return placeholder, dict.fromkeys(range(rows), reason), True
        array = _decoded(array)  # a pandas category reads as its values
        is_list = pa.types.is_list(array.type) or pa.types.is_large_list(array.type)
        value_type = array.type.value_type if is_list else array.type
        if not any(accepts(value_type) for accepts in _ACCEPTED_TYPES[column.type]):
            placeholder = as_lists(_placeholder(rows, target), np.ones(rows, np.int64))
            reason = f"has type {value_type}, which cannot be read as {column.type}"
            return placeholder, dict.fromkeys(range(rows), reason), True
        problems: dict[int, str] = {}
        if column.is_sequence:
            lengths = (pc.list_value_length(array).fill_null(0).to_numpy(zero_copy_only=False)
                       if is_list else array.is_valid().cast(pa.int64()).to_numpy(
                           zero_copy_only=False))
            flat = pc.list_flatten(array) if is_list else array.drop_null()
            values = self._cast(flat, target, column, problems, lengths)
            nan = _nan_mask(values)
            if nan is not None:
                _mark_rows(problems, lengths, nan, "holds NaN inside a sequence (NaN counts "
                           "as missing)")
                _mark_rows_in(nan_rows, lengths, nan)
                values = pc.if_else(nan, pa.scalar(0.0, values.type), values)
            if values.null_count:
                _mark_rows(problems, lengths, values.is_null(), "holds a null inside a sequence")
                values = values.fill_null(_placeholder(1, target)[0])
            return as_lists(values, lengths), problems, False
        if is_list:
            lengths = pc.list_value_length(array).fill_null(0)
            single = pc.equal(lengths, 1)
            for row in np.flatnonzero(pc.greater(lengths, 1).to_numpy(zero_copy_only=False)):
                problems[int(row)] = f"holds {lengths[row].as_py()} values; a scalar needs one"
            array = pc.list_element(pc.if_else(single, array, pa.scalar(None, array.type)), 0)
        values = self._cast(array, target, column, problems, None)
        nan = _nan_mask(values)
        if nan is not None:
            flagged = nan.to_numpy(zero_copy_only=False)
            nan_rows |= flagged
            if not column.has_default:
                for row in np.flatnonzero(flagged):
                    problems.setdefault(int(row), NAN_REASON)
            values = pc.if_else(nan, pa.scalar(None, values.type), values)
        return (*self._finish(values, column, problems), False)

    def _finish(self, values: pa.Array, column: Column,
                problems: dict[int, str]) -> tuple[pa.Array, dict[int, str]]:
        if values.null_count:
            if column.has_default:
                values = values.fill_null(pa.scalar(_encode(column.default), values.type))
            else:
                for row in np.flatnonzero(values.is_null().to_numpy(zero_copy_only=False)):
                    problems.setdefault(int(row), "is null or missing, and the column has "
                                        "no default")
                values = values.fill_null(_placeholder(1, values.type)[0])
        return as_lists(values, np.ones(len(values), dtype=np.int64)), problems

    def _cast(self, values: pa.Array, target: pa.DataType, column: Column,
              problems: dict[int, str], lengths: np.ndarray | None) -> pa.Array:
        """Casts safely; values that do not fit become nulls and problems."""
        try:
            cast = values.cast(target, safe=True)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
        else:
            return cast if column.type != "bool" else self._zero_or_one(cast, problems, lengths)
        cast, bad = [], []
        for position, value in enumerate(values):
            try:
                cast.append(pa.array([value.as_py()], values.type).cast(target, safe=True)[0]
                            .as_py())
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                cast.append(None)
                bad.append(position)
        mask = np.zeros(len(values), dtype=bool)
        mask[bad] = True
        row_lengths = lengths if lengths is not None else np.ones(len(values), dtype=np.int64)
        _mark_rows(problems, row_lengths, pa.array(mask),
                   f"holds a value that is not a valid {column.type}")
        cast = pa.array(cast, target)  # bad values are nulls now, already reported
        return cast if column.type != "bool" else self._zero_or_one(cast, problems, lengths)

    @staticmethod
    def _zero_or_one(values: pa.Array, problems: dict[int, str],
                     lengths: np.ndarray | None) -> pa.Array:
        """A bool column holds 0 and 1 only (docs/config.md "Every key")."""
        bad = pc.fill_null(pc.and_(pc.not_equal(values, 0), pc.not_equal(values, 1)), False)
        if not pc.any(bad).as_py():
            return values
        row_lengths = lengths if lengths is not None else np.ones(len(values), dtype=np.int64)
        _mark_rows(problems, row_lengths, bad, "holds a value that is not a valid bool (0 or 1)")
        return pc.if_else(bad, pa.scalar(0, values.type), values)


def _nan_mask(values: pa.Array) -> pa.Array | None:
    """True where a float value is NaN (not null), or None when there is none."""
    if not pa.types.is_floating(values.type):
        return None
    nan = pc.fill_null(pc.is_nan(values), False)
    return nan if pc.any(nan).as_py() else None


def _mark_rows_in(flags: np.ndarray, lengths: np.ndarray, bad_values: pa.Array) -> None:
    flagged = np.flatnonzero(bad_values.to_numpy(zero_copy_only=False))
    flags[np.searchsorted(np.cumsum(lengths), flagged, side="right")] = True


def _mark_rows(problems: dict[int, str], lengths: np.ndarray, bad_values: pa.Array,
               reason: str) -> None:
    """Marks the rows owning the flagged values (values laid out by `lengths`)."""
    flagged = np.flatnonzero(bad_values.to_numpy(zero_copy_only=False))
    if not len(flagged):
        return
    owners = np.searchsorted(np.cumsum(lengths), flagged, side="right")
    for row in np.unique(owners):
        problems.setdefault(int(row), reason)


def _decoded(array: pa.Array) -> pa.Array:
    """A dictionary-encoded column (a pandas categorical) as its plain values."""
    if pa.types.is_dictionary(array.type):
        return array.dictionary_decode()
    is_list = pa.types.is_list(array.type) or pa.types.is_large_list(array.type)
    if is_list and pa.types.is_dictionary(array.type.value_type):
        return array.cast(pa.list_(array.type.value_type.value_type))
    return array


def _placeholder(rows: int, value_type: pa.DataType) -> pa.Array:
    """Stand-in values for rows that will be dropped as invalid."""
    fill = b"" if pa.types.is_large_binary(value_type) else 0
    return pa.array([fill] * rows, value_type)


def _encode(value: Any) -> Any:
    return value.encode("utf-8") if isinstance(value, str) else value


def _row_values(batch: pa.RecordBatch, row: int) -> dict[str, Any]:
    return batch.slice(row, 1).to_pylist()[0]


def _json_value(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)
