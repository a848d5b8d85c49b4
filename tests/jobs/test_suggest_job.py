"""`featurecross suggest --label COL` (docs/outputs.md "Suggest") on data with a planted
interaction.

The label is x1 XOR x2 (10% noise): neither input says anything about it
alone, together they say most of it. m1 and m2 are noisy copies of the label
(strong main effects, so their pair has more joint information than the XOR
pair, but nothing beyond its parts); h1 and h2 are 400-value noise. The XOR
pair must rank first for a binary, a three-valued and a bucketized label.
"""

from __future__ import annotations

import pytest
import yaml

from pipeline.config import load_config
from pipeline.explore.suggest import suggest_crosses
from tests.support import PLANTED_ROWS, run_cli, write_planted_interaction

ROWS = PLANTED_ROWS


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    return write_planted_interaction(tmp_path_factory.mktemp("suggest"))


def ranked(result: dict) -> list[tuple[str, ...]]:
    return [tuple(entry["inputs"]) for entry in result["candidates"]]


@pytest.mark.parametrize("label", ["y", "y3", "score_band"])
def test_the_planted_interaction_ranks_first(planted, label):
    result = suggest_crosses(load_config(str(planted)), [], label=label)
    order = ranked(result)
    assert order[0] == ("x1", "x2"), order[:4]
    by_pair = {tuple(e["inputs"]): e for e in result["candidates"]}
    xor, main, noise = by_pair[("x1", "x2")], by_pair[("m1", "m2")], by_pair[("h1", "h2")]
    # The main-effect pair knows more about the label; it adds nothing beyond its parts.
    assert main["joint_information_bits"] > xor["joint_information_bits"]
    assert main["interaction_bits"] < 0.05 < xor["interaction_bits"]
    assert noise["interaction_bits"] < 0.05 and noise["distinct"] > 10_000
    assert xor["distinct"] == 4 and xor["rows"] == ROWS
    assert result["label_values"] == {"y": 2, "y3": 3, "score_band": 2}[label]


def test_cli_prints_a_ranked_table_and_a_yaml_snippet(planted, capsys):
    assert run_cli("suggest", "--config", planted, "--label", "y", "--top", "3") == 0
    text = capsys.readouterr().out
    first = next(line for line in text.splitlines() if line.strip().startswith("1 "))
    assert "x1 x x2" in first
    snippet = text.split("collisions on this data):\n", 1)[1]
    features = yaml.safe_load(snippet)
    assert features[0]["cross"] == ["x1", "x2"] and features[0]["name"] == "x1_x_x2"
    assert features[0]["num_bins"] >= 4
