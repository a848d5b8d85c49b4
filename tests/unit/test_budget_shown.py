"""The memory budget and each feature's method, in manifest.json and report/index.html
(docs/outputs.md "The memory budget")."""

from __future__ import annotations

import dataclasses

from pipeline.diagnostics.budget import DiagnosticsBudget
from pipeline.diagnostics.report import write_report
from pipeline.job.manifest import collision_section
from tests.report_data import collision_figures, run_figures, wide_config


def _figures():
    config = wide_config()
    figures = collision_figures(config)
    first = next(iter(figures))
    figures[first] = {**figures[first], "method": "sample (bottom-4096 of the keys; ...)"}
    budget = DiagnosticsBudget(512, len(figures)).describe()
    return config, figures, budget, first


def test_the_manifest_names_the_budget_the_limit_and_each_features_method():
    _, figures, budget, first = _figures()
    section = collision_section(figures, budget)
    assert section["memory_budget_mb"] == 512
    assert section["exact_limit"] == DiagnosticsBudget(512, len(figures)).exact_limit
    assert section["methods"][first] == "sample"
    assert set(section["methods"].values()) == {"exact", "sample"}
    assert "occupancy_curve" not in section["features"][first]


def test_the_report_states_the_budget_and_how_many_features_were_sampled(tmp_path):
    config, figures, budget, _ = _figures()
    write_report(str(tmp_path), config,
                 dataclasses.replace(run_figures(figures), collision_budget=budget))
    page = (tmp_path / "report" / "index.html").read_text()
    assert "Memory budget 512 MB" in page
    assert f"(1 of {len(figures)} features" in page
    assert f"{budget['exact_limit']:,} distinct keys" in page
