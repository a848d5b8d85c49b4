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
