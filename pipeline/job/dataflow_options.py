"""Checks a DataflowRunner command line before anything is built or imported.

Dataflow workers cannot see the driver's disk, and a job without a project,
a region or a gs:// temp location does not fail at once: it retries for
minutes. So `featurecross run --runner DataflowRunner` checks these first
and names every missing or wrong option in one error (docs/dataflow.md "Running on
Dataflow").
"""

from __future__ import annotations

DATAFLOW_RUNNERS = {"dataflow", "dataflowrunner"}


class DataflowOptionsError(ValueError):
    """A Dataflow run whose options cannot work; the message names each option."""


def is_dataflow(beam_args: list[str]) -> bool:
    return (runner_flag(beam_args) or "").lower().rsplit(".", 1)[-1] in DATAFLOW_RUNNERS


def check_dataflow_options(beam_args: list[str], *, input_pattern: str | None,
                           output_dir: str | None, transform_fn_dir: str | None) -> None:
    """Raises DataflowOptionsError listing every problem; no-op for other runners."""
    if not is_dataflow(beam_args):
        return
    from apache_beam.options.pipeline_options import GoogleCloudOptions, PipelineOptions
    cloud = PipelineOptions(beam_args).view_as(GoogleCloudOptions)
    problems = []
    if not cloud.project:
        problems.append("--project is missing: the Google Cloud project to run in")
    if not cloud.region:
        problems.append("--region is missing: the Dataflow region, e.g. us-central1")
    if not cloud.temp_location:
        problems.append("--temp_location is missing: a gs://BUCKET/tmp path for "
                        "temporary files")
    elif not _on_gcs(cloud.temp_location):
        problems.append(f"--temp_location {cloud.temp_location} is not a gs:// path")
    if cloud.staging_location and not _on_gcs(cloud.staging_location):
        problems.append(f"--staging_location {cloud.staging_location} is not a gs:// path")
    for flag, path in (("--input (or input.pattern)", input_pattern),
                       ("--output (or output.dir)", output_dir),
                       ("--transform-fn", transform_fn_dir)):
        if path and not _on_gcs(path):
            problems.append(f"{flag} {path} is local: Dataflow workers cannot read the "
                            "driver's disk, use a gs:// path")
    if problems:
        raise DataflowOptionsError("DataflowRunner options:"
                                   + "".join(f"\n  {problem}" for problem in problems))


def runner_flag(beam_args: list[str]) -> str | None:
    """The last --runner value (Beam's own parsing keeps the last one too)."""
    runner = None
    for position, arg in enumerate(beam_args):
        if arg.startswith("--runner="):
            runner = arg.split("=", 1)[1]
        elif arg == "--runner" and position + 1 < len(beam_args):
            runner = beam_args[position + 1]
    return runner


def _on_gcs(path: str) -> bool:
    return path.startswith("gs://")
