"""Runs the batch job end to end and publishes its output directory.

Everything is written into the publication's work directory (a staging
directory on a local disk, OUT itself on an object store); only when the
pipeline succeeded and the serving model and manifest are written is the run
committed, `_SUCCESS` last (see pipeline/io/publish.py).
"""

from __future__ import annotations

import errno
import os
import sys
import time

from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options.pipeline_options import PipelineOptions

from pipeline.config import Config
from pipeline.diagnostics import run_figures
from pipeline.diagnostics.report import write_report
from pipeline.io.layout import (
    INVALID_DIR,
    RAW_METADATA_DIR,
    SERVING_DIR,
    TEMP_DIR_NAME,
    rejected_invalid_dir,
)
from pipeline.io.paths import check_not_directory
from pipeline.io.publish import Publication, PublishError
from pipeline.job.builder import build_pipeline
from pipeline.job.frozen_run import check_frozen_features, check_frozen_run, copy_transform_fn
from pipeline.job.manifest import write_manifest
from pipeline.job.progress import Progress
from pipeline.job.steps import COUNTER_NAMESPACE
from pipeline.job.summary import RunSummary
from pipeline.serving.export import export_serving_model
from pipeline.serving.parity_sample import DEFAULT_ROWS, ParitySample
from pipeline.transform.batch_transformer import check_transform_output
from pipeline.transform.raw_specs import raw_schema_proto


class JobError(RuntimeError):
    """The job could not start or did not finish; the message says why."""


def run_job(config: Config, beam_args: list[str], *, transform_fn_dir: str | None = None,
            quarantine: bool = False, overwrite: bool = False,
            verify_rows: int = DEFAULT_ROWS, fail_on_drift: bool = False,
            collision_report: bool = True,
            progress: Progress | None = None) -> RunSummary:
    """Runs the job on `config` and publishes OUT; returns what the run did.

    The steps, in order: check the input, output and frozen run (loading its
    graph); begin the publication (claim OUT, repair what a gone run left, probe
    the staging directory); start the parity sample's serving
    process; run the Beam pipeline (analysis unless `transform_fn_dir`, then
    transform and write); export `serving/`; reconcile the row counts; serve
    the parity sample; collect the run's figures; write the report and the
    manifest; commit (`_SUCCESS` last). Any failure aborts the publication,
    so nothing is published. `progress` is told each step (docs/running.md
    "Progress"); without one, nothing is shown.
    """
    started = time.monotonic()
    progress = progress or Progress(enabled=False)
    progress.stage("checking the input")
    check_input(config.input_pattern, config.input_format)
    progress.measure_input(config, analyze=transform_fn_dir is None)
    if not config.output_dir:
        raise JobError("no output directory: set output.dir in the config or pass --output")
    if transform_fn_dir:
        check_frozen_run(transform_fn_dir)
    publication = Publication(config.output_dir, overwrite=overwrite)
    try:
        publication.begin()
    except PublishError as error:
        raise JobError(str(error)) from None
    finally:  # what it repaired, said even when OUT is then refused
        for note in publication.notes:
            print(f"featurecross: {note}", file=sys.stderr)
    work_dir = publication.work_dir
    parity_sample = ParitySample(config, verify_rows)  # its fresh process starts now
    try:
        if transform_fn_dir:
            copy_transform_fn(transform_fn_dir, work_dir)
            check_transform_output(config, work_dir)
            check_frozen_features(config, transform_fn_dir)
        options = PipelineOptions(beam_args)
        pipeline = build_pipeline(config, options, output_dir=work_dir,
                                  temp_dir=_temp_dir(options, work_dir),
                                  quarantine=quarantine, analyze=transform_fn_dir is None,
                                  collision_report=collision_report)
        progress.stage("pipeline")
        result = pipeline.run()
        progress.submitted(result, options)
        result.wait_until_finish()
        pipeline_seconds = time.monotonic() - started
        counts = pipeline_counters(result)
        reconcile(counts)
        check_rows(config, counts, analyzed=transform_fn_dir is None, quarantine=quarantine,
                   publication=publication)
        write_raw_metadata(config, work_dir)
        progress.stage("exporting serving/")
        layer = export_serving_model(config, work_dir, os.path.join(work_dir, SERVING_DIR))
        progress.stage("parity sample")
        parity, parity_seconds = parity_sample.check(work_dir)
        progress.stage("report and manifest")
        figures = run_figures.collect(config, work_dir, frozen_run=transform_fn_dir,
                                      fail_on_drift=fail_on_drift, layer=layer)
        summary = RunSummary(publication.output_dir, counts.get("rows_read", 0),
                             counts.get("rows_written", 0), counts.get("rows_quarantined", 0),
                             time.monotonic() - started, parity_sample=parity,
                             drift=figures.drift, collisions=figures.collisions,
                             quarantine=quarantine,
                             rows_with_nan=counts.get("rows_with_nan", 0))
        write_report(work_dir, config, figures)
        write_manifest(work_dir, config, summary, figures, transform_fn_dir=transform_fn_dir,
                       timings={"pipeline": pipeline_seconds,
                                "parity_sample": parity_seconds,
                                "serving_export_and_manifest":
                                    time.monotonic() - started - pipeline_seconds
                                    - parity_seconds})
        publication.commit()
        return summary
    except BaseException as error:
        parity_sample.close()
        publication.abort()
        if is_disk_full(error):
            raise JobError(f"the output directory {publication.output_dir}: no space left on "
                           "the device while the run was writing; nothing was published"
                           ) from None
        raise


