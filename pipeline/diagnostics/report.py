"""`OUT/report/index.html`: one self-contained page that reads at hundreds of features.

A summary table comes first, one row per hashed feature, worst first, so the
feature losing most to its modulo is at the top (docs/outputs.md "Collision
report"); a transform-only run puts its "Drift" section (`drift_report`;
docs/running.md "Drift against the frozen analysis") above it. Detail charts
(rows per bin, as inline SVG: no files, no network, a few microseconds each)
follow for the worst few features only.
"""

from __future__ import annotations

import html
import math
import os
from typing import Mapping

import tensorflow as tf

from pipeline.config import Config
from pipeline.diagnostics.drift_report import drift_section
from pipeline.diagnostics.run_figures import RunFigures
from pipeline.io.layout import REPORT_DIR, REPORT_PAGE

DETAIL_CHARTS = 12  # the worst features that get an occupancy chart

_STYLE = """body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:first-child,th:first-child{
text-align:left}figure{display:inline-block;margin:1em 1em 0 0}svg{background:#fff}
.chart line{stroke:#999}.chart polyline{fill:none;stroke:#1f77b4;stroke-width:1.5}
.chart text{font-size:10px;fill:#333}"""


def worst_first(figures: Mapping[str, dict]) -> list[str]:
    """Feature names by collision rate, highest first (ties: more keys lost first)."""
    return sorted(figures, key=lambda n: (-figures[n]["collision_rate"],
                                          -figures[n]["colliding"], n))


def write_report(output_dir: str, config: Config, figures: RunFigures) -> str | None:
    """Writes index.html into OUT/report/.

    Returns the directory, or None when there is nothing to show (the
    collision report off, or no hashed features, and no drift section).
    """
    collisions, drift = figures.collisions, figures.drift
    if not collisions and not drift:
        return None
    report_dir = os.path.join(output_dir, REPORT_DIR)
    tf.io.gfile.makedirs(report_dir)
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>featurecross report"
            f"</title><style>{_STYLE}</style></head><body><h1>featurecross report</h1>"
            f"<p>Config: {html.escape(config.path)}.</p>"
            + drift_section(drift)
            + (collision_section(config, collisions, figures.collision_budget)
               if collisions else "")
            + "</body></html>\n")
    with tf.io.gfile.GFile(os.path.join(report_dir, REPORT_PAGE), "w") as handle:
        handle.write(page)
    return report_dir


def collision_section(config: Config, figures: Mapping[str, dict],
                      budget: Mapping | None = None) -> str:
    """The "Collision report": the memory budget, the summary table, then charts for
    the worst few. The "counted" column says per feature whether it was counted
    exactly or from samples, and with which error."""
    features = {f.name: f for f in config.features}
    order = worst_first(figures)
    rows = []
    for name in order:
        entry = figures[name]
        feature = features[name]
        occupancy = entry["rows_per_bin"]
        rows.append("<tr>" + "".join(f"<td>{html.escape(str(cell))}</td>" for cell in (
            name, f"{feature.kind} {' x '.join(feature.inputs)}", f"{entry['num_bins']:,}",
            f"{entry['distinct']:,}", f"{entry['bins_used']:,}",
            f"{entry['collision_rate']:.2%}", f"{entry['expected_collision_rate']:.2%}",
            f"{occupancy['max']:,}", f"{occupancy['p50']:,}", f"{occupancy['p99']:,}",
            entry["method"])) + "</tr>")
    header = "".join(f"<th>{h}</th>" for h in (
        "feature", "transform", "num_bins", "distinct keys", "bins used", "collision rate",
        "expected (random hash)", "rows/bin max", "p50", "p99", "counted"))
    charts = "".join(occupancy_svg(name, figures[name]) for name in order[:DETAIL_CHARTS])
    shown = (f"the worst {DETAIL_CHARTS} of {len(order)}" if len(order) > DETAIL_CHARTS
             else "every feature")
    sampled = sum(1 for entry in figures.values() if entry["method"] != "exact")
    limits = (f"<p id='budget'>Memory budget {budget['memory_budget_mb']:,} MB for "
              f"{budget['hashed_features']:,} hashed features: each counted exactly up to "
              f"{budget['exact_limit']:,} distinct keys, above it from samples "
              f"({sampled:,} of {len(figures):,} features; their error is in the "
              "\"counted\" column).</p>" if budget else "")
    return ("<h2>Collision report</h2>" + limits + "<p>Collision rate: the share of distinct "
            "raw values or combinations that share their bin with another. Rows per bin over "
            f"the bins in use. Worst first.</p><table id='collisions'><tr>{header}</tr>"
            f"{''.join(rows)}</table><h3>Rows per bin ({shown})</h3>{charts}")


def occupancy_svg(name: str, entry: dict, *, width: int = 360, height: int = 220) -> str:
    """Rows per used bin, busiest first, on log axes, as an inline SVG figure."""
    curve = entry.get("occupancy_curve") or [[1, 0]]
    left, right, top, bottom = 44, 10, 22, 30
    max_rank = max(rank for rank, _ in curve)
    max_rows = max(max(rows, 1) for _, rows in curve)
    x_decades = max(math.log10(max_rank), 1.0)
    y_decades = max(math.log10(max_rows), 1.0)

    def x(rank: float) -> float:
        return left + (width - left - right) * math.log10(max(rank, 1)) / x_decades

    def y(rows: float) -> float:
        return height - bottom - (height - top - bottom) * math.log10(max(rows, 1)) / y_decades

    points = " ".join(f"{x(rank):.1f},{y(rows):.1f}" for rank, rows in curve)
    ticks = []
    for power in range(int(x_decades) + 1):
        ticks.append(f"<text x='{x(10 ** power):.1f}' y='{height - bottom + 12}' "
                     f"text-anchor='middle'>{10 ** power:g}</text>")
    for power in range(int(y_decades) + 1):
        ticks.append(f"<text x='{left - 4}' y='{y(10 ** power) + 3:.1f}' "
                     f"text-anchor='end'>{10 ** power:g}</text>")
    title = (f"{name}: {entry['collision_rate']:.2%} of {entry['distinct']:,} keys collide")
    return (f"<figure><svg class='chart' xmlns='http://www.w3.org/2000/svg' width='{width}' "
            f"height='{height}' role='img' aria-label='{html.escape(name)} occupancy'>"
            f"<text x='{left}' y='14'>{html.escape(title)}</text>"
            f"<line x1='{left}' y1='{height - bottom}' x2='{width - right}' "
            f"y2='{height - bottom}'/><line x1='{left}' y1='{top}' x2='{left}' "
            f"y2='{height - bottom}'/>{''.join(ticks)}"
            f"<polyline points='{points}'/>"
            f"<text x='{(left + width - right) / 2}' y='{height - 4}' text-anchor='middle'>"
            f"bins in use, busiest first</text></svg></figure>")
