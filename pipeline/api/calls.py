"""The commands as functions: each returns an object where the CLI prints text.

The CLI (pipeline/cli/main.py) calls these and prints what they return, so a
program gets exactly what a command line run does. TensorFlow and Beam are
imported inside the calls that need them.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

from pipeline.api.configs import ConfigSource, load
from pipeline.config import Config
from pipeline.config.plan import plan_text
from pipeline.job.runner_choice import with_runner


@dataclasses.dataclass(frozen=True)
class Plan:
    """What `validate` found: the loaded config and the plan `featurecross validate` prints."""
    config: Config
    text: str

    def __str__(self) -> str:
        return self.text


def validate(config: ConfigSource) -> Plan:
    """Checks a config without touching data; raises ConfigError if it cannot run."""
    loaded = load(config)
    return Plan(loaded, plan_text(loaded))


def run(config: ConfigSource, *, input: str | None = None,
        output: str | None = None, transform_fn: str | None = None,
        on_invalid: str = "fail", overwrite: bool = False, verify_rows: int = 1000,
        fail_on_drift: bool = False, collision_report: bool = True,
        max_invalid_share: float | None = None, diagnostics_memory_mb: int | None = None,
        beam_args: Sequence[str] = (), progress: bool = True):
    """Runs the job (`featurecross run`) and returns its `RunSummary`.

    `max_invalid_share` and `diagnostics_memory_mb` override the config's
    `output:` keys (None keeps the config's value, or its default);
    `beam_args` are Beam's own flags (`["--runner", "DataflowRunner", ...]`);
    `progress` shows the live line on a terminal, a plain line every 30 s
    elsewhere (docs/running.md "Progress"). A drift verdict does not raise:
    check `summary.drift_gate_failed`.
    """
    if on_invalid not in ("fail", "quarantine"):
        raise ValueError(f"on_invalid must be 'fail' or 'quarantine', got {on_invalid!r}")
    loaded = load(config, input=input, output=output, transform_fn=transform_fn,
                  max_invalid_share=max_invalid_share,
                  diagnostics_memory_mb=diagnostics_memory_mb)
    from pipeline.job.dataflow_options import check_dataflow_options
    beam_args = with_runner(list(beam_args))  # the pinned local runner unless one is named
    check_dataflow_options(beam_args, input_pattern=loaded.input_pattern,
                           output_dir=loaded.output_dir, transform_fn_dir=transform_fn)
    from pipeline.job.progress import Progress
    from pipeline.job.run import run_job
    with Progress(enabled=progress) as shown:
        return run_job(loaded, beam_args, transform_fn_dir=transform_fn,
                       quarantine=on_invalid == "quarantine", overwrite=overwrite,
                       verify_rows=verify_rows, fail_on_drift=fail_on_drift,
                       collision_report=collision_report, progress=shown)


def profile(config: ConfigSource, *, input: str | None = None,
            max_collision_rate: float | None = None,
            diagnostics_memory_mb: int | None = None, beam_args: Sequence[str] = ()) -> dict:
    """`featurecross profile`'s figures (what `--json` writes) as a dict.

    `diagnostics_memory_mb` overrides the config's `output.diagnostics_memory_mb`.
    """
    loaded = load(config, input=input, diagnostics_memory_mb=diagnostics_memory_mb)
    from pipeline.explore.profile import profile_data
    return profile_data(loaded, with_runner(list(beam_args)), max_collision_rate=max_collision_rate)


def suggest(config: ConfigSource, label: str, *, input: str | None = None,
            beam_args: Sequence[str] = ()) -> dict:
    """`featurecross suggest`'s ranking as a dict; `suggest_text(result, top=K)` prints it.

    The label and the candidates are checked before any data is read.
    """
    loaded = load(config, input=input)
    from pipeline.explore.suggest import candidates, label_source, suggest_crosses
    label_source(loaded, label)
    candidates(loaded, label)
    return suggest_crosses(loaded, with_runner(list(beam_args)), label=label)


def init(input: str, *, label: str | None = None,
         output: str = "featurecross.yaml", overwrite: bool = False):
    """Writes a starter config for the files matching `input` (`featurecross init`);
    returns an `InitResult` (`.path`, `.text`, `.columns`, `.message()`)."""
    from pipeline.explore.init_config import init_config
    return init_config(input, label=label, output=output, overwrite=overwrite)
