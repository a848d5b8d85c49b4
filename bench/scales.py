"""What the bench measures: the data scales (built on demand), configs,
components and targets."""

from __future__ import annotations

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "bench")
PY = sys.executable
WORKLOADS = os.path.join(BENCH, "workloads.py")
FULL_ROWS = 336_776
SCALE_FILES = {
    "1k": ("data/full/flights_1k.parquet", 1_000),
    "20k": ("data/sample/flights.parquet", 20_000),
    "1x": ("data/full/flights.parquet", FULL_ROWS),
    "10x": ("data/full/flights_x10.parquet", FULL_ROWS * 10),
    "100x": ("data/full/flights_x100.parquet", FULL_ROWS * 100),
}
CONFIGS = {
    "flights": "configs/flights.yaml",
    "hashing_only": "bench/configs/hashing_only.yaml",
}
COMPONENTS = ("fc_parquet", "fc_parquet_no_report", "fc_tfrecord", "fc_transform_only",
              "baseline_parquet", "baseline_tfrecord", "floor_parquet", "floor_tfrecord",
              "io_pyarrow", "analyze_fc", "analyze_tft")
ANALYSIS_COMPONENTS = ("analyze_fc", "analyze_tft")
ANALYSIS_CONFIGS = ("flights",)  # the configs with an analyzer (quantile buckets)
MEMORY_COMPONENTS = ("fc_parquet", "fc_tfrecord", "fc_transform_only", *ANALYSIS_COMPONENTS)
MP_FLAGS = ["--direct_running_mode", "multi_processing", "--direct_num_workers", "2"]
RSS_METHOD = ("peak of the summed VmRSS of the child's whole process tree, sampled from "
              "/proc every 0.1 s, and never below the child's exact ru_maxrss from wait4() "
              "(= largest single process of the tree). Shared pages are counted once per "
              "process, so multi-process trees are over-stated; the tree's peak Pss "
              "(/proc/PID/smaps_rollup, shared pages split) is shown next to it.")
TARGETS = {
    "marginal_fc_over_floor": (">=", 0.7),
    "fixed_cost_over_import": ("<=", 2.0),
    "tfrecord_over_parquet_time": ("<=", 1.3),
    "rss_memory_over_large": ("<=", 1.3),
    "transform_only_over_floor": (">=", 0.7),
    "marginal_report_over_no_report": (">=", 0.9),  # the collision report costs <= 10%
}
# The same targets from CPU seconds (user + system of the process tree), which
# other load on a shared machine barely moves; TFRecord/Parquet per marginal row.
CPU_TWINS = {
    "marginal_fc_over_floor": "cpu_marginal_fc_over_floor",
    "tfrecord_over_parquet_time": "cpu_tfrecord_over_parquet_marginal",
    "transform_only_over_floor": "cpu_transform_only_over_floor",
    "marginal_report_over_no_report": "cpu_marginal_report_over_no_report",
}


def ensure_data(scales: list[str]) -> None:
    need_full = any(s in ("1k", "1x") for s in scales)
    full = os.path.join(ROOT, SCALE_FILES["1x"][0])
    if need_full and not os.path.exists(full):
        _build(["full", "data/full"])
    for scale in ("10x", "100x"):  # the 1x table written N times over, never held N times
        if scale in scales and not os.path.exists(os.path.join(ROOT, SCALE_FILES[scale][0])):
            _build(["full", "data/full", "--copies", scale[:-1]])
    if "20k" in scales and not os.path.exists(os.path.join(ROOT, SCALE_FILES["20k"][0])):
        _build(["sample", "data/sample"])
    small = os.path.join(ROOT, SCALE_FILES["1k"][0])
    if "1k" in scales and not os.path.exists(small):
        import pyarrow.parquet as pq
        table = pq.ParquetFile(full).read_row_group(0).slice(0, 1_000)
        pq.write_table(table, small)
        print(f"wrote 1000 rows to {SCALE_FILES['1k'][0]}")


def _build(args: list[str]) -> None:
    print(f"building data: data/build_flights.py {' '.join(args)}", flush=True)
    subprocess.run([PY, "data/build_flights.py", *args], cwd=ROOT, check=True,
                   env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))


def scale_rows(scale: str) -> int:
    import pyarrow.parquet as pq
    return pq.ParquetFile(os.path.join(ROOT, SCALE_FILES[scale][0])).metadata.num_rows