def is_disk_full(error: BaseException) -> bool:
    """ENOSPC anywhere in the chain, raised here or inside a step Beam wrapped."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if getattr(current, "errno", None) == errno.ENOSPC or "No space left on device" in str(
                current):
            return True
        current = current.__cause__ or current.__context__
    return False


def check_input(pattern: str | None, input_format: str = "parquet") -> None:
    from apache_beam.io.filesystems import FileSystems
    if not pattern:
        raise JobError("no input: set input.pattern in the config or pass --input")
    check_not_directory(pattern, input_format)
    if not FileSystems.match([pattern])[0].metadata_list:
        raise JobError(f"no files match the input pattern {pattern!r}")


def reconcile(counts: dict[str, int]) -> None:
    """Rows read = rows written + rows quarantined, or the run fails."""
    read, written, quarantined = (counts.get(name, 0) for name in
                                  ("rows_read", "rows_written", "rows_quarantined"))
    if read != written + quarantined:
        raise JobError(f"row counts do not reconcile: {read} read, {written} written, "
                       f"{quarantined} quarantined")


def check_rows(config: Config, counts: dict[str, int], *, analyzed: bool, quarantine: bool,
               publication: Publication) -> None:
    """Fails a run whose rows cannot give a right result (docs/running.md "Invalid rows").

    An analysis over no valid rows would freeze placeholder boundaries and
    vocabularies; a quarantine run that wrote nothing, or set aside more than
    `max_invalid_share` of its rows, reads like a success. Those rows' invalid/
    is kept beside OUT for inspection; nothing is published.
    """
    read, written, invalid = (counts.get(name, 0) for name in
                              ("rows_read", "rows_written", "rows_quarantined"))
    if not written and analyzed and config.analyzers:
        problem = (f"no rows to analyse: {read:,} rows read, none valid; the analyzers "
                   f"({', '.join(config.analyzers)}) need data")
    elif quarantine and read and not written:
        problem = f"no rows written: all {read:,} rows read are invalid"
    elif quarantine and read and invalid / read > config.max_invalid_share:
        problem = (f"{invalid:,} of {read:,} rows read ({invalid / read:.1%}) are invalid, "
                   f"above the maximum invalid share {config.max_invalid_share:g} "
                   "(output.max_invalid_share or --max-invalid-share)")
    else:
        return
    kept = rejected_invalid_dir(publication.output_dir)
    if quarantine and invalid and publication.set_aside(INVALID_DIR, kept):
        problem += f"; the invalid rows are in {kept}/ for inspection"
    raise JobError(f"{problem}; nothing was published")


def write_raw_metadata(config: Config, output_dir: str) -> None:
    """OUT/metadata/schema.pbtxt, so `tft.TFTransformOutput(OUT).raw_feature_spec()` works
    (docs/outputs.md "Reading the outputs")."""
    from tensorflow_transform.tf_metadata import dataset_metadata, metadata_io
    metadata_io.write_metadata(dataset_metadata.DatasetMetadata(raw_schema_proto(config)),
                               os.path.join(output_dir, RAW_METADATA_DIR))


def _temp_dir(options: PipelineOptions, staging: str) -> str:
    from apache_beam.options.pipeline_options import GoogleCloudOptions
    temp_location = options.view_as(GoogleCloudOptions).temp_location
    return os.path.join(temp_location or staging, TEMP_DIR_NAME)


def pipeline_counters(result) -> dict[str, int]:
    """The job's own counters (rows read, written, quarantined) of a finished pipeline."""
    query = result.metrics().query(MetricsFilter().with_namespace(COUNTER_NAMESPACE))
    counts: dict[str, int] = {}
    for counter in query["counters"]:
        value = counter.committed if counter.committed is not None else counter.attempted
        counts[counter.key.metric.name] = counts.get(counter.key.metric.name, 0) + value
    return counts
