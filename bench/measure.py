"""Measuring: each run is a child process timed from outside (wall, CPU, peak
RSS of its process tree); `Bench` plans and runs them in order."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time

from analyse import project_wall, summarize
from scales import (
    ANALYSIS_COMPONENTS,
    ANALYSIS_CONFIGS,
    COMPONENTS,
    CONFIGS,
    MEMORY_COMPONENTS,
    MP_FLAGS,
    PY,
    ROOT,
    SCALE_FILES,
    WORKLOADS,
    scale_rows,
)


def _tree_memory_kb(root: int) -> tuple[int, int]:
    """Summed VmRSS and Pss (kB) of `root` and all its descendants.

    Pss splits each shared page among the processes mapping it, so a tree's
    Pss counts TensorFlow's libraries once even when two processes load them.
    """
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                stat = handle.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    rss = pss = 0
    todo = [root]
    page_kb = os.sysconf("SC_PAGE_SIZE") // 1024
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, ()))
        try:
            with open(f"/proc/{pid}/statm") as handle:
                rss += int(handle.read().split()[1]) * page_kb
            with open(f"/proc/{pid}/smaps_rollup") as handle:
                pss += next((int(line.split()[1]) for line in handle
                             if line.startswith("Pss:")), 0)
        except OSError:
            pass
    return rss, pss


def _cpu_jiffies() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine."""
    with open("/proc/stat") as handle:
        fields = [int(x) for x in handle.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return sum(fields) - idle, sum(fields)


def measure(cmd: list[str], log_path: str, *, timeout: float) -> dict:
    """Runs `cmd` as a child; wall time, tree peak RSS, CPU and machine load."""
    # Children import `pipeline` from the tree this bench lives in (also when the
    # bench runs from a snapshot copy while the installed package is edited).
    path = os.pathsep.join(p for p in (ROOT, os.environ.get("PYTHONPATH")) if p)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONUNBUFFERED="1", PYTHONPATH=path)
    busy0, total0 = _cpu_jiffies()
    with open(log_path, "w") as log:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        peak = [0, 0]  # tree RSS, tree Pss
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                peak[:] = map(max, peak, _tree_memory_kb(proc.pid))
                done.wait(0.1)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        timer.cancel()
        done.set()
        sampler.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
    busy1, total1 = _cpu_jiffies()
    ncpu = os.cpu_count() or 1
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = usage.ru_utime + usage.ru_stime
    machine_busy_cores = (busy1 - busy0) / max(total1 - total0, 1) * ncpu
    return {
        "returncode": proc.returncode,
        "wall_s": wall,
        "cpu_s": cpu,
        "peak_rss_mb": max(peak[0], usage.ru_maxrss) / 1024,
        "peak_pss_mb": peak[1] / 1024 if peak[1] else None,
        "maxrss_single_mb": usage.ru_maxrss / 1024,
        "other_load_cores": max(0.0, machine_busy_cores - cpu / wall) if wall else 0.0,
        "_ticks": ticks,
    }


def _tail(path: str, lines: int = 25) -> str:
    with open(path, errors="replace") as handle:
        return "".join(handle.readlines()[-lines:])


