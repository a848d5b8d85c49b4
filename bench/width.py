"""The width axis of `make bench`: 6, 66 and 286 hashed crosses over the flights columns.

    python bench/width.py [--widths 6,66,286] [--scales 1k,1x] [--repeats 1]

Per width, each as its own child process (bench/measure.py: CPU seconds of the
process tree beside wall time, peak RSS of the tree):
- fc: `featurecross run`, diagnostics on (collision report, drift counts);
- fc_no_report: the same with `--no-collision-report`;
- baseline: the plain tf.Transform pipeline a tft user would write
  (bench/workloads.py `baseline`);
- floor: the bare exported graph over Arrow batches, no Beam (`floor`).
Marginal CPU per row comes from the two scales (fixed costs cancel); the
diagnostics' share is (fc - fc_no_report) / fc in CPU seconds at the largest
scale. Then the Dataflow translation (a dry run, no network) of 6 and 66
vocabulary crosses, and of 6 and 66 `num_bins: auto` crosses: Beam
transforms and pipeline proto size.

The crosses are generated: pairs of [carrier, origin, dest, hour] (6), pairs
of 12 columns (66), pairs and triples of the 12 (286); the 12 are 8
categorical columns and 4 floats bucketized at fixed boundaries, so no
config has an analysis pass and every width runs the same reads and writes.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile

import yaml

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # the dry runs import TF in this process

from measure import measure
from scales import PY, ROOT, SCALE_FILES, WORKLOADS, ensure_data, scale_rows

CATEGORICAL = {"carrier": "string", "origin": "string", "dest": "string",
               "tailnum": "string", "flight": "int", "month": "int", "day": "int",
               "hour": "int"}
BUCKETIZED = {"distance": [250, 500, 1000, 2000], "air_time": [60, 120, 240],
              "dep_delay": [0, 15, 60], "arr_delay": [0, 15, 60]}
NUM_BINS = 100_000
WIDTH_CROSSES = {6: ([2], ["carrier", "origin", "dest", "hour"]),
                 66: ([2], None), 286: ([2, 3], None)}
COMPONENTS = ("fc", "fc_no_report", "baseline", "floor")
TARGETS = {"diagnostics_share_at_widest": ("<=", 0.10),
           "rss_widest_over_narrowest": ("<=", 1.5),
           "report_mb_at_widest": ("<=", 32.0),
           "marginal_fc_over_baseline": ("<=", 1.0),
           "total_fc_over_baseline": ("<=", 1.3),
           "vocabulary_transforms_66_over_6": ("<=", 1.5),
           "vocabulary_proto_66_over_6": ("<=", 1.5),
           "auto_transforms_66_over_6": ("<=", 1.5),
           "auto_proto_66_over_6": ("<=", 1.5)}


def width_config(width: int) -> dict:
    """A config of `width` hashed crosses (plus the 4 bucketized inputs at 66 and 286)."""
    degree, columns = WIDTH_CROSSES[width]
    schema = {name: {"type": kind, **({"default": ""} if name == "tailnum" else {})}
              for name, kind in CATEGORICAL.items()}
    schema.update({name: {"type": "float", "default": 0.0} for name in BUCKETIZED})
    features = []
    if columns is None:
        features = [{"name": f"{name}_bucket", "bucketize": name, "boundaries": boundaries}
                    for name, boundaries in BUCKETIZED.items()]
        columns = [*CATEGORICAL, *(f["name"] for f in features)]
    config = {"input": {"format": "parquet", "pattern": SCALE_FILES["20k"][0]},
              "schema": schema, "features": features,
              "crosses": [{"all_of": columns, "degree": degree, "num_bins": NUM_BINS}],
              "output": {"dir": "out/width", "format": "parquet"}}
    if not features:
        del config["features"]
    return config


ANALYSED_CROSSES = {"vocabulary": {"vocabulary": {"top_k": 1000, "num_oov_buckets": 10}},
                    "auto": {"num_bins": "auto", "max_collision_rate": 0.01}}


def analysed_config(kind: str, crosses: int) -> dict:
    """`crosses` vocabulary or `num_bins: auto` crosses (pairs of the 12 columns, in order)."""
    import itertools
    pairs = list(itertools.combinations(
        [*CATEGORICAL, *(f"{n}_bucket" for n in BUCKETIZED)], 2))[:crosses]
    config = width_config(66)
    config.pop("crosses")
    config["features"] += [{"name": f"{a}_x_{b}", "cross": [a, b], **ANALYSED_CROSSES[kind]}
                           for a, b in pairs]
    return config


def translation_size(config_path: str, work: str) -> dict:
    """Beam transforms and pipeline proto bytes of the job's Dataflow translation (dry run)."""
    from apache_beam.options.pipeline_options import PipelineOptions

    from pipeline.config import load_config
    from pipeline.job.builder import build_pipeline
    config = load_config(config_path).with_overrides(
        input_pattern="gs://bench-bucket/flights/*.parquet", output_dir="gs://bench-bucket/out")
    options = PipelineOptions([
        "--runner=DataflowRunner", "--project=bench", "--region=us-central1",
        "--temp_location=gs://bench-bucket/tmp", "--no_auth", "--dry_run=True",
        "--sdk_location=container", "--job_name=featurecross-width"])
    pipeline = build_pipeline(config, options, output_dir="gs://bench-bucket/out.tmp",
                              temp_dir=work, quarantine=False)
    proto = pipeline.run().job.proto_pipeline
    return {"transforms": len(proto.components.transforms),
            "proto_bytes": len(proto.SerializeToString())}


