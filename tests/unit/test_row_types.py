"""The data users bring, checked by RowChecker with no Beam (docs/config.md "Missing and
invalid values", "Every key"): pandas categories, booleans, NaN floats, a declared column
the file lacks; and the config forms that go with them."""

from __future__ import annotations

import math

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.config import ConfigError, parse_config
from pipeline.io.rows import RawBatch, RowChecker
from pipeline.io.sources import read_parquet

CONFIG = parse_config({
    "input": {"format": "parquet"},
    "schema": {
        "grade": {"type": "string"},
        "flag": {"type": "bool"},
        "ok": {"type": "bool", "default": True},
        "amount": {"type": "float", "default": -1.5},
        "score": {"type": "float"},
        "readings": {"type": "float", "shape": "sequence"},
    },
    "features": [{"name": "g_x_f", "cross": ["grade", "flag"], "num_bins": 100}],
}, path="types.yaml")


def values(batch: pa.RecordBatch) -> list[dict]:
    return [{name: (cell if name == "readings" else cell[0]) for name, cell in row.items()}
            for row in batch.to_pylist()]


def good(**overrides) -> dict:
    columns = {"grade": ["A", "B"], "flag": [True, False], "ok": [None, False],
               "amount": [1.0, 2.0], "score": [0.5, 0.25], "readings": [[1.0], []]}
    columns.update(overrides)
    return columns


def check(columns: dict, path: str = "f.parquet"):
    table = pa.table(columns)
    return RowChecker(CONFIG).check_counting_nan(RawBatch(path, 0, table.to_batches()[0]))


def test_a_pandas_category_column_reads_as_its_strings(tmp_path):
    frame = pd.DataFrame({k: v for k, v in good().items()})
    frame["grade"] = frame["grade"].astype("category")
    path = tmp_path / "cat.parquet"
    frame.to_parquet(path)
    assert pa.types.is_dictionary(pq.read_schema(path).field("grade").type)
    raw = next(read_parquet(str(path), list(CONFIG.schema)))
    clean, invalid, _ = RowChecker(CONFIG).check_counting_nan(raw)
    assert invalid == []
    assert [row["grade"] for row in values(clean)] == [b"A", b"B"]


def test_booleans_read_as_int64_zero_and_one_with_defaults():
    clean, invalid, _ = check(good())
    assert invalid == []
    assert clean.schema.field("flag").type == pa.large_list(pa.int64())
    assert [(row["flag"], row["ok"]) for row in values(clean)] == [(1, 1), (0, 0)]


def test_a_bool_column_takes_int_zero_and_one_and_refuses_other_ints():
    clean, invalid, _ = check(good(flag=[1, 2]))
    assert [row["flag"] for row in values(clean)] == [1]
    assert [(row.row, row.column, row.message()) for row in invalid] == [
        (1, "flag", "f.parquet: row 1: column 'flag': holds a value that is not a valid "
                    "bool (0 or 1) (value: 2)")]


def test_nan_is_missing_it_takes_the_default_or_makes_the_row_invalid():
    clean, invalid, nan_rows = check(good(amount=[float("nan"), 2.0],
                                          score=[0.5, float("nan")]))
    assert nan_rows == 2  # both rows held a NaN
    assert [row["amount"] for row in values(clean)] == [-1.5]  # the default, not NaN
    assert [(row.row, row.column, row.reason) for row in invalid] == [
        (1, "score", "is NaN, and the column has no default (NaN counts as missing)")]


def test_nan_inside_a_sequence_makes_the_row_invalid():
    clean, invalid, nan_rows = check(good(readings=[[1.0, float("nan")], [2.0]]))
    assert nan_rows == 1
    assert [row["readings"] for row in values(clean)] == [[2.0]]
    assert [(row.row, row.column, row.reason) for row in invalid] == [
        (0, "readings", "holds NaN inside a sequence (NaN counts as missing)")]
    assert not any(math.isnan(v) for row in values(clean) for v in row["readings"])


def test_a_declared_column_the_file_lacks_is_named_with_the_files_columns(tmp_path):
    columns = good()
    del columns["score"]
    path = tmp_path / "lacks.parquet"
    pq.write_table(pa.table(columns), path)
    raw = next(read_parquet(str(path), list(CONFIG.schema)))
    _, invalid, _ = RowChecker(CONFIG).check_counting_nan(raw)
    assert len(invalid) == 2
    assert invalid[0].message() == (f"{path} has no column 'score'; its columns are: grade, "
                                    "flag, ok, amount, readings")


def test_bool_defaults_and_uses():
    config = parse_config({
        "input": {"format": "tfrecord"},
        "schema": {"flag": {"type": "bool", "default": False}, "c": {"type": "string"}},
        "features": [{"name": "h", "hash": "flag", "num_bins": 10},
                     {"name": "x", "cross": ["c", "flag"], "num_bins": 10}],
        "keep": ["flag"]}, path="b.yaml")
    assert config.schema["flag"].default == 0
    with pytest.raises(ConfigError, match=r"schema\.flag\.default: must be a bool value"):
        parse_config({"input": {"format": "parquet"},
                      "schema": {"flag": {"type": "bool", "default": "yes"}},
                      "features": [{"name": "h", "hash": "flag", "num_bins": 10}]},
                     path="b.yaml")


def test_an_empty_features_list_beside_crosses_is_accepted():
    config = parse_config({
        "input": {"format": "parquet"},
        "schema": {"a": {"type": "string"}, "b": {"type": "int"}},
        "features": [],
        "crosses": [{"all_of": ["a", "b"], "num_bins": 100}]}, path="c.yaml")
    assert [f.name for f in config.features] == ["a_x_b"]
    with pytest.raises(ConfigError, match=r"c\.yaml: features: must be a non-empty list\."):
        parse_config({"input": {"format": "parquet"}, "schema": {"a": {"type": "string"}},
                      "features": []}, path="c.yaml")


def test_max_invalid_share_has_a_documented_default_and_is_checked():
    assert CONFIG.max_invalid_share == 0.1
    with pytest.raises(ConfigError, match=r"output\.max_invalid_share: must be a share of "
                                          r"rows\. Allowed: numbers from 0 to 1\. Received: "
                                          r"max_invalid_share=1\.5"):
        parse_config({"input": {"format": "parquet"}, "schema": {"a": {"type": "string"}},
                      "features": [{"name": "h", "hash": "a", "num_bins": 10}],
                      "output": {"max_invalid_share": 1.5}}, path="c.yaml")


