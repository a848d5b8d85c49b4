"""featurecross benchmark: `make bench` (= .venv/bin/python bench/run_bench.py).

    python bench/run_bench.py                # full: 1k, 1x, 10x; 3 repeats; 100x memory point
    python bench/run_bench.py --quick        # smoke run: 1k, 20k rows; 1 repeat (~5 min)
    python bench/run_bench.py --scales 1k,1x --repeats 1 --configs hashing_only
    python bench/run_bench.py --baseline-at-largest no   # extrapolate tf.Transform at 10x
    python bench/run_bench.py --merge --scales 10x --components baseline_parquet --repeats 1
                                                    # add runs to bench/results.json

Every measurement is its own child process (a fresh Python, as a user runs
the job), timed from outside: wall seconds from spawn to exit (imports, job,
interpreter teardown), rows/s = rows / wall, and peak RSS of the whole
process tree (see RSS_METHOD). Figures are medians over --repeats; runs are
interleaved (scale -> repeat -> config -> component) so drift in machine
load spreads over all components.

Components, per config (configs/flights.yaml: quantile analysis;
bench/configs/hashing_only.yaml: crosses and hashes only):
  fc_parquet         featurecross run, Parquet output
  fc_parquet_no_report  fc_parquet with --no-collision-report (what the report costs)
  fc_tfrecord        featurecross run, TFRecord (gzip tf.Example) output
  fc_transform_only  featurecross run --transform-fn <fc_parquet output>, Parquet output
  baseline_parquet   plain tf.Transform AnalyzeAndTransformDataset pipeline (bench/workloads.py)
  baseline_tfrecord    "      , tf.Example TFRecord output
  floor_parquet      bare TF: exported transform_fn in a Python loop over pyarrow batches
  floor_tfrecord       "      , tfx-bsl C++ example encoder + tf.io.TFRecordWriter gzip
  io_pyarrow         pyarrow read + write of the same columns (pure IO floor)
  fc_parquet_mp2     fc_parquet with --direct_running_mode multi_processing
                     --direct_num_workers 2 (middle scale only)
  analyze_fc         the analysis pass alone, featurecross's (largest scale and memory point;
                     configs with an analyzer only)
  analyze_tft        the same analysis as plain tf.Transform: ReadFromParquetBatched ->
                     AnalyzeDataset -> WriteTransformFn
plus `import tensorflow, apache_beam, tensorflow_transform` in a fresh Python
(and the same ending in os._exit(0), which shows the interpreter's teardown).
The tf.Transform baseline is the slowest part; at the largest scale it runs
--repeats times if the bench's projected total fits --budget-minutes (40),
else once, else not at all (extrapolated, marked *).

Memory point (--memory-scale, default 100x = 33.7M rows, built on demand by
repeating the 1x table, never committed): fc_parquet, fc_tfrecord,
fc_transform_only and the analysis pass run once there, for the configs in
--memory-configs; their peak RSS is set against the largest regular scale.

Derived: fixed cost = wall of the 1k-row run; marginal throughput =
(rows_large - rows_1k) / (wall_large - wall_1k); the targets' ratios.
Results: a table on stdout and everything in bench/results.json.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import sys
import time

from analyse import add_repeat_spread, derive, extrapolate, summarize
from measure import Bench
from report import print_tables
from scales import (
    ANALYSIS_CONFIGS,
    BENCH,
    COMPONENTS,
    CONFIGS,
    ROOT,
    RSS_METHOD,
    SCALE_FILES,
    TARGETS,
    ensure_data,
    scale_rows,
)


# The bench's jobs live apart: scales.py (what is measured: data scales, configs,
# components, targets), measure.py (running and timing each child process),
# analyse.py (medians, extrapolation, marginal figures, ratios), report.py (the
# tables). This file parses the command line and runs the jobs in order.
def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n", 2)[2])
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: scales 1k,20k, 1 repeat, import measured once")
    parser.add_argument("--scales", help="comma list of 1k,20k,1x,10x,100x (default 1k,1x,10x)")
    parser.add_argument("--repeats", type=int, help="runs per measurement (default 3)")
    parser.add_argument("--large-repeats", type=int, default=0,
                        help="repeats at the largest scale (default: --repeats)")
    parser.add_argument("--import-repeats", type=int, default=3)
    parser.add_argument("--configs", default=",".join(CONFIGS),
                        help=f"comma list of {','.join(CONFIGS)}")
    parser.add_argument("--components", default=",".join(COMPONENTS),
                        help="comma list of components to run (default all)")
    parser.add_argument("--no-runner-modes", dest="runner_modes", action="store_false",
                        help="skip the DirectRunner multi_processing run at the middle scale")
    parser.add_argument("--baseline-at-largest", choices=("auto", "yes", "no"), default="auto",
                        help="run the tf.Transform baseline at the largest scale; auto: "
                             "--repeats times if the projected total fits --budget-minutes, "
                             "else once if that fits, else not (extrapolated)")
    parser.add_argument("--budget-minutes", type=float, default=55.0)
    parser.add_argument("--memory-scale", default=None,
                        help="scale of the memory point (default 100x; --quick: none; "
                             "'none' skips it)")
    parser.add_argument("--memory-configs", default=",".join(ANALYSIS_CONFIGS),
                        help="configs measured at the memory point")
    parser.add_argument("--timeout", type=float, default=1800.0, help="per run, seconds")
    parser.add_argument("--workdir", default=os.path.join(
        os.environ.get("TMPDIR", "/tmp"), "featurecross-bench"))
    parser.add_argument("--results", default=os.path.join(BENCH, "results.json"))
    parser.add_argument("--merge", action="store_true",
                        help="add these measurements to --results instead of starting over "
                             "(they replace earlier runs of the same config/component/scale; "
                             "floor and transform-only need the earlier run's --workdir)")
    args = parser.parse_args(argv)
    if args.quick:
        args.scales = args.scales or "1k,20k"
        args.repeats = args.repeats or 1
        args.import_repeats = 1
    args.scales = (args.scales or "1k,1x,10x").split(",")
    if args.memory_scale is None:
        args.memory_scale = "none" if args.quick else "100x"
    args.memory_scale = None if args.memory_scale == "none" else args.memory_scale
    if args.memory_scale and args.memory_scale not in SCALE_FILES:
        parser.error(f"unknown --memory-scale {args.memory_scale!r}")
    args.memory_configs = args.memory_configs.split(",")
    args.repeats = args.repeats or 3
    args.configs = args.configs.split(",")
    args.components = args.components.split(",")
    for scale in args.scales:
        if scale not in SCALE_FILES:
            parser.error(f"unknown scale {scale!r}; choose from {', '.join(SCALE_FILES)}")
    args.scales.sort(key=lambda s: SCALE_FILES[s][1])
    for config in args.configs:
        if config not in CONFIGS:
            parser.error(f"unknown config {config!r}; choose from {', '.join(CONFIGS)}")
    for component in args.components:
        if component not in COMPONENTS:
            parser.error(f"unknown component {component!r}")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    ensure_data(args.scales + ([args.memory_scale] if args.memory_scale else []))
    prior = None
    if args.merge:
        with open(args.results) as handle:
            prior = json.load(handle)
    elif os.path.exists(args.workdir):
        shutil.rmtree(args.workdir)
    started = time.time()
    load_before = os.getloadavg()
    bench = Bench(args)
    if args.quick:
        bench.notes.append("--quick: 20k rows is too few for the marginal figures and ratios "
                           "(fixed cost dominates; they are noise); run the full bench for them")
    print(f"featurecross bench: scales {','.join(args.scales)}, repeats {args.repeats}, "
          f"configs {','.join(args.configs)}; {os.cpu_count()} CPUs, load average "
          f"{load_before[0]:.2f}; work dir {args.workdir}"
          + (f"; merging into {args.results}" if prior else ""))
    print(f"peak RSS: {RSS_METHOD}")
    if prior:
        bench.runs = [r for r in prior["runs"] if r["component"].startswith("import")]
    bench.run()
    scales = list(args.scales)
    if prior:
        # New measurements replace the prior ones of the same config/component/scale.
        fresh = {(r["config"], r["component"], r["scale"]) for r in bench.runs
                 if not r["component"].startswith("import")}
        bench.runs = [r for r in prior["runs"] if not r["component"].startswith("import")
                      and (r["config"], r["component"], r["scale"]) not in fresh] + bench.runs
        scales = sorted(set(scales) | set(prior["scales"]), key=lambda s: SCALE_FILES[s][1])
        measured_baseline = {r["scale"] for r in bench.runs if r["component"].startswith(
            "baseline_") and r["returncode"] == 0}
        bench.skipped_baseline = sorted(
            (set(prior.get("baseline_extrapolated_at", [])) | set(bench.skipped_baseline))
            - measured_baseline, key=lambda s: SCALE_FILES[s][1])
        bench.notes = [n for n in prior.get("notes", []) if not any(
            n.startswith(f"baseline not run at {s}") for s in measured_baseline)] + [
            f"merged: {' '.join(sys.argv[1:])} ({datetime.datetime.now():%Y-%m-%d %H:%M})"
        ] + bench.notes
        args.scales = scales
    summary = summarize(bench.runs)
    extrapolate(summary, scales, bench.skipped_baseline)
    mid = Bench.mid_scale(scales)
    derived = derive(summary, scales, mid, args.memory_scale)
    add_repeat_spread(derived, bench.runs, scales, mid, args.memory_scale)
    print_tables(summary, derived, scales, args.memory_scale)
    other = [r["other_load_cores"] for r in bench.runs]
    failures = [r for r in bench.runs if r["returncode"] != 0 or r.get("error")]
    for note in bench.notes:
        print(f"\nNOTE: {note}")
    print(f"\nmachine: {os.cpu_count()} CPUs; load average {load_before[0]:.2f} at start, "
          f"{os.getloadavg()[0]:.2f} at end; other processes used a median "
          f"{statistics.median(other) if other else 0:.2f} cores (max "
          f"{max(other) if other else 0:.2f}) during the runs")
    print(f"total bench time {(time.time() - started) / 60:.1f} min; "
          f"{len(failures)} failed run(s); results in {os.path.relpath(args.results, ROOT)}")
    results = {
        "generated": datetime.datetime.now().isoformat(timespec="seconds"),
        "mode": "quick" if args.quick else (prior or {}).get("mode", "full"),
        "argv": sys.argv[1:],
        "scales": {s: {"file": SCALE_FILES[s][0], "rows": scale_rows(s)} for s in args.scales},
        "memory_scale": args.memory_scale,
        "repeats": args.repeats,
        "rss_method": RSS_METHOD,
        "wall_method": "child process spawn to exit (wait4), includes imports and teardown",
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version(),
                    "loadavg_start": load_before, "loadavg_end": os.getloadavg(),
                    "other_load_cores_median": statistics.median(other) if other else None,
                    "other_load_cores_max": max(other) if other else None},
        "notes": bench.notes,
        "baseline_extrapolated_at": bench.skipped_baseline,
        "targets": {k: f"{op} {v}" for k, (op, v) in TARGETS.items()},
        "summary": summary,
        "derived": derived,
        "runs": bench.runs,
        "total_minutes": (time.time() - started) / 60 + (prior or {}).get("total_minutes", 0),
    }
    with open(args.results, "w") as handle:
        json.dump(results, handle, indent=1, default=str)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
