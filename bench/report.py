"""The tables `make bench` prints."""

from __future__ import annotations

from scales import COMPONENTS


def _ratio(a, b):
    return a / b if a is not None and b else None


def _fmt(value, spec="{:,.0f}", none="-") -> str:
    return none if value is None else spec.format(value)


def print_tables(summary: dict, derived: dict, scales: list[str],
                 memory: str | None = None) -> None:
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
        if d["peak_rss_mb"]:
            shown = [s for s in (*scales, memory) if s and s != scales[0]]
            print(f"  peak RSS MB ({', '.join(shown)}; {memory or '-'}/{scales[-1]}): " + "; ".join(
                f"{c} " + " ".join(_fmt(by_scale.get(s), '{:,.0f}') for s in shown)
                + f" ({_fmt(d['rss_memory_over_large_by_component'].get(c), '{:.2f}x')})"
                for c, by_scale in d["peak_rss_mb"].items()))
        pss = {c: by_scale for c, by_scale in d["peak_pss_mb"].items() if by_scale}
        if pss:
            shown = [s for s in (*scales, memory) if s]
            print(f"  peak Pss MB of the process tree ({', '.join(shown)}; shared pages split "
                  "among processes): " + "; ".join(
                      f"{c} " + " ".join(_fmt(by_scale.get(s), '{:,.0f}') for s in shown)
                      for c, by_scale in pss.items()))
        for s, walls in d["analysis_wall_s"].items():
            cpus = d["analysis_cpu_s"][s]
            if walls["featurecross"] or walls["tft"]:
                print(f"  analysis pass at {s} (whole process, wall s / CPU s): featurecross "
                      f"{_fmt(walls['featurecross'], '{:.1f}')} / "
                      f"{_fmt(cpus['featurecross'], '{:.1f}')}, tf.Transform AnalyzeDataset "
                      f"{_fmt(walls['tft'], '{:.1f}')} / {_fmt(cpus['tft'], '{:.1f}')} "
                      f"(featurecross/tft by CPU "
                      f"{_fmt(_ratio(cpus['featurecross'], cpus['tft']), '{:.2f}x')})")
        print("  targets (wall time; by CPU seconds where the figure has a CPU form):")
        verdict = {True: "MET", False: "not met", None: "n/a"}
        for key, t in d["targets"].items():
            cpu = (f"   CPU {_fmt(t['cpu_value'], '{:.2f}'):>5} {verdict[t['cpu_met']]}"
                   if t.get("cpu_value") is not None else "")
            spread = [v for v in t.get("per_repeat", []) if v is not None]
            spread = ("   per repeat " + " ".join(f"{v:.2f}" for v in spread)
                      if len(spread) > 1 else "")
            print(f"    {key:<30} {_fmt(t['value'], '{:.2f}'):>8}  target {t['target']:<7} "
                  f"{verdict[t['met']]:<8}{cpu}{spread}")
