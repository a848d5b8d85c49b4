"""Valid input with NaN floats passes the parity sample (docs/running.md "The parity sample"):
a NaN served by serving/ equals the NaN in the batch output."""

from __future__ import annotations

import math

import pyarrow as pa
import pyarrow.parquet as pq

from tests.support import FLIGHTS_CONFIG, SAMPLE_PARQUET, read_manifest, run_cli


def test_nan_floats_pass_the_parity_sample(tmp_path):
    table = pq.read_table(SAMPLE_PARQUET).slice(0, 200)
    delays = table["dep_delay"].to_pylist()
    delays[3] = delays[50] = math.nan
    delays[7] = math.inf
    table = table.set_column(table.schema.get_field_index("dep_delay"), "dep_delay",
                             pa.array(delays, table["dep_delay"].type))
    pq.write_table(table, tmp_path / "nan.parquet")
    out = tmp_path / "out"
    assert run_cli("run", "--config", FLIGHTS_CONFIG, "--input", tmp_path / "nan.parquet",
                   "--output", out, "--verify-rows", 200) == 0
    parity = read_manifest(out)["parity_sample"]
    assert (parity["status"], parity["rows_served"], parity["unmatched_rows"]) == ("passed",
                                                                                   200, 0)
