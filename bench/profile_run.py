"""Where a featurecross run spends its time: a sampled profile, bucketed by phase.

    python bench/profile_run.py                      # flights config, 1x, Parquet and TFRecord
    python bench/profile_run.py --config bench/configs/hashing_only.yaml --formats parquet
    python bench/profile_run.py --input data/full/flights.parquet --transform-fn OUT

Uses py-spy (`pip install py-spy`, or --py-spy PATH; it samples the whole
process, native-only threads included, at --rate Hz with little overhead).
Without py-spy it falls back to cProfile of an in-process
`pipeline.cli.main.main([...])` run, which only sees the main thread and inflates
Python-heavy code. The raw collapsed stacks are kept (--keep DIR) for a
flame graph.
"""

from __future__ import annotations

import argparse
import collections
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# (category, markers): the first category with a marker anywhere in the stack wins,
# so more specific markers come first.
CATEGORIES = [
    ("import modules", ["_find_and_load ("]),
    ("serving export (serving/)", ["export_serving_model ("]),
    ("manifest", ["write_manifest ("]),
    ("publish / cleanup", ["_publish (", "rmtree ("]),
    ("copy+check transform_fn",
     ["copy_transform_fn (", "check_transform_output (pipeline/job/run"]),
    ("build pipeline", ["build_pipeline ("]),
    ("transform: load graph", ["BatchTransformer.__init__ ("]),
    ("transform: Arrow -> tensors", ["ToBatchTensors ("]),
    ("transform: tensors -> Arrow", ["tensors_to_record_batch ("]),
    ("transform: graph (layer call)", ["BatchTransformer.__call__ ("]),
    ("drift: value and bucket counts", ["drift_counts.py"]),
    ("combinations (fingerprints): collisions and drift",
     ["BatchCombinations.__call__ (", "fingerprints.py"]),
    ("collision counts and report/", ["collision_counts.py", "collisions.py", "samples.py",
                                     "pipeline/diagnostics/report.py"]),
    ("feature stats", ["pipeline/diagnostics/stats.py"]),
    ("parity sample", ["ParitySample.check ("]),
    ("read Parquet", ["ReadParquetBatches.process (", "ReadTFRecordBatches.process ("]),
    ("check rows", ["CheckRows.process ("]),
    ("tf.Example encode", ["EncodeExamples.process (", "RecordBatchToExamplesEncoder"]),
    ("to Parquet table", ["to_parquet_table ("]),
    ("write Parquet", ["ParquetWriter", "_ParquetSink", "parquetio.py"]),
    ("write TFRecord", ["tfrecord_writer", "_TFRecordSink", "TFRecordUtil", "tfrecordio.py"]),
    ("tf.Transform analysis", ["tensorflow_transform/"]),
    ("beam coders (between stages)", ["apache_beam/coders/"]),
    ("beam bundle overhead", ["SdkWorker.process_bundle ("]),
    ("beam runner (plan, stages)", ["FnApiRunner.", "Pipeline.run ("]),
    ("other main-thread Python", ["_run_module_as_main ("]),
    ("other threads (grpc, beam)", ["Thread._bootstrap ("]),
]
NO_PYTHON = "native only (no Python frame: TF/Arrow threads, start-up, exit)"


def categorize(stack: str) -> str:
    if not stack:
        return NO_PYTHON
    for name, markers in CATEGORIES:
        if any(marker in stack for marker in markers):
            return name
    return "unclassified"


def summarize(raw_path: str, rate: int) -> str:
    totals: collections.Counter = collections.Counter()
    leaves: collections.Counter = collections.Counter()
    samples = 0
    with open(raw_path) as handle:
        for line in handle:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            count = int(count)
            samples += count
            totals[categorize(stack)] += count
            leaves[stack.split(";")[-1] if stack else NO_PYTHON] += count
    lines = [f"{samples} samples at {rate} Hz = {samples / rate:.1f} thread-seconds "
             "(idle waits excluded)"]
    for name, count in totals.most_common():
        lines.append(f"  {count / rate:7.2f} s  {count / samples * 100:5.1f}%  {name}")
    lines.append("  top leaf frames:")
    for name, count in leaves.most_common(15):
        lines.append(f"  {count / rate:7.2f} s  {count / samples * 100:5.1f}%  {name[:110]}")
    return "\n".join(lines)


def find_py_spy(explicit: str | None) -> str | None:
    for candidate in (explicit, shutil.which("py-spy"),
                      os.path.join(os.path.dirname(sys.executable), "py-spy"),
                      "/tmp/pyspy/bin/py-spy"):
        if candidate and os.path.exists(candidate):
            return candidate
    return None


def config_copy(config: str, fmt: str, directory: str) -> str:
    import yaml
    with open(config) as handle:
        raw = yaml.safe_load(handle)
    raw["output"] = dict(raw.get("output", {}), format=fmt)
    path = os.path.join(directory, f"config_{fmt}.yaml")
    with open(path, "w") as handle:
        yaml.safe_dump(raw, handle, sort_keys=False)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/flights.yaml")
    parser.add_argument("--input", default="data/full/flights.parquet")
    parser.add_argument("--formats", default="parquet,tfrecord")
    parser.add_argument("--transform-fn", help="profile a transform-only run")
    parser.add_argument("--rate", type=int, default=100)
    parser.add_argument("--py-spy", help="path to py-spy")
    parser.add_argument("--keep", help="directory to keep the raw stacks in")
    parser.add_argument("beam_args", nargs="*", help="extra Beam flags (after --)")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="fc-profile-")
    py_spy = find_py_spy(args.py_spy)
    try:
        for fmt in args.formats.split(","):
            config = config_copy(os.path.join(ROOT, args.config), fmt, work)
            run = ["run", "--config", config, "--input", os.path.join(ROOT, args.input),
                   "--output", os.path.join(work, f"out_{fmt}"), "--overwrite",
                   *(["--transform-fn", args.transform_fn] if args.transform_fn else []),
                   *args.beam_args]
            print(f"== {args.config} -> {fmt}, input {args.input}"
                  + (" (transform-only)" if args.transform_fn else ""), flush=True)
            env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
            if py_spy:
                raw = os.path.join(args.keep or work, f"profile_{fmt}.txt")
                os.makedirs(os.path.dirname(raw), exist_ok=True)
                subprocess.run([py_spy, "record", "-r", str(args.rate), "-f", "raw", "-o", raw,
                                "--", sys.executable, "-m", "pipeline", *run],
                               cwd=ROOT, env=env, check=True)
                print(summarize(raw, args.rate), flush=True)
            else:
                stats = os.path.join(args.keep or work, f"profile_{fmt}.pstats")
                code = ("import cProfile, sys; from pipeline.cli.main import main; "
                        f"cProfile.run('main({run!r})', {stats!r})")
                subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True)
                import pstats
                pstats.Stats(stats).sort_stats("cumulative").print_stats(40)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
