"""`featurecross profile` (docs/outputs.md "Profile"): the errors it reports before any pipeline.

The profile of the flights sample is tests/jobs/test_profile_job.py's.
"""

from __future__ import annotations

import pytest

from tests.support import FLIGHTS_CONFIG, run_cli


def test_profile_names_an_input_that_matches_nothing(tmp_path, capsys):
    assert run_cli("profile", "--config", FLIGHTS_CONFIG,
                   "--input", tmp_path / "nothing-*.parquet") == 1
    assert "no files match the input pattern" in capsys.readouterr().err


def test_profile_rejects_a_bad_rate(capsys):
    with pytest.raises(SystemExit) as exit_info:
        run_cli("profile", "--config", FLIGHTS_CONFIG, "--max-collision-rate", "5")
    assert exit_info.value.code == 2
    assert "must be a number between 0 and 1, got 5" in capsys.readouterr().err


def test_profile_shares_the_budget_over_its_columns_and_hashed_features(tmp_path):
    from pipeline import api
    from pipeline.diagnostics.budget import BYTES_PER_KEY, DiagnosticsBudget
    from pipeline.diagnostics.fingerprints import hashed_features
    from pipeline.explore.profile import categorical_columns, profile_budget
    config = api.load(FLIGHTS_CONFIG, diagnostics_memory_mb=8)
    counted = len(categorical_columns(config)) + len(hashed_features(config))
    assert counted == 11  # 6 string and int columns, 5 crosses and hashes
    assert profile_budget(config) == DiagnosticsBudget(8, counted)
    assert profile_budget(config).exact_limit == 8 * 2**20 // counted // BYTES_PER_KEY
    default = profile_budget(api.load(FLIGHTS_CONFIG)).exact_limit
    assert default == 512 * 2**20 // counted // BYTES_PER_KEY  # not the old fixed 1,000,000


def _column_batches(values: list[str], size: int):
    import pyarrow as pa
    return [pa.RecordBatch.from_arrays([pa.array([[v] for v in values[i:i + size]])], ["a"])
            for i in range(0, len(values), size)]


@pytest.mark.parametrize("distinct", [3_000, 20_000], ids=["below", "above"])
def test_one_column_merges_on_its_own_against_brute_force(distinct):
    """Exact up to the limit; above it an estimate that says so, within its stated error."""
    import collections

    import numpy as np

    from pipeline.explore.profile import MergeColumnValues, batch_values
    rng = np.random.default_rng(7)
    values = [f"user-{i}" for i in rng.integers(0, distinct, 60_000)] + ["hot"] * 5_000
    rng.shuffle(values)
    combine = MergeColumnValues(exact_limit=4096)
    accumulators = []
    for part in range(3):  # three bundles, merged as Beam would
        accumulator = combine.create_accumulator()
        for batch in _column_batches(values[part::3], 4_000):
            accumulator = combine.add_input(accumulator, batch_values(batch, ["a"])["a"])
        accumulators.append(accumulator)
    figures = combine.extract_output(combine.merge_accumulators(accumulators))
    truth = collections.Counter(values)
    assert figures["values"] == len(values)
    assert figures["exact_limit"] == 4096
    assert figures["top_values"][0] == {"value": "hot", "count": 5_000,
                                        "share": 5_000 / len(values)}
    if len(truth) <= 4096:
        assert figures["distinct_method"] == "exact" and figures["distinct"] == len(truth)
        assert "distinct_bounds" not in figures
    else:
        assert figures["distinct_method"] == "sample"
        error = figures["distinct_relative_error"]
        assert error == pytest.approx(1 / np.sqrt(4094))
        low, high = figures["distinct_bounds"]
        assert low <= len(truth) <= high
        assert abs(figures["distinct"] / len(truth) - 1) <= 2 * error


def test_the_terminal_table_marks_an_estimated_count():
    from pipeline.explore.profile import profile_text
    entry = {"type": "string", "shape": "scalar", "null_share": 0.0, "top_values": []}
    profile = {"config": "c.yaml", "input_pattern": "x", "rows": 10, "rows_skipped_invalid": 0,
               "targets": [0.01], "features": {},
               "budget": {"memory_budget_mb": 1, "exact_limit": 4096},
               "inputs": {"user": {**entry, "distinct": 20_123, "distinct_method": "sample",
                                   "distinct_relative_error": 0.0156},
                          "city": {**entry, "distinct": 12, "distinct_method": "exact"}}}
    lines = profile_text(profile).splitlines()
    assert next(line for line in lines if line.strip().startswith("user")).split()[2] == "~20,123"
    assert next(line for line in lines if line.strip().startswith("city")).split()[2] == "12"
    assert ("  ~ estimated from a sample (relative standard error 1.56%): more than 4,096 "
            "distinct values, the exact limit per column of a 1 MB memory budget") in lines
