"""`featurecross suggest --label COL` (docs/outputs.md "Suggest") on data with a planted
interaction.

The label is x1 XOR x2 (10% noise): neither input says anything about it
alone, together they say most of it. m1 and m2 are noisy copies of the label
(strong main effects, so their pair has more joint information than the XOR
pair, but nothing beyond its parts); h1 and h2 are 400-value noise. The XOR
pair must rank first for a binary, a three-valued and a bucketized label.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from pipeline.config import load_config
from pipeline.explore.suggest import suggest_crosses
from tests.support import run_cli

ROWS = 16_000
CONFIG = """
input: {{format: parquet, pattern: {data}}}
schema:
  x1: {{type: string}}
  x2: {{type: string}}
  m1: {{type: string}}
  m2: {{type: int}}
  h1: {{type: string}}
  h2: {{type: string}}
  y:  {{type: string}}
  y3: {{type: string}}
  score: {{type: float}}
features:
  - {{name: score_band, bucketize: score, boundaries: [0.5]}}
  - {{name: h1_id, hash: h1, num_bins: 1000}}
"""


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    rng = np.random.default_rng(2026)
    x1, x2 = rng.integers(0, 2, ROWS), rng.integers(0, 2, ROWS)
    y = (x1 ^ x2) ^ (rng.random(ROWS) < 0.1)
    m1 = np.where(rng.random(ROWS) < 0.9, y, 1 - y)
    m2 = np.where(rng.random(ROWS) < 0.9, y, 1 - y)
    y3 = np.where(y == 0, 0, 1 + rng.integers(0, 2, ROWS))  # 0, or 1 or 2 at random
    table = pa.table({
        "x1": [f"x1={v}" for v in x1], "x2": [f"x2={v}" for v in x2],
        "m1": [f"m1={v}" for v in m1], "m2": pa.array(m2, pa.int64()),
        "h1": [f"h{v}" for v in rng.integers(0, 400, ROWS)],
        "h2": [f"h{v}" for v in rng.integers(0, 400, ROWS)],
        "y": [str(v) for v in y], "y3": [str(v) for v in y3],
        "score": pa.array(y + rng.normal(0, 0.1, ROWS), pa.float64())})
    root = tmp_path_factory.mktemp("suggest")
    pq.write_table(table, root / "planted.parquet")
    config = root / "planted.yaml"
    config.write_text(CONFIG.format(data=root / "planted.parquet"))
    return config


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
