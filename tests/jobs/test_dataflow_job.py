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


def packed_crosses_config(tmp_path, crosses: int, settings: dict):
    """The flights sample config plus `crosses` crosses of its columns, with `settings`."""
    import itertools

    import yaml
    text = yaml.safe_load(FLIGHTS_CONFIG.read_text())
    columns = [name for name, spec in text["schema"].items()
               if spec.get("type", "string") in ("string", "int")
               and spec.get("shape") != "sequence"]
    pairs = list(itertools.combinations(columns, 2))[:crosses]
    assert len(pairs) == crosses
    text["features"] = [{"name": f"{a}_x_{b}_packed", "cross": [a, b], **settings}
                        for a, b in pairs]
    text.pop("crosses", None)
    path = tmp_path / f"packed_{crosses}.yaml"
    path.write_text(yaml.safe_dump(text, sort_keys=False))
    return load_config(str(path)).with_overrides(
        input_pattern="gs://test-bucket/flights/*.parquet",
        output_dir="gs://test-bucket/features")


def translate(tmp_path, config, name: str):
    pipeline = build_pipeline(config, PipelineOptions(DATAFLOW_ARGS),
                              output_dir="gs://test-bucket/features.tmp",
                              temp_dir=str(tmp_path / name), quarantine=True)
    return pipeline.run().job.proto_pipeline.components.transforms.values()


def packed_job_sizes(tmp_path, settings: dict, analyzer: str) -> dict[int, int]:
    """Transforms in the job for 2 and 12 crosses with `settings`; each has one `analyzer`."""
    sizes = {}
    for crosses in (2, 12):
        config = packed_crosses_config(tmp_path, crosses, settings)
        transforms = translate(tmp_path, config, f"{analyzer}{crosses}")
        sizes[crosses] = len(transforms)
        analyzers = {t.unique_name for t in transforms
                     if f"/PTransform[{analyzer}" in t.unique_name
                     and t.unique_name.count("/") == 2}
        assert len(analyzers) == 1, analyzers
    return sizes


def test_auto_num_bins_crosses_share_one_analysis_in_the_job_graph(tmp_path):
    """docs/dataflow.md "Job graph size": the job is the same size for 2 or 12 auto crosses."""
    sizes = packed_job_sizes(tmp_path, {"num_bins": "auto", "max_collision_rate": 0.01},
                             "num_bins_")
    assert sizes[12] == sizes[2], sizes


def test_vocabulary_crosses_share_one_analysis_in_the_job_graph(tmp_path):
    """docs/dataflow.md "Job graph size": one packed vocabulary analysis, not one per cross.

    tf.Transform's own vocabulary adds about 90 transforms per cross; the
    packed one adds only tf.Transform's binding of each vocabulary file (2).
    """
    sizes = packed_job_sizes(tmp_path, {"vocabulary": {"top_k": 100}},
                             "packed_vocabularies_")
    assert sizes[12] - sizes[2] <= 2 * 10, sizes
