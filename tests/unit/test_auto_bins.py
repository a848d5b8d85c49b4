"""`num_bins: auto` (docs/config.md "num_bins: auto") in the config: what `validate` shows
and the errors. The runs that choose the sizes are tests/jobs/test_auto_bins_job.py's.
"""

from __future__ import annotations

import pytest
import yaml

from pipeline.config import ConfigError, parse_config
from tests.support import AUTO_BINS_CONFIG, run_cli


def test_validate_shows_auto(tmp_path, capsys):
    config = tmp_path / "auto.yaml"
    config.write_text(AUTO_BINS_CONFIG)
    assert run_cli("validate", "--config", config) == 0
    text = capsys.readouterr().out
    assert "route: cross origin x dest -> auto bins" in text
    assert "analysis pass: yes (quantiles, vocabularies, num_bins: auto)" in text


BASE = """
input: {format: parquet}
schema: {a: {type: string}, b: {type: string}}
features:
"""


@pytest.mark.parametrize("feature, key, fragment", [
    ("{name: x, cross: [a, b], num_bins: auto}", "features[0].max_collision_rate",
     "is required with num_bins: auto"),
    ("{name: x, cross: [a, b], num_bins: auto, max_collision_rate: 1.5}",
     "features[0].max_collision_rate", "between 0 and 1"),
    ("{name: x, cross: [a, b], num_bins: auto, max_collision_rate: 0.01, output: one_hot}",
     "features[0].output", "needs output: int"),
    ("{name: x, cross: [a, b], num_bins: 100, max_collision_rate: 0.01}",
     "features[0].max_collision_rate", "applies to num_bins: auto only"),
    ("{name: x, hash: a, num_bins: auto}", "features[0].num_bins", "auto applies to crosses"),
    ("{name: x, cross: [a, b], num_bins: automatic, max_collision_rate: 0.01}",
     "features[0].num_bins", "must be an integer"),
], ids=["no-rate", "rate-out-of-range", "one-hot", "rate-without-auto", "hash", "typo"])
def test_auto_config_errors(feature, key, fragment):
    with pytest.raises(ConfigError) as error:
        parse_config(yaml.safe_load(BASE + f"  - {feature}\n"), path="c.yaml")
    assert error.value.key == key
    assert fragment in str(error.value)
    assert str(error.value).startswith(f"c.yaml: {key}: ")
