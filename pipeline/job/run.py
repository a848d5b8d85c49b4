"""Runs the batch job end to end and publishes its output directory.

Everything is written into the publication's work directory (a staging
directory on a local disk, OUT itself on an object store); only when the
pipeline succeeded and the serving model and manifest are written is the run
committed, `_SUCCESS` last (see pipeline/io/publish.py).
"""

from __future__ import annotations

import dataclasses
import os
import time

import tensorflow as tf
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options.pipeline_options import PipelineOptions

from pipeline.config import Config
from pipeline.diagnostics import drift_baseline as baseline
from pipeline.diagnostics.auto_bins import publish_choices, read_choices
from pipeline.diagnostics.collision_counts import read_collisions, read_combinations
from pipeline.diagnostics.drift_counts import read_drift_counts
from pipeline.diagnostics.report import write_report
from pipeline.diagnostics.stats import read_feature_stats
from pipeline.diagnostics.vocabulary_coverage import read_vocabulary_report
from pipeline.io.publish import TEMP_DIR_NAME, Publication, PublishError, require_complete
from pipeline.job.builder import build_pipeline
from pipeline.job.manifest import write_manifest
from pipeline.job.steps import COUNTER_NAMESPACE
from pipeline.serving.export import export_serving_model
from pipeline.serving.parity_sample import DEFAULT_ROWS, ParitySample
from pipeline.transform.batch_transformer import check_frozen_features, check_transform_output
from pipeline.transform.boundaries import bucket_boundaries

TRANSFORM_DIRS = ("transform_fn", "transformed_metadata")


class JobError(RuntimeError):
    """The job could not start or did not finish; the message says why."""


@dataclasses.dataclass(frozen=True)
class RunSummary:
    output_dir: str
    rows_read: int
    rows_written: int
    rows_quarantined: int
    seconds: float
    parity_sample: dict = dataclasses.field(default_factory=dict)
    drift: dict | None = None  # the drift section of a transform-only run
    collisions: dict | None = None  # per hashed feature (collision_counts), None when off

    @property
    def rows_per_second(self) -> float:
        return self.rows_read / self.seconds if self.seconds else 0.0


def run_job(config: Config, beam_args: list[str], *, transform_fn_dir: str | None = None,
            quarantine: bool = False, overwrite: bool = False,
            verify_rows: int = DEFAULT_ROWS, fail_on_drift: bool = False,
            collision_report: bool = True) -> RunSummary:
    started = time.monotonic()
    check_input(config.input_pattern)
    if not config.output_dir:
        raise JobError("no output directory: set output.dir in the config or pass --output")
    if transform_fn_dir:
        _check_frozen_run(transform_fn_dir)
    publication = Publication(config.output_dir, overwrite=overwrite)
    try:
        publication.begin()
    except PublishError as error:
        raise JobError(str(error)) from None
    work_dir = publication.work_dir
    parity_sample = ParitySample(config, verify_rows)  # its fresh process starts now
    try:
        if transform_fn_dir:
            _copy_transform_fn(transform_fn_dir, work_dir)
            check_transform_output(config, work_dir)
            check_frozen_features(config, transform_fn_dir)
        options = PipelineOptions(beam_args)
        pipeline = build_pipeline(config, options, output_dir=work_dir,
                                  temp_dir=_temp_dir(options, work_dir),
                                  quarantine=quarantine, analyze=transform_fn_dir is None,
                                  collision_report=collision_report)
        result = pipeline.run()
        result.wait_until_finish()
        pipeline_seconds = time.monotonic() - started
        counts = pipeline_counters(result)
        export_serving_model(config, work_dir, os.path.join(work_dir, "serving"))
        summary = RunSummary(publication.output_dir, counts.get("rows_read", 0),
                             counts.get("rows_written", 0), counts.get("rows_quarantined", 0),
                             time.monotonic() - started)
        if summary.rows_read != summary.rows_written + summary.rows_quarantined:
            raise JobError(f"row counts do not reconcile: {summary.rows_read} read, "
                           f"{summary.rows_written} written, {summary.rows_quarantined} "
                           "quarantined")
        choices = (read_choices(config, work_dir) if transform_fn_dir
                   else publish_choices(config, work_dir))
        collisions = read_collisions(work_dir)
        parity, parity_seconds = parity_sample.check(work_dir)
        summary = dataclasses.replace(summary, parity_sample=parity, collisions=collisions,
                                      seconds=time.monotonic() - started)
        boundaries = bucket_boundaries(config, work_dir)
        today = baseline.summaries(config, boundaries=boundaries,
                                   combinations=read_combinations(work_dir, collisions),
                                   drift_counts=read_drift_counts(work_dir))
        drift_baseline, drift = baseline.record(config, work_dir, today,
                                                frozen_run=transform_fn_dir,
                                                fail_on_drift=fail_on_drift)
        summary = dataclasses.replace(summary, drift=drift)
        write_report(work_dir, config, collisions, drift)
        write_manifest(work_dir, config, summary, transform_fn_dir=transform_fn_dir,
                       boundaries=boundaries, drift_baseline=drift_baseline, drift=drift,
                       stats=read_feature_stats(work_dir), parity_sample=parity,
                       vocabularies=read_vocabulary_report(config, work_dir),
                       collisions=collisions, num_bins_choices=choices,
                       timings={"pipeline": pipeline_seconds,
                                "parity_sample": parity_seconds,
                                "serving_export_and_manifest":
                                    time.monotonic() - started - pipeline_seconds
                                    - parity_seconds})
        publication.commit()
        return summary
    except BaseException:
        parity_sample.close()
        publication.abort()
        raise


def check_input(pattern: str | None) -> None:
    from apache_beam.io.filesystems import FileSystems
    if not pattern:
        raise JobError("no input: set input.pattern in the config or pass --input")
    if not FileSystems.match([pattern])[0].metadata_list:
        raise JobError(f"no files match the input pattern {pattern!r}")


def _check_frozen_run(run_dir: str) -> None:
    try:
        require_complete(run_dir, "--transform-fn")
    except PublishError as error:
        raise JobError(str(error)) from None


def _temp_dir(options: PipelineOptions, staging: str) -> str:
    from apache_beam.options.pipeline_options import GoogleCloudOptions
    temp_location = options.view_as(GoogleCloudOptions).temp_location
    return os.path.join(temp_location or staging, TEMP_DIR_NAME)


def _copy_transform_fn(source_dir: str, staging: str) -> None:
    """A transform-only run carries the frozen graph it applied."""
    for name in TRANSFORM_DIRS:
        source = os.path.join(source_dir, name)
        if not tf.io.gfile.isdir(source):
            raise JobError(f"--transform-fn {source_dir}: no {name}/ there; pass the output "
                           "directory of an earlier featurecross run")
        for root, _, files in tf.io.gfile.walk(source):
            relative = os.path.relpath(root, source)  # "." would be a literal name on gs://
            target_root = os.path.join(staging, name, "" if relative == "." else relative)
            tf.io.gfile.makedirs(target_root)
            for file_name in files:
                tf.io.gfile.copy(os.path.join(root, file_name),
                                 os.path.join(target_root, file_name))


def pipeline_counters(result) -> dict[str, int]:
    """The job's own counters (rows read, written, quarantined) of a finished pipeline."""
    query = result.metrics().query(MetricsFilter().with_namespace(COUNTER_NAMESPACE))
    counts: dict[str, int] = {}
    for counter in query["counters"]:
        value = counter.committed if counter.committed is not None else counter.attempted
        counts[counter.key.metric.name] = counts.get(counter.key.metric.name, 0) + value
    return counts
