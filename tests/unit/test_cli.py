"""The CLI without a job: `validate`, and a run that stops before any pipeline.

What a run writes and prints, and how it fails once it runs, is
tests/jobs/test_cli_job.py's.
"""

from __future__ import annotations

from pipeline.config import load_config
from tests import edge_data
from tests.support import FLIGHTS_CONFIG, NO_PARITY_SAMPLE, run_cli

CONFIG = load_config(str(FLIGHTS_CONFIG))


def test_validate_prints_the_plan(capsys):
    assert run_cli("validate", "--config", FLIGHTS_CONFIG) == 0
    printed = capsys.readouterr().out
    assert "valid" in printed
    for feature in CONFIG.features:
        assert feature.name in printed


def test_validate_prints_the_effective_hash_key(tmp_path, capsys):
    config = edge_data.write_edge_config(tmp_path / "edge.yaml")
    assert run_cli("validate", "--config", config) == 0
    printed = capsys.readouterr().out
    assert "city_x_code: cross city x code -> 1000 bins (hash_key 0xdecafcaffe)" in printed
    assert "city_x_code_one_hot: cross city x code -> 300 bins " \
           "(hash_key 0xdecafcaffe, given as 0)" in printed
    assert "city_x_tags: cross city x tags -> 5000 bins " \
           "(hash_key -1 = 0xffffffffffffffff)" in printed
    assert "(hash_key -1 = 0xffffffffffffffff, given as 18446744073709551615)" in printed


def test_validate_reports_a_bad_config(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(FLIGHTS_CONFIG.read_text().replace("num_bins: 10000", "num_bins: 1"))
    assert run_cli("validate", "--config", bad) == 2
    assert f"{bad}: features[0].num_bins: must be at least 2" in capsys.readouterr().err


def test_run_reports_an_input_pattern_that_matches_nothing(tmp_path, capsys):
    assert run_cli("run", "--config", FLIGHTS_CONFIG, "--input", tmp_path / "none-*.parquet",
                   "--output", tmp_path / "out", *NO_PARITY_SAMPLE) == 1
    assert "no files match the input pattern" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
