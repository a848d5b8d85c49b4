"""A finished output directory, opened for reading: its manifest, its config, the
tf.Transform output and the data as an Arrow table (docs/python-api.md "Reading a
finished output")."""

from __future__ import annotations

import dataclasses
import os
from functools import cached_property

from pipeline.config import Config


def open_output(output_dir: str) -> "RunOutput":
    """A published run's directory; refuses one without `_SUCCESS` (an unfinished run)."""
    from pipeline.io.publish import require_complete
    require_complete(output_dir, "open_output")
    return RunOutput(output_dir)


@dataclasses.dataclass(frozen=True)
class RunOutput:
    output_dir: str

    @cached_property
    def manifest(self) -> dict:
        """`manifest.json`: counts, features, num_bins, boundaries, stats, versions."""
        from pipeline.io.layout import read_manifest
        return read_manifest(self.output_dir)

    @cached_property
    def config(self) -> Config:
        """The config the run was made with, as the manifest stored it."""
        from pipeline.io.layout import read_run_config
        return read_run_config(self.output_dir)

    def transform_output(self):
        """`tft.TFTransformOutput` of the run: the graph, its specs and vocabularies."""
        import tensorflow_transform as tft
        return tft.TFTransformOutput(self.output_dir)

    def data_files(self) -> list[str]:
        import tensorflow as tf

        from pipeline.io.layout import DATA_DIR
        return sorted(tf.io.gfile.glob(os.path.join(self.output_dir, DATA_DIR, "part-*")))

    def table(self):
        """The transformed rows as a `pyarrow.Table`, in the run's part-file order.

        Columns as in a Parquet output (docs/outputs.md "Output"): scalars plain,
        everything else a list, a sparse feature as its indices and values.
        """
        import pyarrow as pa
        if self.config.output_format == "parquet":
            import pyarrow.parquet as pq
            return pa.concat_tables([pq.read_table(path) for path in self.data_files()])
        return _tfrecord_table(self.data_files(), self.config)


def _tfrecord_table(paths: list[str], config: Config):
    """gzip tf.Example part files parsed into the Parquet output's columns."""
    import pyarrow as pa
    import tensorflow as tf

    from pipeline.transform.output_specs import (
        output_columns,
        output_feature_spec,
        parquet_schema,
    )
    spec = output_feature_spec(config)
    schema = parquet_schema(spec)
    columns = output_columns(spec)
    dtypes = {pa.int64(): tf.int64, pa.float32(): tf.float32, pa.large_binary(): tf.string}
    parse_spec = {name: tf.io.VarLenFeature(dtypes[value_type])
                  for name, value_type, _ in columns}
    batches = []
    dataset = tf.data.TFRecordDataset(paths, compression_type="GZIP").batch(65_536)
    for records in dataset:
        parsed = tf.io.parse_example(records, parse_spec)
        arrays = []
        for name, value_type, scalar in columns:
            ragged = tf.RaggedTensor.from_sparse(parsed[name])
            values = pa.array(ragged.flat_values.numpy(), value_type)
            arrays.append(values if scalar else pa.LargeListArray.from_arrays(
                pa.array(ragged.row_splits.numpy(), pa.int64()), values))
        batches.append(pa.RecordBatch.from_arrays(arrays, schema=schema))
    return pa.Table.from_batches(batches, schema=schema)
