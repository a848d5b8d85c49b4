"""How much of the data a vocabulary cross's exact ids cover, for manifest.json.

A vocabulary cross gives ids `0..size-1` to the combinations it kept and
`size..` (OOV buckets) to the rest. Coverage counts, on the written output
batches, the rows whose every crossed value got an exact id. It is measured
on the data the run transformed: in a transform-only run, new data against
the frozen vocabulary.
"""

from __future__ import annotations

import os
from typing import Iterator

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.config import Config, Feature
from pipeline.io.layout import COVERAGE_FILE
from pipeline.io.side_files import take_json, write_json
from pipeline.transform.output_specs import sparse_keys
from pipeline.transform.vocabularies import vocabulary_filename


def vocabulary_features(config: Config) -> list[Feature]:
    return [f for f in config.features if f.vocabulary is not None]


def vocabulary_sizes(config: Config, transform_output_dir: str) -> dict[str, int]:
    """Kept combinations per vocabulary cross, read from the exported assets."""
    import tensorflow_transform as tft
    output = tft.TFTransformOutput(transform_output_dir)
    return {f.name: output.vocabulary_size_by_name(vocabulary_filename(f))
            for f in vocabulary_features(config)}


def row_ids(batch: pa.RecordBatch, feature: Feature) -> tuple[np.ndarray, np.ndarray]:
    """(row, id) pairs of one feature in an output batch, whatever its output mode."""
    if feature.output == "int":
        column = batch.column(batch.schema.get_field_index(feature.name))
    elif feature.sparse:
        column = batch.column(batch.schema.get_field_index(sparse_keys(feature.name)[0]))
    else:  # dense one_hot / multi_hot: the ids are the marked positions
        column = batch.column(batch.schema.get_field_index(feature.name))
        marks = pc.list_flatten(column).to_numpy(zero_copy_only=False)
        positions = np.flatnonzero(marks)
        return positions // feature.width, positions % feature.width
    lengths = pc.list_value_length(column).fill_null(0).to_numpy()
    rows = np.repeat(np.arange(len(lengths)), lengths)
    return rows, pc.list_flatten(column).to_numpy(zero_copy_only=False)


def batch_coverage(batch: pa.RecordBatch, features: list[Feature],
                   sizes: dict[str, int]) -> dict[str, dict[str, int]]:
    """Per feature: rows, rows with any value, rows whose values all have exact ids."""
    counts = {}
    for feature in features:
        rows, ids = row_ids(batch, feature)
        with_values = np.zeros(batch.num_rows, bool)
        with_values[rows] = True
        out_of_vocabulary = np.zeros(batch.num_rows, bool)
        out_of_vocabulary[rows[ids >= sizes[feature.name]]] = True
        counts[feature.name] = {
            "rows": batch.num_rows,
            "rows_with_values": int(with_values.sum()),
            "rows_in_vocabulary": int((with_values & ~out_of_vocabulary).sum())}
    return counts


class MeasureBatch(beam.DoFn):
    """Loads the vocabulary sizes once per worker (analysis has published them
    before any batch is transformed), then counts each output batch."""

    def __init__(self, config: Config, transform_output_dir: str) -> None:
        self.config = config
        self.transform_output_dir = transform_output_dir
        self.sizes = None

    def process(self, batch: pa.RecordBatch) -> Iterator[dict]:
        if self.sizes is None:
            self.sizes = vocabulary_sizes(self.config, self.transform_output_dir)
        yield batch_coverage(batch, vocabulary_features(self.config), self.sizes)


def _add(first: dict, second: dict) -> dict:
    merged = {name: dict(entry) for name, entry in first.items()}
    for name, entry in second.items():
        mine = merged.setdefault(name, dict.fromkeys(entry, 0))
        for key, value in entry.items():
            mine[key] += value
    return merged


class MeasureVocabularyCoverage(beam.PTransform):
    """Output batches in; `vocabulary_coverage.json` in `output_dir` out."""

    def __init__(self, config: Config, output_dir: str) -> None:
        super().__init__()
        self.config = config
        self.output_dir = output_dir

    def expand(self, batches):
        return (batches
                | "CountCoveredRows" >> beam.ParDo(MeasureBatch(self.config, self.output_dir))
                | "SumCounts" >> beam.CombineGlobally(_sum_all).without_defaults()
                | "WriteCoverageFile" >> beam.Map(write_json,
                                                  os.path.join(self.output_dir, COVERAGE_FILE)))


def _sum_all(parts) -> dict:
    total: dict = {}
    for part in parts:
        total = _add(total, part)
    return total


def read_vocabulary_report(config: Config, output_dir: str) -> dict[str, dict]:
    """Per vocabulary cross: size, asset file and coverage; removes the counts file."""
    features = vocabulary_features(config)
    if not features:
        return {}
    # The counts file is absent when no row was written.
    counts = take_json(os.path.join(output_dir, COVERAGE_FILE), missing={})
    sizes = vocabulary_sizes(config, output_dir)
    report = {}
    for feature in features:
        entry = counts.get(feature.name, {"rows": 0, "rows_with_values": 0,
                                          "rows_in_vocabulary": 0})
        report[feature.name] = {
            "size": sizes[feature.name],
            "file": f"transform_fn/assets/{vocabulary_filename(feature)}",
            **entry,
            "row_coverage": (round(entry["rows_in_vocabulary"] / entry["rows"], 6)
                             if entry["rows"] else None)}
    return report
