"""`featurecross init`: a starter config from the files themselves (docs/running.md
"Init: a starter config").

Reads the input's schema and a sample of its rows (Parquet through pyarrow,
TFRecord by parsing tf.Examples), then writes a config that validates and
runs as it is: every column declared, defaults where the sample has nulls,
quantile buckets for numbers, hashes for categories, and pairwise crosses of
the categories whose cardinality makes a cross useful. Every choice carries
a YAML comment that says why, so the file doubles as an explanation.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import yaml
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from pipeline.config import parse_config
from pipeline.config.model import COLUMN_TYPES
from pipeline.config.schema import SHIPPED

SAMPLE_ROWS = 50_000
CATEGORICAL_INT_MAX = 50      # an int column with at most this many values is a category
CROSS_MAX_DISTINCT = 1_000    # above this a column is an id: its crosses would rarely recur
MAX_CROSS_COLUMNS = 6         # all pairs of 6 columns: 15 crosses
NUM_BUCKETS = 10
HASH_BINS_PER_VALUE = 10      # a random hash then puts ~5% of the values in a shared bin
MIN_HASH_BINS = 64
MAX_COLLISION_RATE = 0.01
DEFAULT_CONFIG = "featurecross.yaml"
_COMMENT_COLUMN = 44


class InitError(ValueError):
    """No usable input, a label that is not a column, or a config file already there."""


@dataclasses.dataclass
class ColumnSample:
    """What the sample says about one column."""
    name: str
    arrow_type: str
    kind: str | None           # string | int | float | bool, None when no config type fits
    sequence: bool
    rows: int
    nulls: int
    distinct: int

    @property
    def null_share(self) -> float:
        return self.nulls / self.rows if self.rows else 0.0


@dataclasses.dataclass(frozen=True)
class InitResult:
    """The written config and the figures it was built from."""
    path: str
    text: str
    input_pattern: str
    files: int
    rows_sampled: int
    columns: tuple[ColumnSample, ...]
    features: int
    crosses: int
    label: str | None

    def message(self) -> str:
        """What `featurecross init` prints: what was written, then the next commands."""
        label = self.label or "COLUMN"
        lines = [f"featurecross: wrote {self.path} from {self.rows_sampled:,} sampled rows of "
                 f"{self.files} file{'s' if self.files != 1 else ''} ({len(self.columns)} "
                 f"columns, {self.features} features, {self.crosses} crosses)",
                 "next:",
                 f"  featurecross validate --config {self.path}",
                 f"  featurecross run --config {self.path}",
                 f"  featurecross suggest --config {self.path} --label {label}"]
        return "\n".join(lines)


def init_config(pattern: str, *, label: str | None = None, output: str = DEFAULT_CONFIG,
                sample_rows: int = SAMPLE_ROWS, overwrite: bool = False) -> InitResult:
    """Samples the files matching `pattern` and writes the starter config to `output`."""
    if os.path.exists(output) and not overwrite:
        raise InitError(f"{output} already exists; pass another --output or remove it")
    paths = [m.path for m in FileSystems.match([pattern])[0].metadata_list]
    if not paths:
        raise InitError(f"no files match the input pattern {pattern!r}")
    paths.sort()
    input_format = _input_format(paths[0])
    sample = (_sample_parquet(paths, sample_rows) if input_format == "parquet"
              else _sample_tfrecord(paths, sample_rows))
    columns = _describe(sample, input_format)
    if label is not None and label not in {c.name for c in columns}:
        raise InitError(f"--label {label!r} is not a column of the input "
                        f"(columns: {', '.join(c.name for c in columns)})")
    text, features, crosses = _config_text(columns, pattern, input_format, label, output,
                                           sample.num_rows)
    parse_config(yaml.safe_load(text), path=output)  # a starter that does not load is our bug
    directory = os.path.dirname(output)
    if directory:
        os.makedirs(directory, exist_ok=True)
    with open(output, "w", encoding="utf-8") as handle:
        handle.write(text)
    return InitResult(output, text, pattern, len(paths), sample.num_rows, tuple(columns),
                      features, crosses, label)


# --- reading -----------------------------------------------------------------

def _input_format(path: str) -> str:
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
        head = handle.read(4)
    return "parquet" if head == b"PAR1" else "tfrecord"


def _sample_parquet(paths: list[str], rows: int) -> pa.Table:
    batches, schema = [], None
    for path in paths:
        with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
            parquet = pq.ParquetFile(handle)
            schema = schema or parquet.schema_arrow
            for batch in parquet.iter_batches(batch_size=min(rows, 16_384)):
                batches.append(batch)
                rows -= batch.num_rows
                if rows <= 0:
                    break
        if rows <= 0:
            break
    table = pa.Table.from_batches(batches, schema=schema.remove_metadata())
    return table.slice(0, table.num_rows + min(rows, 0))


def _sample_tfrecord(paths: list[str], rows: int) -> pa.Table:
    """The first `rows` tf.Examples as Arrow lists, one column per feature key."""
    import tensorflow as tf

    from pipeline.io.sources import tfrecord_compression
    values: dict[str, list] = {}
    kinds: dict[str, str] = {}
    count = 0
    for path in paths:
        dataset = tf.data.TFRecordDataset(path, compression_type=tfrecord_compression(path))
        for record in dataset.take(rows - count).as_numpy_iterator():
            example = tf.train.Example.FromString(record)
            for name, feature in example.features.feature.items():
                kind = feature.WhichOneof("kind")
                if kind is None:
                    continue
                kinds.setdefault(name, kind)
                values.setdefault(name, [None] * count)
                cell = list(getattr(feature, kind).value)
                values[name].append([v.decode("utf-8", "replace") for v in cell]
                                    if kind == "bytes_list" else cell)
            count += 1
            for cells in values.values():
                cells.extend([None] * (count - len(cells)))
        if count >= rows:
            break
    types = {"bytes_list": pa.string(), "int64_list": pa.int64(), "float_list": pa.float64()}
    return pa.table({name: pa.array(cells, pa.list_(types[kinds[name]]))
                     for name, cells in sorted(values.items())})


def _describe(table: pa.Table, input_format: str) -> list[ColumnSample]:
    columns = []
    for field, array in zip(table.schema, table.columns):
        array = array.combine_chunks()
        value_type = field.type
        sequence = pa.types.is_list(value_type) or pa.types.is_large_list(value_type)
        if sequence:
            value_type = value_type.value_type
            lengths = pc.list_value_length(array).fill_null(0)
            if input_format == "tfrecord" and pc.max(lengths).as_py() in (0, 1, None):
                sequence = False  # tf.Example stores every value as a list
            nulls = pc.sum(pc.equal(lengths, 0)).as_py() or 0
            flat = pc.list_flatten(array)
        else:
            nulls, flat = array.null_count, array
        if pa.types.is_dictionary(value_type):
            flat, value_type = flat.dictionary_decode(), value_type.value_type
        kind = _kind(value_type)
        distinct = pc.count_distinct(flat).as_py() if kind else 0
        shown = (str(field.type) if input_format == "parquet"
                 else f"tf.Example {_EXAMPLE_KINDS.get(str(value_type), value_type)}")
        columns.append(ColumnSample(field.name, shown, kind, sequence, table.num_rows, nulls,
                                    distinct))
    return columns


_EXAMPLE_KINDS = {"string": "bytes_list", "int64": "int64_list", "double": "float_list"}


def _kind(value_type: pa.DataType) -> str | None:
    if pa.types.is_boolean(value_type):
        return "bool"
    if pa.types.is_integer(value_type):
        return "int"
    if pa.types.is_floating(value_type):
        return "float"
    if (pa.types.is_string(value_type) or pa.types.is_large_string(value_type)
            or pa.types.is_binary(value_type) or pa.types.is_large_binary(value_type)):
        return "string"
    return None


# --- writing -----------------------------------------------------------------

def _config_text(columns: list[ColumnSample], pattern: str, input_format: str,
                 label: str | None, output: str, rows: int) -> tuple[str, int, int]:
    """The YAML, with its number of declared features and generated crosses."""
    lines = []
    schema_path = _schema_path(output)
    if schema_path:
        lines.append(f"# yaml-language-server: $schema={schema_path}")
    lines += [f"# Written by `featurecross init` from {rows:,} sampled rows of {pattern}.",
              "# Every choice below says why; edit freely, then `featurecross validate`.",
              "input:",
              f"  format: {input_format}",
              f"  pattern: {_scalar(pattern)}",
              "schema:"]
    declared, categorical, numeric = [], [], []
    for column in columns:
        entry, why = _column_entry(column)
        if entry is None:
            lines.append(f"  # {_scalar(column.name)}: skipped: {why}")
            continue
        lines.append(_commented(f"  {_scalar(column.name)}: {entry}", why))
        declared.append(column.name)
        if column.name == label or column.kind not in ("string", "int", "float"):
            continue
        if column.kind == "float" or (column.kind == "int" and not column.sequence
                                      and column.distinct > CATEGORICAL_INT_MAX):
            if not column.sequence:
                numeric.append(column)
        else:
            categorical.append(column)
    names = set(declared)
    features = []
    for column in categorical:
        features += _hash_feature(column, names, rows)
    for column in numeric:
        features += _bucketize_feature(column, names)
    crossed = sorted((c for c in categorical if not c.sequence
                      and 2 <= c.distinct <= CROSS_MAX_DISTINCT),
                     key=lambda c: c.distinct)[:MAX_CROSS_COLUMNS]
    crossed = [c for c in categorical if c in crossed]  # in column order
    if features:
        lines.append("features:")
        lines += features
    crosses = len(crossed) * (len(crossed) - 1) // 2
    if len(crossed) >= 2:
        counts = ", ".join(f"{c.name} {c.distinct:,}" for c in crossed)
        lines += [f"# Every pair of the categorical columns with 2 to {CROSS_MAX_DISTINCT:,} "
                  f"distinct values ({counts}):",
                  "# few enough values that their combinations recur, so a model can learn "
                  "each one.",
                  "crosses:",
                  f"  - all_of: [{', '.join(_scalar(c.name) for c in crossed)}]",
                  _commented("    num_bins: auto", "the run picks the smallest round size"),
                  _commented(f"    max_collision_rate: {MAX_COLLISION_RATE}",
                             "that keeps collisions under this share")]
    else:
        crosses = 0
        lines.append(f"# No crosses: fewer than two categorical columns have 2 to "
                     f"{CROSS_MAX_DISTINCT:,} distinct values.")
    if not features and not crosses:
        raise InitError("no column could become a feature: the input has no string, int or "
                        "float column besides the label")
    if label is not None:
        lines.append(_commented(f"keep: [{_scalar(label)}]",
                                "the label: copied to the output, never a feature"))
    lines += ["output:",
              _commented(f"  dir: out/{pathlib.Path(output).stem}", "--output overrides it"),
              _commented("  format: parquet", "read by pyarrow, pandas and PyTorch "
                         "(docs/pytorch.md)")]
    declared_features = sum(line.startswith("  - name:") for line in features)
    return "\n".join(lines) + "\n", declared_features, crosses


def _column_entry(column: ColumnSample) -> tuple[str | None, str]:
    """The column's flow mapping in `schema:` (None to skip it) and why."""
    facts = [column.arrow_type if not column.arrow_type.startswith("dictionary")
             else "dictionary<string>, read as string"]
    if column.kind is None:
        return None, f"Arrow type {column.arrow_type} has no config type"
    if column.kind == "bool" and "bool" not in COLUMN_TYPES:
        return None, ("booleans have no config type in this version; cast to int 0/1 "
                      "to use it")
    if column.kind == "float" and column.sequence:
        facts.append("no transform takes a float sequence; declared for keep:")
    parts = [f"type: {column.kind}"]
    if column.sequence:
        parts.append("shape: sequence")
        facts.append("a list per row")
    elif column.nulls:
        parts.append(f"default: {_DEFAULTS[column.kind]}")
        facts.append(f"{column.null_share:.1%} null in the sample")
    facts.append(f"{column.distinct:,} distinct")
    return "{" + ", ".join(parts) + "}", "; ".join(facts)