class Bench:
    def __init__(self, args) -> None:
        self.args = args
        self.work = args.workdir
        self.runs: list[dict] = []
        self.notes: list[str] = []
        self.started = time.time()
        self.skipped_baseline: list[str] = []
        os.makedirs(os.path.join(self.work, "logs"), exist_ok=True)
        os.makedirs(os.path.join(self.work, "configs"), exist_ok=True)
        self.configs = {name: self._config_copies(name) for name in args.configs}

    def _config_copies(self, name: str) -> dict[str, str]:
        import yaml
        with open(os.path.join(ROOT, CONFIGS[name])) as handle:
            raw = yaml.safe_load(handle)
        paths = {}
        for fmt in ("parquet", "tfrecord"):
            copy = dict(raw, output=dict(raw.get("output", {}), format=fmt))
            path = os.path.join(self.work, "configs", f"{name}_{fmt}.yaml")
            with open(path, "w") as handle:
                yaml.safe_dump(copy, handle, sort_keys=False)
            paths[fmt] = path
        return paths

    def ref_dir(self, config: str, scale: str) -> str:
        return os.path.join(self.work, "ref", config, scale)

    def command(self, component: str, config: str, scale: str, out: str) -> list[str]:
        data = os.path.join(ROOT, SCALE_FILES[scale][0])
        cfg = self.configs[config]
        if component in ANALYSIS_COMPONENTS:
            impl = "featurecross" if component == "analyze_fc" else "tft"
            return [PY, WORKLOADS, "analyze", "--config", cfg["parquet"], "--input", data,
                    "--output", out, "--impl", impl]
        if component.startswith("fc_"):
            fmt = "tfrecord" if component == "fc_tfrecord" else "parquet"
            cmd = [PY, "-m", "pipeline", "run", "--config", cfg[fmt], "--input", data,
                   "--output", out, "--overwrite"]
            if component == "fc_transform_only":
                cmd += ["--transform-fn", self.ref_dir(config, scale)]
            if component == "fc_parquet_mp2":
                cmd += MP_FLAGS
            if component == "fc_parquet_no_report":
                cmd += ["--no-collision-report"]
            return cmd
        kind, _, fmt = component.partition("_")
        if component == "io_pyarrow":
            return [PY, WORKLOADS, "pyarrow_io", "--config", cfg["parquet"], "--input", data,
                    "--output", out]
        cmd = [PY, WORKLOADS, kind, "--config", cfg["parquet"], "--input", data,
               "--output", out, "--format", fmt]
        if kind == "floor":
            cmd += ["--transform-dir", self.ref_dir(config, scale)]
        return cmd

    def run_one(self, component: str, config: str | None, scale: str | None,
                repeat: int) -> dict:
        label = f"{config or '-'}/{scale or '-'}/{component}/r{repeat}"
        keep_as_ref = component == "fc_parquet" and repeat == 0
        out = (self.ref_dir(config, scale) if keep_as_ref
               else os.path.join(self.work, "scratch", component))
        if not keep_as_ref and os.path.exists(out):
            shutil.rmtree(out)
        os.makedirs(os.path.dirname(out), exist_ok=True)
        report = os.path.join(self.work, "report.json")
        if os.path.exists(report):
            os.remove(report)
        if component == "import":
            cmd = [PY, WORKLOADS, "import_only"]
        elif component == "import_fast_exit":
            cmd = [PY, WORKLOADS, "import_only", "--fast-exit"]
        else:
            cmd = self.command(component, config, scale, out)
        if not component.startswith("fc_"):
            cmd += ["--report", report]
        log = os.path.join(self.work, "logs", label.replace("/", "__") + ".log")
        print(f"  {label:<45}", end=" ", flush=True)
        result = measure(cmd, log, timeout=self.args.timeout)
        record = {"component": component, "config": config, "scale": scale,
                  "repeat": repeat, **{k: v for k, v in result.items() if not k.startswith("_")}}
        if os.path.exists(report):
            with open(report) as handle:
                payload = json.load(handle)
            record["rows"] = payload.get("rows")
            record["phases"] = payload.get("phases")
            record["in_process_s"] = payload.get("process_seconds")
        elif component.startswith("fc_"):
            record.update(_parse_featurecross(log))
        if result["returncode"] != 0:
            record["error"] = _tail(log)
            print(f"FAILED (exit {result['returncode']}); log: {log}")
            print("    " + record["error"].replace("\n", "\n    "))
        else:
            expected = scale_rows(scale) if scale else 0
            if record.get("rows") not in (None, expected):
                record["error"] = f"rows {record.get('rows')} != expected {expected}"
                print("ROW MISMATCH", record["error"])
            print(f"{result['wall_s']:7.1f} s  {result['peak_rss_mb']:6.0f} MB  "
                  f"cpu {result['cpu_s']:6.1f} s  other load {result['other_load_cores']:.2f}",
                  flush=True)
        if not keep_as_ref and os.path.exists(out):
            shutil.rmtree(out, ignore_errors=True)
        self.runs.append(record)
        return record

    # ----------------------------------------------------------------- plan
    def components_for(self, scale: str, scales: list[str], skip_baseline: bool) -> list[str]:
        wanted = [c for c in COMPONENTS if c in self.args.components]
        if skip_baseline:
            wanted = [c for c in wanted if not c.startswith("baseline_")]
        if self.args.runner_modes and scale == self.mid_scale(scales):
            wanted.append("fc_parquet_mp2")
        return wanted

    @staticmethod
    def mid_scale(scales: list[str]) -> str:
        return scales[1] if len(scales) >= 3 else scales[-1]

    def run(self) -> None:
        args = self.args
        scales = args.scales
        missing = [kind for kind in ("import", "import_fast_exit")
                   if not any(r["component"] == kind for r in self.runs)]
        if missing:
            print(f"import time ({args.import_repeats} fresh interpreters; then the same "
                  "ending in os._exit, to see the interpreter's teardown time):")
        for kind in missing:
            for repeat in range(args.import_repeats):
                self.run_one(kind, None, None, repeat)
        # Repeat outermost: each repeat measures every scale in turn, so the scales
        # a marginal figure is taken between run minutes apart, not half an hour
        # (the machine's speed drifts over a long bench).
        largest = scales[-1] if len(scales) > 2 else None
        repeats = {scale: args.large_repeats if (scale == largest and args.large_repeats)
                   else args.repeats for scale in scales}
        baseline_repeats = dict(repeats)
        for repeat in range(max(repeats.values())):
            for scale in scales:
                if repeat >= repeats[scale]:
                    continue
                if scale == largest and repeat == 0 and any(
                        c.startswith("baseline_") for c in args.components):
                    # projected from the smaller scales' first repeat, just measured
                    baseline_repeats[scale] = self._baseline_repeats(scale, scales,
                                                                     repeats[scale])
                    if baseline_repeats[scale] == 0:
                        self.skipped_baseline.append(scale)
                print(f"\nrepeat {repeat + 1} of {repeats[scale]}, scale {scale} "
                      f"({scale_rows(scale):,} rows):")
                for config in args.configs:
                    for component in self.components_for(scale, scales, False):
                        if (component.startswith("baseline_")
                                and repeat >= baseline_repeats[scale]):
                            continue
                        if component in ANALYSIS_COMPONENTS and (
                                config not in ANALYSIS_CONFIGS or scale != scales[-1]):
                            continue
                        self.run_one(component, config, scale, repeat)
        self.run_memory_point()

    def run_memory_point(self) -> None:
        """The fc components and the analysis pass once at --memory-scale, for peak RSS."""
        scale = self.args.memory_scale
        configs = [c for c in self.args.configs if c in self.args.memory_configs]
        if not scale or not configs:
            return
        print(f"\nmemory point {scale} ({scale_rows(scale):,} rows), once each:")
        for config in configs:
            for component in MEMORY_COMPONENTS:
                if component not in self.args.components or (
                        component in ANALYSIS_COMPONENTS and config not in ANALYSIS_CONFIGS):
                    continue
                self.run_one(component, config, scale, 0)
            shutil.rmtree(self.ref_dir(config, scale), ignore_errors=True)  # GBs of output

    def _baseline_repeats(self, scale: str, scales: list[str], repeats: int) -> int:
        """How often to run the tf.Transform baseline at the largest scale (0: skip it)."""
        mode = self.args.baseline_at_largest
        if mode == "yes":
            return repeats
        if mode == "no":
            self.notes.append(f"baseline not run at {scale} (--baseline-at-largest no); its "
                              f"{scale} wall time is extrapolated (marked *)")
            return 0
        # auto: project the largest scale's time from the smaller scales
        summary = summarize(self.runs)
        rows_l = scale_rows(scale)
        others = baseline = 0.0
        for config in self.args.configs:
            for component in self.components_for(scale, scales, False):
                wall = project_wall(summary.get(config, {}).get(component, {}), scales[:-1], rows_l)
                if wall is None:
                    continue
                if component.startswith("baseline_"):
                    baseline += wall
                else:
                    others += wall * repeats
        # the smaller scales' later repeats still to come (repeats run outermost)
        for by_component in summary.values():
            for component, by_scale in by_component.items():
                for smaller in scales[:-1]:
                    if smaller in by_scale and not component.startswith("import"):
                        others += by_scale[smaller]["wall_s"] * (self.args.repeats - 1)
        budget = self.args.budget_minutes * 60
        elapsed = time.time() - self.started
        print(f"\nprojected time for scale {scale}: {(others + baseline * repeats) / 60:.1f} "
              f"min ({baseline * repeats / 60:.1f} min of it the tf.Transform baseline), "
              f"after {elapsed / 60:.1f} min so far; budget {self.args.budget_minutes:.0f} min "
              "in all (--budget-minutes)")
        for count in (repeats, 1):
            if elapsed + others + baseline * count <= budget:
                if count != repeats:
                    self.notes.append(f"baseline run once (not {repeats} times) at {scale} "
                                      "to fit --budget-minutes")
                    print(f"  -> running the baseline once at {scale}")
                return count
        self.notes.append(
            f"baseline not run at {scale}: the bench was projected to take "
            f"{(elapsed + others + baseline) / 60:.0f} min in all even with one baseline run "
            f"(> --budget-minutes {self.args.budget_minutes:.0f}); its {scale} wall time is "
            "extrapolated from the smaller scales (marked *), its RSS there is unknown")
        print("  -> skipping the baseline at this scale; extrapolating it")
        return 0


def _parse_featurecross(log: str) -> dict:
    found = {}
    with open(log, errors="replace") as handle:
        for line in handle:
            line = line.strip()
            if line.startswith("rows written:"):
                found["rows"] = int(line.split(":")[1].replace(",", ""))
            elif line.startswith("featurecross: done in"):
                found["in_job_s"] = float(line.split()[3].rstrip("s"))
    return found
