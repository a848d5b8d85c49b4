"""The tables `make bench` prints."""

from __future__ import annotations

from scales import COMPONENTS


def _fmt(value, spec="{:,.0f}", none="-") -> str:
    return none if value is None else spec.format(value)


def print_tables(summary: dict, derived: dict, scales: list[str]) -> None:
    imports = derived.get("import_s")
    print("\n" + "=" * 100)
    print(f"import tensorflow, apache_beam, tensorflow_transform (fresh python, median): "
          f"{_fmt(imports, '{:.2f} s')}; ending in os._exit instead: "
          f"{_fmt(derived.get('import_fast_exit_s'), '{:.2f} s')} (so interpreter teardown "
          f"~{_fmt(derived.get('interpreter_teardown_s'), '{:.1f} s')})")
    for config, components in summary.items():
        if config == "_":
            continue
        d = derived[config]
        print(f"\nconfig {config}: wall s | rows/s (rows/wall) | peak RSS MB  "
              "(medians; * = extrapolated)")
        header = f"  {'component':<19}" + "".join(f"{s:>30}" for s in scales) + \
                 f"{'marginal rows/s':>17}{'(by CPU s)':>12}"
        print(header)
        for component in list(COMPONENTS) + ["fc_parquet_mp2"]:
            if component not in components:
                continue
            cells = []
            for scale in scales:
                e = components[component].get(scale)
                if not e:
                    cells.append(f"{'-':>30}")
                    continue
                star = "*" if e.get("extrapolated") else " "
                cells.append(f"{e['wall_s']:>8.1f}{star}|{e['rows_per_s']:>10,.0f} |"
                             f"{_fmt(e['peak_rss_mb'], '{:>7,.0f}', '      -')} ")
            m = d["marginal_rows_per_s"].get(component)
            mc = d["marginal_cpu_rows_per_s"].get(component)
            print(f"  {component:<19}" + "".join(f"{c:>30}" for c in cells)
                  + f"{_fmt(m):>17}{_fmt(mc):>12}")
        phases = components.get("floor_parquet", {}).get(scales[-1], {}).get("phases")
        if phases:
            print("  floor_parquet phases at " + scales[-1] + ": "
                  + ", ".join(f"{k} {v:.2f}s" for k, v in phases.items() if v))
        print(f"\n  fixed cost (fc_parquet at {scales[0]}): {_fmt(d['fixed_cost_s'], '{:.1f} s')}"
              f"   (tfrecord: {_fmt(d['fixed_cost_tfrecord_s'], '{:.1f} s')})")
        outside = d.get("fc_parquet_outside_job_s") or {}
        if outside:
            print("  fc_parquet wall minus its own 'done in' time (imports, set-up, teardown): "
                  + ", ".join(f"{s} {v:.1f} s" for s, v in outside.items()))
        print("  marginal fc/baseline: parquet "
              f"{_fmt(d['marginal_fc_over_baseline_parquet'], '{:.2f}x')}"
              f", tfrecord {_fmt(d['marginal_fc_over_baseline_tfrecord'], '{:.2f}x')}"
              f";  floor/io {_fmt(d['marginal_floor_over_io'], '{:.3f}x')}"
              f";  fc_tfrecord/floor_tfrecord "
              f"{_fmt(d['marginal_fc_tfrecord_over_floor_tfrecord'], '{:.2f}x')}")
        print(f"  TFRecord/Parquet per-row marginal time: "
              f"{_fmt(d['tfrecord_over_parquet_marginal_time'], '{:.2f}x')}")
        print(f"  DirectRunner at {derived['mid_scale']}: in_memory "
              f"{_fmt(d['mid_in_memory_wall_s'], '{:.1f} s')}, multi_processing x2 "
              f"{_fmt(d['mid_multi_processing_2_wall_s'], '{:.1f} s')} "
              f"(ratio {_fmt(d['multi_processing_over_in_memory_time'], '{:.2f}')})")
        print(f"  by CPU seconds instead of wall: fc/floor "
              f"{_fmt(d['cpu_marginal_fc_over_floor'], '{:.2f}x')}, fc/baseline parquet "
              f"{_fmt(d['cpu_marginal_fc_over_baseline_parquet'], '{:.2f}x')}, tfrecord "
              f"{_fmt(d['cpu_marginal_fc_over_baseline_tfrecord'], '{:.2f}x')}, "
              f"TFRecord/Parquet {_fmt(d['cpu_tfrecord_over_parquet_marginal'], '{:.2f}x')}, "
              f"transform-only/floor {_fmt(d['cpu_transform_only_over_floor'], '{:.2f}x')}")
        print("  targets (wall time):")
        for key, t in d["targets"].items():
            met = {True: "MET", False: "not met", None: "n/a"}[t["met"]]
            print(f"    {key:<30} {_fmt(t['value'], '{:.2f}'):>8}  target {t['target']:<7} {met}")