_DEFAULTS = {"string": '""', "int": "0", "float": "0.0", "bool": "false"}


def _hash_feature(column: ColumnSample, names: set[str], rows: int) -> list[str]:
    if column.distinct < 2:
        return [f"  # {column.name}: one value in the sample, nothing to learn from: no feature"]
    keys = column.distinct + (1 if column.nulls and not column.sequence else 0)  # the default
    num_bins = max(MIN_HASH_BINS, 1 << (HASH_BINS_PER_VALUE * keys - 1).bit_length())
    name = _unique(f"{column.name}_id", names)
    why = (f"{column.distinct:,} distinct in {rows:,} rows -> {num_bins:,} bins "
           f"({HASH_BINS_PER_VALUE}x, a power of 2): few share a bin")
    if column.kind == "int" and not column.sequence:
        why = f"an int with at most {CATEGORICAL_INT_MAX} values is a category; " + why
    return [f"  # {column.name}: {why}", f"  - name: {_scalar(name)}",
            f"    hash: {_scalar(column.name)}", f"    num_bins: {num_bins}"]


def _bucketize_feature(column: ColumnSample, names: set[str]) -> list[str]:
    if column.distinct < 2:
        return [f"  # {column.name}: one value in the sample, nothing to bucket: no feature"]
    buckets = min(NUM_BUCKETS, column.distinct)
    name = _unique(f"{column.name}_bucket", names)
    why = (f"{column.kind} with {column.distinct:,} distinct values: {buckets} quantile "
           "buckets from the data")
    return [f"  # {column.name}: {why}", f"  - name: {_scalar(name)}",
            f"    bucketize: {_scalar(column.name)}", f"    num_buckets: {buckets}"]


def _unique(name: str, names: set[str]) -> str:
    while name in names:
        name += "_feature"
    names.add(name)
    return name


def _schema_path(output: str) -> str | None:
    """The shipped schema, relative to the config when both are in one tree."""
    shipped = pathlib.Path(__file__).resolve().parents[2] / SHIPPED
    if not shipped.exists():
        return None
    here = pathlib.Path(os.path.abspath(output)).parent
    if shipped.parents[1] not in (here, *here.parents):
        return str(shipped)
    return os.path.relpath(shipped, here)


def _scalar(value: str) -> str:
    """`value` as a YAML scalar, quoted only when it must be."""
    return yaml.safe_dump([value], default_flow_style=True, width=10_000).strip()[1:-1]


def _commented(line: str, why: str) -> str:
    return f"{line:<{_COMMENT_COLUMN}} # {why}"
