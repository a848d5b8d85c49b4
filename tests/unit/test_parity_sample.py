"""`--verify-rows`, the size of the parity sample every run takes of itself
(README "Exit codes"): it must be a count, refused before anything runs.

The parity sample itself is tests/jobs/test_parity_sample_job.py's.
"""

from __future__ import annotations

import pytest

from tests.support import FLIGHTS_CONFIG, run_cli


@pytest.mark.parametrize("value", ["-1", "many"])
def test_verify_rows_must_be_a_count(value, capsys):
    with pytest.raises(SystemExit) as exit_info:
        run_cli("run", "--config", FLIGHTS_CONFIG, "--verify-rows", value)
    assert exit_info.value.code == 2
    assert "--verify-rows" in capsys.readouterr().err
