"""RowChecker on hand-built Arrow batches, no Beam: what is clean, what is invalid, and why.

Expected clean values are written out from the inputs and the config's
defaults (docs/config.md "Missing and invalid values": a null cell takes the default, a missing
sequence is empty); expected invalid rows name the file, the row's position
in the file and the column.
"""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

from pipeline.config import parse_config
from pipeline.io.rows import InvalidRow, RawBatch, RowChecker
from pipeline.transform.raw_specs import raw_arrow_schema

CONFIG = parse_config({
    "input": {"format": "parquet"},
    "schema": {
        "name": {"type": "string", "default": "none"},
        "code": {"type": "int"},
        "price": {"type": "float", "default": 0.5},
        "tags": {"type": "string", "shape": "sequence"},
    },
    "features": [{"name": "f", "hash": "name", "num_bins": 10}],
}, path="rows.yaml")
FILE = "gs://bucket/part-7.parquet"


def raw(first_row: int = 0, errors=None, **columns: pa.Array) -> RawBatch:
    return RawBatch(FILE, first_row, pa.RecordBatch.from_pydict(columns), errors or {})


def clean_rows(batch: pa.RecordBatch) -> list[dict]:
    """Clean batch rows with each one-value list unwrapped (TFXIO layout -> values)."""
    return [{name: (cell if name == "tags" else cell[0]) for name, cell in row.items()}
            for row in batch.to_pylist()]


def check(batch: RawBatch):
    clean, invalid = RowChecker(CONFIG).check(batch)
    assert clean.schema == raw_arrow_schema(CONFIG)
    assert clean.num_rows + len(invalid) == batch.batch.num_rows  # nothing dropped silently
    return clean, invalid


def test_good_rows_come_out_in_list_layout_with_defaults_for_nulls():
    clean, invalid = check(raw(
        name=pa.array(["a", None, "東京"]),
        code=pa.array([1, -2**63, 2**63 - 1]),
        price=pa.array([None, 2.25, -1.0]),
        tags=pa.array([["x", "y"], None, []], pa.list_(pa.string()))))
    assert invalid == []
    assert clean_rows(clean) == [
        {"name": b"a", "code": 1, "price": 0.5, "tags": [b"x", b"y"]},
        {"name": b"none", "code": -2**63, "price": 2.25, "tags": []},
        {"name": "東京".encode(), "code": 2**63 - 1, "price": -1.0, "tags": []},
    ]


def test_an_absent_column_takes_its_default_or_invalidates_every_row():
    clean, invalid = check(raw(code=pa.array([1, 2]),
                               tags=pa.array([["t"], []], pa.list_(pa.string()))))
    assert invalid == []
    assert [row["name"] for row in clean_rows(clean)] == [b"none", b"none"]
    assert [row["price"] for row in clean_rows(clean)] == [0.5, 0.5]
    _, invalid = check(raw(name=pa.array(["a", "b"])))
    assert [(r.row, r.column) for r in invalid] == [(0, "code"), (1, "code")]
    assert all("no default" in r.reason for r in invalid)


def test_a_null_without_default_is_invalid_and_located_in_its_file():
    clean, invalid = check(raw(first_row=100, name=pa.array(["a", "b", "c"]),
                               code=pa.array([1, None, 3])))
    assert clean_rows(clean) == [{"name": b"a", "code": 1, "price": 0.5, "tags": []},
                                 {"name": b"c", "code": 3, "price": 0.5, "tags": []}]
    (row,) = invalid
    assert (row.file, row.row, row.column) == (FILE, 101, "code")
    assert row.reason == "is null or missing, and the column has no default"
    assert row.values == {"name": "b", "code": None}
    assert row.message() == f"{FILE}: row 101: column 'code': {row.reason}"


def test_ints_and_floats_cast_when_exact_and_are_invalid_otherwise():
    clean, invalid = check(raw(code=pa.array([3.0, 6.5, 2.0]), price=pa.array([1, 2, 3])))
    assert [r["code"] for r in clean_rows(clean)] == [3, 2]
    assert [r["price"] for r in clean_rows(clean)] == [1.0, 3.0]
    assert [(r.row, r.column, r.reason) for r in invalid] == [
        (1, "code", "holds a value that is not a valid int")]


