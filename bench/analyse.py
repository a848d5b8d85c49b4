"""Analysis of the measured runs: medians per config, component and scale;
extrapolation; marginal throughput, ratios and targets."""

from __future__ import annotations

import statistics

from scales import CPU_TWINS, MEMORY_COMPONENTS, TARGETS, scale_rows


def project_wall(by_scale: dict, smaller: list[str], rows_l: int) -> float | None:
    """Wall at rows_l, extrapolated linearly from the two largest smaller scales.

    The per-row slope comes from wall time, or from CPU time when other load
    made the wall times of the smaller scales non-monotonic; None if neither
    gives a positive slope.
    """
    have = [s for s in smaller if s in by_scale and not by_scale[s].get("extrapolated")]
    if len(have) < 2:
        return None
    a, b = by_scale[have[-2]], by_scale[have[-1]]
    for key in ("wall_s", "cpu_s"):
        if a.get(key) is not None and b.get(key) is not None and b[key] > a[key]:
            per_row = (b[key] - a[key]) / (b["rows"] - a["rows"])
            return b["wall_s"] + per_row * (rows_l - b["rows"])
    return None


def summarize(runs: list[dict]) -> dict:
    """{config: {component: {scale: medians}}}; 'import' under config None."""
    grouped: dict = {}
    for run in runs:
        if run["returncode"] != 0 or run.get("error"):
            continue
        key = (run["config"], run["component"], run["scale"])
        grouped.setdefault(key, []).append(run)
    summary: dict = {}
    for (config, component, scale), group in grouped.items():
        rows = scale_rows(scale) if scale else 0
        wall = statistics.median(r["wall_s"] for r in group)
        entry = {
            "rows": rows, "n": len(group), "wall_s": wall,
            "wall_s_all": [round(r["wall_s"], 3) for r in group],
            "rows_per_s": rows / wall if wall else None,
            "peak_rss_mb": statistics.median(r["peak_rss_mb"] for r in group),
            "peak_pss_mb": (statistics.median(r["peak_pss_mb"] for r in group)
                            if all(r.get("peak_pss_mb") for r in group) else None),
            "cpu_s": statistics.median(r["cpu_s"] for r in group),
            "other_load_cores": statistics.median(r["other_load_cores"] for r in group),
        }
        for key in ("in_job_s", "in_process_s"):
            if all(key in r for r in group):
                entry[key] = statistics.median(r[key] for r in group)
        phases = [r["phases"] for r in group if r.get("phases")]
        if phases:
            entry["phases"] = {k: statistics.median(p[k] for p in phases) for k in phases[0]}
        summary.setdefault(str(config) if config else "_", {}).setdefault(
            component, {})[scale or "-"] = entry
    return summary


def extrapolate(summary: dict, scales: list[str], skipped: list[str]) -> None:
    for config, components in summary.items():
        if config == "_":
            continue
        for by_scale in components.values():
            for scale in skipped:
                if scale in by_scale:
                    continue
                wall = project_wall(by_scale, [s for s in scales if s != scale], scale_rows(scale))
                if wall is None:
                    continue
                rows = scale_rows(scale)
                by_scale[scale] = {"rows": rows, "n": 0, "wall_s": wall, "cpu_s": None,
                                   "rows_per_s": rows / wall, "peak_rss_mb": None,
                                   "extrapolated": True}


def marginal(by_scale: dict, small: str, large: str, key: str = "wall_s") -> float | None:
    a, b = by_scale.get(small), by_scale.get(large)
    if not a or not b or a.get(key) is None or b.get(key) is None or b[key] <= a[key]:
        return None
    return (b["rows"] - a["rows"]) / (b[key] - a[key])


def _ratio(a, b):
    return a / b if a is not None and b else None


def _meets(value, op: str, bound: float) -> bool | None:
    return None if value is None else (value >= bound if op == ">=" else value <= bound)


