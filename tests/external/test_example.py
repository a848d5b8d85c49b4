"""Smoke run of the worked example on a slice of the sample.

docs/example.md "Do crosses help? A worked example" describes the full run.

`make example` runs it on the full table; here a small slice and one epoch of
the wide model check that every feature set is featurized (train, then
transform-only on the held-out months), trained, scored and reported.
"""

from __future__ import annotations

import importlib.util
import json
import math

import pytest

from tests.support import REPO, SAMPLE_PARQUET

pytestmark = pytest.mark.external("the worked example (featurizes and trains)")


@pytest.fixture(scope="module")
def example():
    spec = importlib.util.spec_from_file_location("run_example",
                                                  REPO / "example" / "run_example.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_smoke_run_reports_all_three_feature_sets(example, tmp_path):
    results = tmp_path / "results.md"
    plot = tmp_path / "lift.png"
    example.run(["--input", str(SAMPLE_PARQUET), "--rows", "1500", "--epochs", "1",
                 "--models", "wide", "--work", str(tmp_path / "work"),
                 "--results", str(results), "--plot", str(plot)])
    rows = [line.split("|")[1:-1] for line in results.read_text().splitlines()
            if line.startswith("| ") and not line.startswith("| feature set")]
    assert [cells[0].strip() for cells in rows] == list(example.FEATURE_SETS)
    # 6 raw features; 4 hand-picked crosses; C(5, 2) = 10 generated pairs.
    assert [int(cells[1]) for cells in rows] == [6, 6 + 4, 6 + 10]
    for cells in rows:
        auc, loss = float(cells[4]), float(cells[5])
        assert 0.0 <= auc <= 1.0 and 0.0 < loss < math.inf
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for name in ("raw", "handpicked", "all_pairs"):  # eval features: the frozen graph
        manifest = json.loads((tmp_path / "work" / name / "eval" / "manifest.json").read_text())
        assert manifest["transform_fn_from"] == str(tmp_path / "work" / name / "train")
