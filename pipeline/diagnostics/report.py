"""`OUT/report/index.html`: one page for the collision report and the drift figures.

The collision section's figures come from `collision_counts` (exact or
sketched, as each row says), with one occupancy PNG per feature; it lists
the worst features first, so the one losing most to its modulo is at the
top (docs/outputs.md "Collision report"). A transform-only run adds the "Drift"
section (`drift_report`; docs/running.md "Drift against the frozen analysis").
"""

from __future__ import annotations

import html
import io
import os
from typing import Mapping

import tensorflow as tf

from pipeline.config import Config
from pipeline.diagnostics.drift_report import drift_section
from pipeline.diagnostics.run_figures import RunFigures
from pipeline.io.layout import REPORT_DIR, REPORT_PAGE

_STYLE = """body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:first-child,th:first-child{
text-align:left}img{max-width:480px;margin:1em 1em 0 0}"""


def worst_first(figures: Mapping[str, dict]) -> list[str]:
    """Feature names by collision rate, highest first (ties: more keys lost first)."""
    return sorted(figures, key=lambda n: (-figures[n]["collision_rate"],
                                          -figures[n]["colliding"], n))


def write_report(output_dir: str, config: Config, figures: RunFigures) -> str | None:
    """Writes index.html (and a PNG per hashed feature) into OUT/report/.

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
            + (collision_section(report_dir, config, collisions) if collisions else "")
            + drift_section(drift) + "</body></html>\n")
    with tf.io.gfile.GFile(os.path.join(report_dir, REPORT_PAGE), "w") as handle:
        handle.write(page)
    return report_dir


def collision_section(report_dir: str, config: Config, figures: Mapping[str, dict]) -> str:
    """The "Collision report" section; writes its NAME.png per feature into report_dir."""
    features = {f.name: f for f in config.features}
    rows, images = [], []
    for name in worst_first(figures):
        entry = figures[name]
        feature = features[name]
        occupancy = entry["rows_per_bin"]
        rows.append("<tr>" + "".join(f"<td>{html.escape(str(cell))}</td>" for cell in (
            name, f"{feature.kind} {' x '.join(feature.inputs)}", f"{entry['num_bins']:,}",
            f"{entry['distinct']:,}", f"{entry['bins_used']:,}",
            f"{entry['collision_rate']:.2%}", f"{entry['expected_collision_rate']:.2%}",
            occupancy["max"], occupancy["p50"], occupancy["p99"], entry["method"])) + "</tr>")
        image = f"{name}.png"
        with tf.io.gfile.GFile(os.path.join(report_dir, image), "wb") as handle:
            handle.write(occupancy_png(name, entry))
        images.append(f'<img src="{html.escape(image)}" alt="{html.escape(name)} occupancy">')
    header = "".join(f"<th>{h}</th>" for h in (
        "feature", "transform", "num_bins", "distinct keys", "bins used", "collision rate",
        "expected (random hash)", "rows/bin max", "p50", "p99", "counted"))
    return ("<h2>Collision report</h2><p>Collision rate: the share of distinct raw values "
            "or combinations that share their bin with another. Rows per bin over the bins "
            f"in use. Worst first.</p><table><tr>{header}</tr>{''.join(rows)}</table>"
            f"<h3>Rows per bin</h3>{''.join(images)}")


def occupancy_png(name: str, entry: dict) -> bytes:
    """Rows per used bin, largest first, on log axes."""
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    curve = entry.get("occupancy_curve") or [[1, 0]]
    figure = Figure(figsize=(4.8, 3.2), dpi=100)
    axes = figure.add_subplot()
    axes.plot([rank for rank, _ in curve], [max(rows, 1) for _, rows in curve],
              marker=".", linewidth=1)
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("bins in use, busiest first")
    axes.set_ylabel("rows in bin")
    axes.set_title(f"{name}: {entry['collision_rate']:.2%} of {entry['distinct']:,} keys "
                   f"collide", fontsize=9)
    figure.subplots_adjust(left=0.16, bottom=0.15, right=0.97, top=0.9)  # tight_layout: 2x slower
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()