def derive(summary: dict, scales: list[str], mid: str, memory: str | None = None) -> dict:
    small, large = scales[0], scales[-1]
    imports = summary.get("_", {}).get("import", {}).get("-", {}).get("wall_s")
    fast = summary.get("_", {}).get("import_fast_exit", {}).get("-", {}).get("wall_s")
    derived = {"import_s": imports, "import_fast_exit_s": fast,
               "interpreter_teardown_s": imports - fast if imports and fast else None,
               "small_scale": small, "mid_scale": mid, "large_scale": large}
    for config, components in summary.items():
        if config == "_":
            continue
        d: dict = {}
        d["marginal_rows_per_s"] = {c: marginal(s, small, large) for c, s in components.items()}
        d["marginal_rows_per_s_small_to_mid"] = {
            c: marginal(s, small, mid) for c, s in components.items() if mid != large}
        # The same from CPU seconds (user+sys of the process tree): less sensitive
        # to other load on the machine than wall time.
        d["marginal_cpu_rows_per_s"] = {c: marginal(s, small, large, "cpu_s")
                                        for c, s in components.items()}
        m = d["marginal_rows_per_s"]
        mc = d["marginal_cpu_rows_per_s"]
        d["cpu_marginal_fc_over_floor"] = _ratio(mc.get("fc_parquet"), mc.get("floor_parquet"))
        d["cpu_marginal_fc_over_baseline_parquet"] = _ratio(mc.get("fc_parquet"),
                                                            mc.get("baseline_parquet"))
        d["cpu_marginal_fc_over_baseline_tfrecord"] = _ratio(mc.get("fc_tfrecord"),
                                                             mc.get("baseline_tfrecord"))
        d["marginal_report_over_no_report"] = _ratio(m.get("fc_parquet"),
                                                     m.get("fc_parquet_no_report"))
        d["cpu_marginal_report_over_no_report"] = _ratio(mc.get("fc_parquet"),
                                                         mc.get("fc_parquet_no_report"))
        d["cpu_tfrecord_over_parquet_marginal"] = _ratio(mc.get("fc_parquet"),
                                                         mc.get("fc_tfrecord"))
        d["cpu_transform_only_over_floor"] = _ratio(mc.get("fc_transform_only"),
                                                    mc.get("floor_parquet"))
        fc = components.get("fc_parquet", {})
        tfr = components.get("fc_tfrecord", {})
        fixed = fc.get(small, {}).get("wall_s")
        d["fixed_cost_s"] = fixed
        d["fixed_cost_tfrecord_s"] = tfr.get(small, {}).get("wall_s")
        d["marginal_fc_over_floor"] = _ratio(m.get("fc_parquet"), m.get("floor_parquet"))
        d["marginal_fc_tfrecord_over_floor_tfrecord"] = _ratio(m.get("fc_tfrecord"),
                                                               m.get("floor_tfrecord"))
        d["marginal_fc_over_baseline_parquet"] = _ratio(m.get("fc_parquet"),
                                                        m.get("baseline_parquet"))
        d["marginal_fc_over_baseline_tfrecord"] = _ratio(m.get("fc_tfrecord"),
                                                         m.get("baseline_tfrecord"))
        d["marginal_floor_over_io"] = _ratio(m.get("floor_parquet"), m.get("io_pyarrow"))
        d["tfrecord_over_parquet_time"] = _ratio(tfr.get(large, {}).get("wall_s"),
                                                 fc.get(large, {}).get("wall_s"))
        d["tfrecord_over_parquet_marginal_time"] = _ratio(m.get("fc_parquet"),
                                                          m.get("fc_tfrecord"))
        rss = {}
        for c in ("fc_parquet", "fc_tfrecord", "fc_transform_only"):
            s = components.get(c, {})
            if s.get(large, {}).get("peak_rss_mb") and s.get(mid, {}).get("peak_rss_mb"):
                rss[c] = s[large]["peak_rss_mb"] / s[mid]["peak_rss_mb"]
        d["rss_large_over_mid_by_component"] = rss
        d["rss_large_over_mid"] = max(rss.values()) if rss else None
        d["peak_rss_mb"] = {c: {s: e["peak_rss_mb"] for s, e in components[c].items()
                                if e.get("peak_rss_mb")}
                            for c in MEMORY_COMPONENTS if c in components}
        d["peak_pss_mb"] = {c: {s: e["peak_pss_mb"] for s, e in by_scale.items()
                                if e.get("peak_pss_mb")}
                            for c, by_scale in components.items()
                            if c in (*MEMORY_COMPONENTS, "baseline_parquet", "baseline_tfrecord",
                                     "floor_parquet")}
        rss = {c: by_scale[memory] / by_scale[large] for c, by_scale in d["peak_rss_mb"].items()
               if memory in by_scale and large in by_scale}
        d["rss_memory_over_large_by_component"] = rss
        d["rss_memory_over_large"] = max(rss.values()) if rss else None
        for key in ("wall_s", "cpu_s"):
            d[f"analysis_{key}"] = {
                s: {"featurecross": components.get("analyze_fc", {}).get(s, {}).get(key),
                    "tft": components.get("analyze_tft", {}).get(s, {}).get(key)}
                for s in (large, memory) if s}
        d["transform_only_over_floor"] = _ratio(m.get("fc_transform_only"),
                                                m.get("floor_parquet"))
        d["fixed_cost_over_import"] = _ratio(fixed, imports)
        d["fc_parquet_outside_job_s"] = {  # imports + teardown: wall minus "done in"
            scale: fc[scale]["wall_s"] - fc[scale]["in_job_s"] for scale in scales
            if "in_job_s" in fc.get(scale, {})}
        mp = components.get("fc_parquet_mp2", {}).get(mid, {}).get("wall_s")
        d["mid_in_memory_wall_s"] = fc.get(mid, {}).get("wall_s")
        d["mid_multi_processing_2_wall_s"] = mp
        d["multi_processing_over_in_memory_time"] = _ratio(mp, fc.get(mid, {}).get("wall_s"))
        d["targets"] = {}
        for key, (op, bound) in TARGETS.items():
            value, cpu = d.get(key), d.get(CPU_TWINS.get(key, ""))
            d["targets"][key] = {"value": value, "target": f"{op} {bound}",
                                 "met": _meets(value, op, bound), "cpu_value": cpu,
                                 "cpu_met": _meets(cpu, op, bound)}
        derived[config] = d
    return derived


def add_repeat_spread(derived: dict, runs: list[dict], scales: list[str], mid: str,
                      memory: str | None) -> None:
    """Each target's figure from each repeat's runs alone, as `per_repeat`.

    The printed figures come from medians over the repeats; their spread over
    the repeats shows how far this machine's run-to-run noise moves them.
    """
    for repeat in sorted({r["repeat"] for r in runs if r["scale"]}):
        own = [r for r in runs if r["repeat"] == repeat or not r["scale"]]
        for config, figures in derive(summarize(own), scales, mid, memory).items():
            if config not in derived or not isinstance(figures, dict):
                continue
            for key, target in figures.get("targets", {}).items():
                derived[config]["targets"][key].setdefault("per_repeat", []).append(
                    target["value"])
