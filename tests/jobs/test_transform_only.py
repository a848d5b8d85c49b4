"""Transform-only runs (`--transform-fn OUT_A`) apply OUT_A's frozen graph.

OUT_A is the edge-value config run on data set A. A transform-only run on a
second data set B must give exactly what OUT_A/serving gives for B's rows;
one on A itself must reproduce OUT_A's data; its manifest must carry
OUT_A's quantile boundaries; a config whose features the frozen graph does
not produce must be refused before any data is read.
"""

from __future__ import annotations

import pytest

from pipeline.config import load_config
from tests import edge_data
from tests.support import (
    NO_PARITY_SAMPLE,
    batch_rows,
    manifest_boundaries,
    read_manifest,
    read_raw_rows,
    row_differences,
    run_cli,
    served_rows,
)


@pytest.fixture(scope="module")
def run_a(edge_parquet_run) -> edge_data.EdgeRun:
    return edge_parquet_run


def transform_only(run_a: edge_data.EdgeRun, data, out) -> None:
    """The tests below compare every row with run A's serving or data themselves."""
    assert run_cli("run", "--config", run_a.config, "--input", data, "--output", out,
                   "--transform-fn", run_a.out, *NO_PARITY_SAMPLE) == 0


@pytest.fixture(scope="module")
def run_b(run_a, tmp_path_factory):
    """The frozen graph of run A applied to the second edge set, B."""
    root = tmp_path_factory.mktemp("transform_only_b")
    data = edge_data.write_edge_set(root / "input", seed=edge_data.SEED_B)
    transform_only(run_a, data.parquet, root / "out")
    return root / "out", data


@pytest.fixture(scope="module")
def rerun_a(run_a, tmp_path_factory):
    """The frozen graph of run A applied to A's own data again."""
    out = tmp_path_factory.mktemp("transform_only_a") / "out"
    transform_only(run_a, run_a.data.parquet, out)
    return out


def test_transform_only_on_new_data_equals_serving_of_the_frozen_graph(run_a, run_b):
    out_b, data_b = run_b
    config = load_config(str(run_a.config))
    names = list(config.keep) + [f.name for f in config.features]
    expected = served_rows(run_a.out, config, read_raw_rows(data_b.parquet, config))
    assert row_differences(batch_rows(out_b, config), expected, names) == []
    assert read_manifest(out_b)["transform_fn_from"] == str(run_a.out)
    assert read_manifest(out_b)["rows"]["written"] == len(data_b.rows)


def test_transform_only_on_the_same_data_reproduces_the_run(run_a, rerun_a):
    config = load_config(str(run_a.config))
    names = list(config.keep) + [f.name for f in config.features]
    assert row_differences(batch_rows(rerun_a, config), batch_rows(run_a.out, config),
                           names) == []


def test_transform_only_keeps_the_frozen_quantile_boundaries(run_a, run_b, rerun_a):
    frozen = manifest_boundaries(run_a.out)
    assert frozen["price_bucket"]  # a quantile bucketize feature is there
    assert manifest_boundaries(run_b[0]) == frozen
    assert manifest_boundaries(rerun_a) == frozen


def drop_poly(text: str) -> str:
    poly = next(line for line in text.splitlines() if "name: poly" in line)
    return text.replace(poly + "\n", "")


def change_num_bins(text: str) -> str:
    """Same outputs and shapes; only the frozen graph's bin count differs."""
    old = "cross: [city, code], num_bins: 1000"
    return text.replace(old, old.replace("1000", "999"))


@pytest.mark.parametrize("edit", [drop_poly, change_num_bins], ids=["drop_feature", "num_bins"])
def test_transform_only_refuses_a_config_the_graph_does_not_fit(run_a, tmp_path, capsys, edit):
    text = run_a.config.read_text(encoding="utf-8")
    other = tmp_path / "other.yaml"
    other.write_text(edit(text), encoding="utf-8")
    assert other.read_text(encoding="utf-8") != text
    assert run_cli("run", "--config", other, "--input", run_a.data.parquet,
                   "--output", tmp_path / "out", "--transform-fn", run_a.out,
                   *NO_PARITY_SAMPLE) == 1
    error = capsys.readouterr().err
    assert "does not produce the features" in error
    assert str(other) in error
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.yaml"]  # nothing left
