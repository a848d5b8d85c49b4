"""Dataflow, offline: the same pipeline translates to a Dataflow job (dry run, no network)."""

from __future__ import annotations

from apache_beam.options.pipeline_options import PipelineOptions

from pipeline.config import load_config
from pipeline.job.builder import build_pipeline
from tests.support import FLIGHTS_CONFIG

DATAFLOW_ARGS = [
    "--runner=DataflowRunner", "--project=test-project", "--region=europe-west4",
    "--temp_location=gs://test-bucket/tmp", "--staging_location=gs://test-bucket/staging",
    "--job_name=featurecross-test", "--no_auth", "--dry_run=True",
    "--sdk_location=container",
]


def test_pipeline_translates_to_a_dataflow_job_without_submitting(tmp_path):
    config = load_config(str(FLIGHTS_CONFIG)).with_overrides(
        input_pattern="gs://test-bucket/flights/*.parquet",
        output_dir="gs://test-bucket/features")
    pipeline = build_pipeline(config, PipelineOptions(DATAFLOW_ARGS),
                              output_dir="gs://test-bucket/features.tmp",
                              # tf.Transform creates its temp dir while building:
                              # keep that local, this test has no network.
                              temp_dir=str(tmp_path), quarantine=True)
    result = pipeline.run()
    job = result.job.proto
    assert job.name == "featurecross-test"
    labels = {t.unique_name for t in result.job.proto_pipeline.components.transforms.values()}
    for step in ("ReadInput", "CheckRows", "TransformBatches", "WriteTransformed",
                 "WriteInvalidRows", "AnalyzeAndWriteTransformFn/AnalyzeDataset",
                 "AnalyzeAndWriteTransformFn/WriteTransformFn"):
        assert step in labels, step
    options = result.job.options.get_all_options()
    assert options["project"] == "test-project"
    assert options["region"] == "europe-west4"