def _command(component: str, config: str, data: str, out: str, ref: str) -> list[str]:
    if component.startswith("fc"):
        return [PY, "-m", "pipeline", "run", "--config", config, "--input", data,
                "--output", out, "--overwrite",
                *(["--no-collision-report"] if component == "fc_no_report" else [])]
    command = [PY, WORKLOADS, component, "--config", config, "--input", data,
               "--output", out, "--format", "parquet"]
    return command + (["--transform-dir", ref] if component == "floor" else [])


def _dir_mb(path: str) -> float:
    return sum(os.path.getsize(os.path.join(root, name)) for root, _, names in os.walk(path)
               for name in names) / 1e6


def run(args) -> dict:
    ensure_data(args.scales)
    work = tempfile.mkdtemp(prefix="featurecross-width-")
    runs = []
    try:
        for width in args.widths:
            config = os.path.join(work, f"width_{width}.yaml")
            with open(config, "w") as handle:
                yaml.safe_dump(width_config(width), handle, sort_keys=False)
            for scale in args.scales:
                data = os.path.join(ROOT, SCALE_FILES[scale][0])
                ref = os.path.join(work, f"ref_{width}_{scale}")
                for repeat in range(args.repeats):
                    for component in COMPONENTS:
                        keep = component == "fc" and repeat == 0
                        out = ref if keep else os.path.join(work, "scratch")
                        shutil.rmtree(out, ignore_errors=True)
                        log = os.path.join(work, f"{width}_{scale}_{component}_{repeat}.log")
                        label = f"{width:>4} crosses / {scale:<3} / {component:<12}"
                        print(f"  {label}", end=" ", flush=True)
                        result = measure(_command(component, config, data, out, ref), log,
                                         timeout=args.timeout)
                        record = {"width": width, "scale": scale, "component": component,
                                  "repeat": repeat,
                                  **{k: v for k, v in result.items() if not k.startswith("_")}}
                        if component == "fc" and result["returncode"] == 0:
                            record["report_mb"] = _dir_mb(os.path.join(out, "report"))
                        runs.append(record)
                        if result["returncode"] != 0:
                            with open(log, errors="replace") as handle:
                                tail = handle.read()[-1500:]
                            print(f"FAILED (exit {result['returncode']})\n{tail}")
                        else:
                            print(f"cpu {result['cpu_s']:7.1f} s  wall {result['wall_s']:7.1f} s"
                                  f"  {result['peak_rss_mb']:6.0f} MB", flush=True)
        translation = {}
        for kind in ANALYSED_CROSSES:
            for crosses in (6, 66):
                path = os.path.join(work, f"{kind}_{crosses}.yaml")
                with open(path, "w") as handle:
                    yaml.safe_dump(analysed_config(kind, crosses), handle, sort_keys=False)
                translation.setdefault(kind, {})[crosses] = translation_size(
                    path, os.path.join(work, f"tmp_{kind}_{crosses}"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {"runs": runs, "translation": translation,
            "rows": {scale: scale_rows(scale) for scale in args.scales}}


def derive(results: dict, widths: list[int], scales: list[str]) -> dict:
    """Per width: medians, the marginal and total ratios; then the targets."""
    import statistics

    def median(width, scale, component, key):
        values = [r[key] for r in results["runs"] if (r["width"], r["scale"], r["component"])
                  == (width, scale, component) and r["returncode"] == 0 and r.get(key)]
        return statistics.median(values) if values else None

    small, large = scales[0], scales[-1]
    rows = results["rows"]
    per_width = {}
    for width in widths:
        entry = {c: {"cpu_s": median(width, large, c, "cpu_s"),
                     "peak_rss_mb": median(width, large, c, "peak_rss_mb")} for c in COMPONENTS}
        for component in COMPONENTS:
            low, high = (median(width, s, component, "cpu_s") for s in (small, large))
            entry[component]["marginal_cpu_us_per_row"] = (
                None if None in (low, high) or rows[large] == rows[small]
                else (high - low) / (rows[large] - rows[small]) * 1e6)
        entry["report_mb"] = median(width, large, "fc", "report_mb")
        fc, no_report = entry["fc"]["cpu_s"], entry["fc_no_report"]["cpu_s"]
        entry["diagnostics_share"] = None if None in (fc, no_report) else (fc - no_report) / fc
        entry["total_fc_over_baseline"] = _ratio(fc, entry["baseline"]["cpu_s"])
        entry["marginal_fc_over_baseline"] = _ratio(
            entry["fc"]["marginal_cpu_us_per_row"], entry["baseline"]["marginal_cpu_us_per_row"])
        entry["total_fc_over_floor"] = _ratio(fc, entry["floor"]["cpu_s"])
        per_width[width] = entry
    narrow, wide = per_width[widths[0]], per_width[widths[-1]]
    translation = results["translation"]["vocabulary"]
    auto = results["translation"]["auto"]
    figures = {
        "diagnostics_share_at_widest": wide["diagnostics_share"],
        "rss_widest_over_narrowest": _ratio(wide["fc"]["peak_rss_mb"],
                                            narrow["fc"]["peak_rss_mb"]),
        "report_mb_at_widest": wide["report_mb"],
        "marginal_fc_over_baseline": _worst(per_width, "marginal_fc_over_baseline"),
        "total_fc_over_baseline": _worst(per_width, "total_fc_over_baseline"),
        "vocabulary_transforms_66_over_6": _ratio(translation[66]["transforms"],
                                                  translation[6]["transforms"]),
        "vocabulary_proto_66_over_6": _ratio(translation[66]["proto_bytes"],
                                             translation[6]["proto_bytes"]),
        "auto_transforms_66_over_6": _ratio(auto[66]["transforms"], auto[6]["transforms"]),
        "auto_proto_66_over_6": _ratio(auto[66]["proto_bytes"], auto[6]["proto_bytes"]),
    }
    return {"per_width": per_width, "targets": {
        name: {"value": value, "target": f"{op} {bound}",
               "met": None if value is None else (value <= bound if op == "<=" else
                                                  value >= bound)}
        for name, value in figures.items() for op, bound in [TARGETS[name]]}}


def _worst(per_width: dict, key: str) -> float | None:
    """The highest of a ratio over the widths (the target holds at every width)."""
    values = [entry[key] for entry in per_width.values() if entry[key] is not None]
    return max(values) if values else None


def _ratio(a, b):
    return None if a is None or not b else a / b


def print_tables(derived: dict, translation: dict, scales: list[str]) -> None:
    print(f"\nwidth axis at {scales[-1]} (CPU s of the process tree; marginal from "
          f"{scales[0]} -> {scales[-1]}, microseconds per row)")
    print(f"{'crosses':>8} {'component':<13} {'CPU s':>8} {'peak RSS MB':>12} "
          f"{'marginal us/row':>16}")
    for width, entry in derived["per_width"].items():
        for component in COMPONENTS:
            figures = entry[component]
            print(f"{width:>8} {component:<13} {_fmt(figures['cpu_s'], '{:8.1f}')} "
                  f"{_fmt(figures['peak_rss_mb'], '{:12.0f}')} "
                  f"{_fmt(figures['marginal_cpu_us_per_row'], '{:16.2f}')}")
        print(f"{'':>8} diagnostics share {_fmt(entry['diagnostics_share'], '{:.0%}')}, "
              f"report/ {_fmt(entry['report_mb'], '{:.2f}')} MB, fc/baseline total "
              f"{_fmt(entry['total_fc_over_baseline'], '{:.2f}x')}, marginal "
              f"{_fmt(entry['marginal_fc_over_baseline'], '{:.2f}x')}, fc/floor total "
              f"{_fmt(entry['total_fc_over_floor'], '{:.2f}x')}")
    for kind, sizes in translation.items():
        print(f"\nDataflow translation of {kind} crosses (dry run): "
              + ", ".join(f"{n}: {t['transforms']:,} transforms, "
                          f"{t['proto_bytes'] / 1e6:.2f} MB" for n, t in sizes.items()))
    print("\nwidth targets:")
    for name, target in derived["targets"].items():
        verdict = {True: "met", False: "NOT met", None: "-"}[target["met"]]
        print(f"  {name:<34} {_fmt(target['value'], '{:.3g}'):>8}  ({target['target']}) "
              f"{verdict}")


def _fmt(value, spec: str) -> str:
    return "-" if value is None else spec.format(value)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", default="6,66,286")
    parser.add_argument("--scales", default="1k,1x",
                        help="two scales: the marginal figures come from their difference")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=1800.0)
    parser.add_argument("--results", default=os.path.join(ROOT, "bench", "width_results.json"))
    args = parser.parse_args(argv)
    args.widths = [int(w) for w in args.widths.split(",")]
    args.scales = args.scales.split(",")
    for width in args.widths:
        if width not in WIDTH_CROSSES:
            parser.error(f"unknown width {width}; choose from {sorted(WIDTH_CROSSES)}")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    results = run(args)
    derived = derive(results, args.widths, args.scales)
    print_tables(derived, results["translation"], args.scales)
    with open(args.results, "w") as handle:
        json.dump({**results, "derived": derived}, handle, indent=1, default=str)
    return 0 if all(r["returncode"] == 0 for r in results["runs"]) else 1


if __name__ == "__main__":
    sys.exit(main())
