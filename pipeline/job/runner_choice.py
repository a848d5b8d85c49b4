"""Which Beam runner a command line asks for, checked before anything is built.

No `--runner` means the pinned local runner (pipeline/job/local_runner.py);
a runner Beam does not know is a usage error naming the ones that work,
instead of Beam's traceback. Pure Python: `validate` must not import Beam.
"""

from __future__ import annotations

from pipeline.job.dataflow_options import runner_flag

LOCAL_RUNNER = "pipeline.job.local_runner.LocalRunner"
# Beam's runners a featurecross command line may name (StandardOptions.ALL_KNOWN_RUNNERS,
# less the interactive and test ones); a dotted class path is taken as given.
KNOWN_RUNNERS = ("DirectRunner", "FnApiRunner", "BundleBasedDirectRunner",
                 "SwitchingDirectRunner", "PrismRunner", "PortableRunner", "DataflowRunner",
                 "FlinkRunner", "SparkRunner")


class RunnerError(ValueError):
    """--runner names no runner Beam knows."""


def with_runner(beam_args: list[str]) -> list[str]:
    """`beam_args` with the local runner pinned when none is named; checks a named one."""
    runner = runner_flag(beam_args)
    if runner is None:
        return [*beam_args, f"--runner={LOCAL_RUNNER}"]
    known = {name.lower() for name in KNOWN_RUNNERS}
    name = runner.lower()
    if "." not in runner and name not in known and f"{name}runner" not in known:
        raise RunnerError(
            f"unknown --runner {runner}; the runners that work: the local default "
            f"(no --runner: Beam's FnApiRunner), {', '.join(KNOWN_RUNNERS)}")
    return beam_args
