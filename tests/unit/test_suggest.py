"""`featurecross suggest` (docs/outputs.md "Suggest"): the usage errors, found from the config
before any data is counted. The ranking itself is tests/jobs/test_suggest_job.py's.
"""

from __future__ import annotations

import pytest

from tests.support import run_cli, write_planted_interaction


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    return write_planted_interaction(tmp_path_factory.mktemp("suggest"))


@pytest.mark.parametrize("label, fragment", [
    ("nope", "--label nope: is neither a column of the schema nor a feature of the config"),
    ("score", "--label score: is a float column; a label must be categorical"),
    ("h1_id", "--label h1_id: is a feature that is not a bucketization"),
])
def test_a_bad_label_is_a_usage_error(planted, capsys, label, fragment):
    assert run_cli("suggest", "--config", planted, "--label", label) == 2
    assert fragment in capsys.readouterr().err


def test_no_candidates_is_a_usage_error(tmp_path, capsys):
    config = tmp_path / "one.yaml"
    config.write_text("""
input: {format: parquet, pattern: nothing.parquet}
schema: {a: {type: string}, y: {type: string}, f: {type: float}}
features: [{name: a_id, hash: a, num_bins: 10}]
""")
    assert run_cli("suggest", "--config", config, "--label", "y") == 2
    assert "no candidate crosses" in capsys.readouterr().err
