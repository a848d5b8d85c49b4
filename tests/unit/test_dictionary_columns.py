"""Arrow dictionary columns (a pandas categorical in Parquet) are read as their values
(pipeline/io/rows.py), scalar and inside lists, nulls and defaults included."""

from __future__ import annotations

import pyarrow as pa

from pipeline.config import parse_config
from pipeline.io.rows import RawBatch, RowChecker


def test_dictionary_columns_are_checked_as_their_values():
    config = parse_config({"input": {"format": "parquet"},
                           "schema": {"device": {"type": "string", "default": "none"},
                                      "tags": {"type": "string", "shape": "sequence"}},
                           "features": [{"name": "h", "hash": "device", "num_bins": 8}]})
    device = pa.array(["ios", None, "web", "ios"]).dictionary_encode()
    tags = pa.array([["a"], [], ["b", "a"], None],
                    pa.list_(pa.dictionary(pa.int32(), pa.string())))
    batch = pa.RecordBatch.from_arrays([device, tags], names=["device", "tags"])
    clean, invalid = RowChecker(config).check(RawBatch("f.parquet", 0, batch))
    assert invalid == []
    assert clean.column(0).to_pylist() == [[b"ios"], [b"none"], [b"web"], [b"ios"]]
    assert clean.column(1).to_pylist() == [[b"a"], [], [b"b", b"a"], []]
