"""The "Drift" section of `OUT/report/index.html`.

Every figure of the manifest's `drift` section, written on every
transform-only run whether or not a threshold was crossed; crossings come
first, each naming the feature, the figure and the threshold (docs/running.md "Drift
against the frozen analysis"). `pipeline.diagnostics.report` puts it on the one page,
above the collision report.
"""

from __future__ import annotations

import html
from typing import Any, Mapping


def drift_section(drift: Mapping[str, Any] | None) -> str:
    """The report's "Drift" section: every figure per feature, crossings first."""
    if not drift:
        return ""
    crossings = drift["crossings"]
    if crossings:
        items = "".join(
            f"<li><b>{html.escape(c['feature'])}</b>: {html.escape(c['figure'])} "
            f"{c['value']:.4g} &gt; threshold {c['threshold']:.4g}</li>" for c in crossings)
        verdict = (f"<p class='drift'>{len(crossings)} threshold(s) crossed"
                   f"{' (gate on: the run exits 4)' if drift['gate'] else ' (warning only)'}:"
                   f"</p><ul>{items}</ul>")
    else:
        verdict = "<p>No threshold crossed.</p>"

    def cell(value, fmt="{:.4f}"):
        return "n/a" if value is None else fmt.format(value)

    hashed, bucketized = [], []
    for row in drift["features"]:
        name = html.escape(row["feature"])
        if row["kind"] == "hashed":
            shift = row["bin_shift"] or {}
            hashed.append("<tr>" + "".join(f"<td>{c}</td>" for c in (
                name, cell(row["unseen_rate"], "{:.2%}")
                + ("" if not row.get("unseen_rate_error")
                   else f" ± {row['unseen_rate_error']:.2%}"),
                cell(row["unseen_rows"], "{:,}"),
                cell(row["max_unseen_rate"], "{:.2%}"),
                cell(row["collision_rate_then"], "{:.2%}"),
                cell(row["collision_rate_now"], "{:.2%}"),
                cell(shift.get("psi")), cell(shift.get("total_variation")),
                cell(shift.get("psi_threshold")))) + "</tr>")
        else:
            shift, edges = row["bucket_shift"], row["edge_buckets"]
            bucketized.append("<tr>" + "".join(f"<td>{c}</td>" for c in (
                name, cell(shift["psi"]), cell(shift["total_variation"]),
                cell(shift["psi_threshold"]),
                f"{edges['first_rows_then']:,} / {edges['first_rows_now']:,}",
                f"{edges['last_rows_then']:,} / {edges['last_rows_now']:,}")) + "</tr>")

    def table(headers, rows):
        head = "".join(f"<th>{h}</th>" for h in headers)
        return f"<table><tr>{head}</tr>{''.join(rows)}</table>" if rows else ""

    return ("<h2>Drift</h2><p>This transform-only run's data against the baseline of the "
            "frozen analysis run. Unseen rate: the share of values whose raw combination "
            "never occurred at analysis time. PSI and total variation on row counts; a PSI "
            "counts as drift above its threshold, the larger of max_psi and the 99th "
            f"percentile of chance at these sample sizes.</p>{verdict}"
            + table(("hashed feature", "unseen rate", "unseen rows", "max_unseen_rate",
                     "collision rate then", "now", "bin PSI", "bin TV", "PSI threshold"),
                    hashed)
            + table(("bucketized feature", "bucket PSI", "bucket TV", "PSI threshold",
                     "first bucket rows then / now", "last bucket rows then / now"),
                    bucketized))