def test_a_column_of_the_wrong_type_invalidates_every_row():
    _, invalid = check(raw(code=pa.array(["six", "7"])))
    assert [(r.row, r.column) for r in invalid] == [(0, "code"), (1, "code")]
    assert all(r.reason == "has type string, which cannot be read as int" for r in invalid)


def test_a_scalar_column_takes_one_value_lists_and_rejects_longer_ones():
    clean, invalid = check(raw(code=pa.array([[4], [5, 6], None], pa.list_(pa.int64()))))
    assert [r["code"] for r in clean_rows(clean)] == [4]
    assert [(r.row, r.reason) for r in invalid] == [
        (1, "holds 2 values; a scalar needs one"),
        (2, "is null or missing, and the column has no default")]


def test_a_sequence_column_takes_scalars_and_rejects_nulls_inside():
    clean, invalid = check(raw(code=pa.array([1, 2, 3]),
                               tags=pa.array(["solo", None, "x"])))
    assert [r["tags"] for r in clean_rows(clean)] == [[b"solo"], [], [b"x"]]
    assert invalid == []
    clean, invalid = check(raw(code=pa.array([1, 2, 3]),
                               tags=pa.array([["a"], ["b", None], ["c"]],
                                             pa.list_(pa.string()))))
    assert [r["tags"] for r in clean_rows(clean)] == [[b"a"], [b"c"]]
    assert [(r.row, r.column, r.reason) for r in invalid] == [
        (1, "tags", "holds a null inside a sequence")]


def test_reader_errors_are_kept_and_the_first_problem_of_a_row_wins():
    _, invalid = check(raw(first_row=10, errors={0: ("price", "cannot be decoded: bad")},
                           code=pa.array([None, None], pa.int64())))
    assert [(r.row, r.column, r.reason) for r in invalid] == [
        (10, "price", "cannot be decoded: bad"),
        (11, "code", "is null or missing, and the column has no default")]


@pytest.mark.parametrize("values, expected", [
    ({"name": b"\xff\xfeab", "code": 1}, {"name": "\ufffd\ufffdab", "code": 1}),
    ({"name": "東京", "tags": ["a", None]}, {"name": "東京", "tags": ["a", None]}),
])
def test_invalid_rows_serialize_as_json_lines(values, expected):
    line = InvalidRow(FILE, 3, "code", "why", values).to_json()
    assert "\n" not in line
    assert json.loads(line) == {"file": FILE, "row": 3, "column": "code", "reason": "why",
                                "values": expected}


def test_a_row_message_shows_the_offending_value():
    _, invalid = check(raw(first_row=5, code=pa.array([[1, 2, 3]], pa.list_(pa.int64()))))
    assert invalid[0].message() == (f"{FILE}: row 5: column 'code': holds 3 values; a scalar "
                                    "needs one (value: [1, 2, 3])")
    _, invalid = check(raw(code=pa.array([2.5])))
    assert invalid[0].message().endswith("is not a valid int (value: 2.5)")


def test_a_long_value_is_cut_in_the_message_only():
    tags = [f"tag{i}" for i in range(100)] + [None]
    _, (row,) = check(raw(code=pa.array([1]), tags=pa.array([tags], pa.list_(pa.string()))))
    assert row.message().endswith("...)") and len(row.message()) < len(FILE) + 200
    assert json.loads(row.to_json())["values"]["tags"] == tags


def test_a_column_of_the_wrong_type_is_reported_as_the_column_not_row_0():
    _, invalid = check(raw(first_row=40, code=pa.array(["six", "7"])))
    assert invalid[0].message() == (f"{FILE}: column 'code', every row: has type string, "
                                    "which cannot be read as int")
    assert [r.row for r in invalid] == [40, 41]  # quarantine still sets every row aside
    assert "whole_column" not in json.loads(invalid[0].to_json())
