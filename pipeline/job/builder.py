"""Builds the batch job's Beam pipeline (unrun, so callers decide when to run it).

    read -> check rows -> analyze (tf.Transform) -> write transform_fn
    read -> check rows -> transform (the exported graph) -> write data
                                                         -> feature stats
                                                         -> collision and drift counts
                       -> write invalid rows

The input is read twice when analysis is needed rather than held in memory
between the passes: memory stays flat however large the input is.
"""

from __future__ import annotations

import os

import apache_beam as beam
import pyarrow as pa
import tensorflow_transform.beam as tft_beam
from apache_beam.options.pipeline_options import PipelineOptions

from pipeline.config import Config
from pipeline.diagnostics.auto_bins import num_bins_analyzer
from pipeline.diagnostics.budget import DiagnosticsBudget
from pipeline.diagnostics.collision_counts import COLLISIONS_TAG, CountCollisions
from pipeline.diagnostics.collisions import EXACT_LIMIT
from pipeline.diagnostics.drift_counts import DRIFT_TAG, BatchDriftCounts, WriteDriftCounts
from pipeline.diagnostics.fingerprints import hashed_features
from pipeline.diagnostics.stats import WriteFeatureStats
from pipeline.diagnostics.vocabulary_coverage import MeasureVocabularyCoverage, vocabulary_features
from pipeline.io.layout import DATA_DIR, INVALID_DIR, NUM_BINS_RECORD_DIR
from pipeline.io.sources import ReadRawBatches
from pipeline.job.steps import (
    INVALID_TAG,
    POSITIONED_BATCH,
    CheckRows,
    TransformBatches,
    WriteInvalidRows,
    WriteTransformed,
)
from pipeline.job.vocabulary_analysis import packed_vocabulary_analyzer
from pipeline.transform.features import make_preprocessing_fn
from pipeline.transform.raw_specs import tensor_adapter_config


def build_pipeline(config: Config, options: PipelineOptions, *, output_dir: str,
                   temp_dir: str, quarantine: bool, analyze: bool = True,
                   collision_report: bool = True) -> beam.Pipeline:
    """The whole job, writing into `output_dir`.

    With `analyze=False` (transform-only runs) `output_dir` must already hold
    `transform_fn/` and `transformed_metadata/`. With `collision_report` the
    hashed features' combinations are counted once, for the collision report
    and the drift baseline (`collision_counts`); without, neither has them.
    The config's `diagnostics_memory_mb` (a flag's value, once `api.load` has
    applied it) is the diagnostics' memory budget per worker, shared by the
    hashed features (`budget.DiagnosticsBudget`).
    """
    budget = DiagnosticsBudget(config.diagnostics_memory_mb, len(hashed_features(config)))
    pipeline = beam.Pipeline(options=options)
    if analyze:
        ready = pipeline | "AnalyzeAndWriteTransformFn" >> AnalyzeAndWriteTransformFn(
            config, output_dir=output_dir, temp_dir=temp_dir, quarantine=quarantine,
            exact_limit=budget.exact_limit)
    else:
        ready = pipeline | "UseFrozenTransformFn" >> beam.Create([None])

    checked = (pipeline
               | "ReadInput" >> ReadRawBatches(config)
               | "CheckRows" >> beam.ParDo(CheckRows(config, quarantine=quarantine, report=True))
               .with_output_types(POSITIONED_BATCH).with_outputs(INVALID_TAG, main="valid"))
    count_keys = collision_report and bool(hashed_features(config))
    count_drift = BatchDriftCounts(config).needed
    transform_outputs = checked.valid | "TransformBatches" >> beam.ParDo(
        TransformBatches(config, output_dir, count_combinations=count_keys,
                         count_drift=count_drift),
        ready=beam.pvalue.AsSingleton(ready)).with_output_types(POSITIONED_BATCH).with_outputs(
            COLLISIONS_TAG, DRIFT_TAG, main="transformed")
    transformed = transform_outputs.transformed
    if count_keys:
        _ = transform_outputs[COLLISIONS_TAG] | "CountCollisions" >> CountCollisions(
            output_dir, budget=budget, order=[f.name for f in hashed_features(config)])
    _ = transformed | "WriteTransformed" >> WriteTransformed(config,
                                                             os.path.join(output_dir, DATA_DIR))
    batches = transformed | "DropPositions" >> beam.Values()
    _ = batches | "WriteFeatureStats" >> WriteFeatureStats(output_dir)
    if count_drift:
        _ = transform_outputs[DRIFT_TAG] | "WriteDriftCounts" >> WriteDriftCounts(output_dir)
    if vocabulary_features(config):
        _ = batches | "MeasureVocabularyCoverage" >> MeasureVocabularyCoverage(
            config, output_dir)
    if quarantine:
        _ = checked[INVALID_TAG] | "WriteInvalidRows" >> WriteInvalidRows(
            os.path.join(output_dir, INVALID_DIR))
    return pipeline


class AnalyzeAndWriteTransformFn(beam.PTransform):
    """tf.Transform's analysis of the input, published as `transform_fn/`.

    A config with no analyzer (no quantile buckets, no vocabulary, no `num_bins:
    auto`) needs no pass over the data: the graph is traced and exported from an
    empty input.
    """

    def __init__(self, config: Config, *, output_dir: str, temp_dir: str,
                 quarantine: bool, exact_limit: int = EXACT_LIMIT) -> None:
        super().__init__()
        self.exact_limit = exact_limit
        self.config = config
        self.output_dir = output_dir
        self.temp_dir = temp_dir
        self.quarantine = quarantine

    def expand(self, pbegin):
        if self.config.needs_analysis:
            batches = (pbegin
                       | "ReadForAnalysis" >> ReadRawBatches(self.config)
                       | "CheckRowsForAnalysis" >> beam.ParDo(
                           CheckRows(self.config, quarantine=self.quarantine, report=False)))
        else:
            batches = pbegin | "NoAnalysisInput" >> beam.Create(
                [], reshuffle=False).with_output_types(pa.RecordBatch)
        analyzer = num_bins_analyzer(os.path.join(self.output_dir, NUM_BINS_RECORD_DIR),
                                     exact_limit=self.exact_limit)
        with tft_beam.Context(temp_dir=self.temp_dir):
            transform_fn = ((batches, tensor_adapter_config(self.config))
                            | "AnalyzeDataset" >> tft_beam.AnalyzeDataset(
                                make_preprocessing_fn(self.config, num_bins_analyzer=analyzer,
                                                      vocabulary_analyzer=packed_vocabulary_analyzer())))
            return transform_fn | "WriteTransformFn" >> tft_beam.WriteTransformFn(
                self.output_dir)
