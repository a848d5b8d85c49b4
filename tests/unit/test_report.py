"""report/index.html at hundreds of features: a summary table worst first, charts for
the worst few only, one self-contained file (docs/outputs.md "Collision report")."""

from __future__ import annotations

import math
import re

from pipeline.diagnostics.report import DETAIL_CHARTS, occupancy_svg, write_report
from tests.report_data import collision_figures, run_figures, wide_config

DRIFT = {"gate": True, "features": [],
         "crossings": [{"feature": "c0_x_c1", "figure": "unseen_rate", "value": 0.2,
                        "threshold": 0.05}]}


def _page(tmp_path, drift=None) -> tuple[str, dict]:
    config = wide_config()
    figures = collision_figures(config)
    write_report(str(tmp_path), config, run_figures(figures, drift))
    return (tmp_path / "report" / "index.html").read_text(), figures


def test_the_wide_config_has_hundreds_of_features():
    assert len(wide_config().features) == 66 + 220


def test_summary_rows_are_worst_first_with_charts_for_the_worst_few(tmp_path):
    page, figures = _page(tmp_path)
    listed = re.findall(r"<tr><td>([^<]+)</td>", page)
    assert sorted(listed) == sorted(figures)
    rates = [figures[name]["collision_rate"] for name in listed]
    assert rates == sorted(rates, reverse=True)
    charted = re.findall(r"aria-label='([^']+) occupancy'", page)
    assert charted == listed[:DETAIL_CHARTS]


def test_the_page_is_one_small_file_with_nothing_to_fetch(tmp_path):
    page, _ = _page(tmp_path)
    assert [p.name for p in (tmp_path / "report").iterdir()] == ["index.html"]
    assert len(page.encode()) < 1_000_000
    assert not re.search(r"""(src|href)=['"]""", page)
    assert "<script" not in page


def test_drift_comes_first_when_a_drift_gate_ran(tmp_path):
    page, _ = _page(tmp_path, DRIFT)
    assert page.index("<h2>Drift</h2>") < page.index("<h2>Collision report</h2>")


def test_the_chart_draws_a_power_law_as_a_straight_line():
    entry = {"collision_rate": 0.5, "distinct": 100,
             "occupancy_curve": [[10 ** k, 10 ** (4 - k)] for k in range(5)]}
    points = re.search(r"points='([^']+)'", occupancy_svg("f", entry)).group(1)
    xy = [tuple(map(float, p.split(","))) for p in points.split()]
    slopes = {round((y2 - y1) / (x2 - x1), 2) for (x1, y1), (x2, y2) in zip(xy, xy[1:])}
    assert len(slopes) == 1 and math.isfinite(slopes.pop())
    assert xy[0][0] < xy[-1][0] and xy[0][1] < xy[-1][1]  # y grows downwards in SVG
