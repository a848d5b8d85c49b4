"""The config's data model: what a loaded config is (docs/config.md "A config").

Frozen dataclasses, the constants they and the parser share, and the errors;
no parsing here, so every layer of the pipeline can depend on this alone.
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any, Mapping

DEFAULT_HASH_KEY = 0xDECAFCAFFE  # tf.sparse.cross_hashed's default key
MAX_DENSE_WIDTH = 4096
MAX_INT64 = 2**63 - 1  # TF int attrs (hash_key, salt) are int64
MIN_INT64 = -2**63
MAX_UINT64 = 2**64 - 1  # a hash_key may also be spelled as its unsigned 64 bits
INPUT_FORMATS = ("parquet", "tfrecord")
OUTPUT_FORMATS = ("tfrecord", "parquet")
COLUMN_TYPES = ("string", "int", "float", "bool")  # bool is read as int64 0/1
CATEGORICAL_TYPES = ("string", "int", "bool")  # what a cross, hash or label can read
DEFAULT_MAX_INVALID_SHARE = 0.1  # docs/running.md "Invalid rows"
# The diagnostics' memory per worker (docs/outputs.md "The memory budget"); it
# lives here, not in pipeline/diagnostics/budget.py, because the config's
# `output.diagnostics_memory_mb` defaults to it and the config layer is lowest.
DEFAULT_DIAGNOSTICS_MEMORY_MB = 512
COLUMN_SHAPES = ("scalar", "sequence")
COLUMN_KEYS = ("type", "default", "shape")
TOP_KEYS = ("input", "schema", "features", "crosses", "keep", "output", "drift")
INPUT_KEYS = ("format", "pattern")
OUTPUT_KEYS = ("dir", "format", "max_invalid_share", "diagnostics_memory_mb")
OUTPUT_MODES = ("int", "one_hot", "multi_hot")
FEATURE_KINDS = ("cross", "hash", "bucketize", "product", "polynomial")
DRIFT_KEYS = ("max_unseen_rate", "max_psi")
DEFAULT_DRIFT = {"max_unseen_rate": 0.05, "max_psi": 0.2}
VOCABULARY_KEYS = ("top_k", "frequency_threshold", "num_oov_buckets")
CROSS_NAME_JOIN = "_x_"  # generated names: carrier_x_origin, like TF's own cross strings


class _NotGiven:
    """What a ConfigError received when there is no value to show (a missing key)."""

    def __repr__(self) -> str:
        return "NOT_GIVEN"


NOT_GIVEN: Any = _NotGiven()


class UnknownKindError(ValueError):
    """Code met a feature kind it does not handle: a kind was added to FEATURE_KINDS
    without teaching every kind dispatch about it."""

    def __init__(self, feature: "Feature", where: str) -> None:
        super().__init__(f"{where}: feature {feature.name!r} has kind {feature.kind!r}, "
                         f"which it does not handle (known: {', '.join(FEATURE_KINDS)})")


class ConfigError(ValueError):
    """A config that cannot run; the message says where and how to fix it."""

    def __init__(self, path: str, key: str, problem: str, *,
                 allowed: str | None = None, received: Any = NOT_GIVEN,
                 hint: str | None = None) -> None:
        message = f"{path}: {key}: {problem}"
        if allowed:
            message += f" Allowed: {allowed}."
        if hint:
            message += f" {hint}"
        if received is not NOT_GIVEN:  # a missing key or an unreadable file has no value
            message += f" Received: {key.split('.')[-1]}={received!r}"
        super().__init__(message)
        self.key = key


@dataclasses.dataclass(frozen=True)
class Column:
    """A raw input column."""
    name: str
    type: str                      # string | int | float | bool (read as int64 0/1)
    shape: str = "scalar"          # scalar | sequence
    default: Any = None            # value for a null/missing scalar cell
    has_default: bool = False

    @property
    def is_sequence(self) -> bool:
        return self.shape == "sequence"


@dataclasses.dataclass(frozen=True)
class Vocabulary:
    """A cross's exact-id vocabulary: `tft.compute_and_apply_vocabulary`'s settings."""
    top_k: int | None = None               # keep the k most frequent combinations
    frequency_threshold: int | None = None  # keep those seen at least this often
    num_oov_buckets: int = 1               # FarmHash buckets for everything else

    @property
    def max_width(self) -> int | None:
        """Upper bound of the ids (kept + OOV), known before analysis only with top_k."""
        return None if self.top_k is None else self.top_k + self.num_oov_buckets


@dataclasses.dataclass(frozen=True)
class Feature:
    """An output feature; exactly one kind, with that kind's settings."""
    name: str
    kind: str                      # one of FEATURE_KINDS
    inputs: tuple[str, ...]
    num_bins: int | None = None    # cross and hash; None for `num_bins: auto`
    max_collision_rate: float | None = None  # set exactly when num_bins is auto
    hash_key: int = DEFAULT_HASH_KEY
    salt: tuple[int, int] | None = None
    num_buckets: int | None = None
    boundaries: tuple[float, ...] | None = None
    degree: int = 2
    interaction_only: bool = False
    include_bias: bool = True
    output: str = "int"
    sparse: bool = False
    is_sequence: bool = False      # derived: does the output vary in length per row
    vocabulary: Vocabulary | None = None  # cross only: exact ids instead of hashing
    generated_by: str | None = None  # "crosses[0]" for a feature the shorthand expanded

    @property
    def auto_num_bins(self) -> bool:
        """`num_bins: auto`: the analysis pass picks it (docs/config.md "num_bins: auto")."""
        return self.max_collision_rate is not None

    @property
    def is_categorical(self) -> bool:
        return self.kind in ("cross", "hash", "bucketize")

    @property
    def applied_hash_key(self) -> int:
        """The int64 key TF's cross kernel gets for this config's `hash_key`.

        As in TF's Python API, 0 means the default key; a key from 2**63 up is
        the unsigned spelling of 64 bits TF takes as the negative int64 with
        the same bits (docs/config.md "Crosses and input order").
        """
        key = self.hash_key or DEFAULT_HASH_KEY
        return key - 2**64 if key > MAX_INT64 else key

    @property
    def width(self) -> int | None:
        """Number of distinct ids a categorical feature can take."""
        if self.kind == "bucketize":
            return (self.num_buckets if self.boundaries is None
                    else len(self.boundaries) + 1)
        if self.vocabulary is not None:
            return self.vocabulary.max_width
        return self.num_bins

    def polynomial_terms(self) -> list[tuple[str, ...]]:
        """Input-name tuples of each term, in scikit-learn's order."""
        combine = (itertools.combinations if self.interaction_only
                   else itertools.combinations_with_replacement)
        start = 0 if self.include_bias else 1
        return [term for degree in range(start, self.degree + 1)
                for term in combine(self.inputs, degree)]

    def polynomial_term_names(self) -> list[str]:
        names = []
        for term in self.polynomial_terms():
            if not term:
                names.append("1")
                continue
            counts = {name: term.count(name) for name in dict.fromkeys(term)}
            names.append("*".join(name if n == 1 else f"{name}^{n}"
                                  for name, n in counts.items()))
        return names


@dataclasses.dataclass(frozen=True)
class DriftThresholds:
    """The `drift:` block: thresholds a transform-only run's data is held to.

    `gate` is True when the config has the block: crossing a threshold then
    fails the run (docs/running.md "Drift against the frozen analysis").
    """
    max_unseen_rate: float = DEFAULT_DRIFT["max_unseen_rate"]
    max_psi: float = DEFAULT_DRIFT["max_psi"]
    per_feature: Mapping[str, Mapping[str, float]] = dataclasses.field(default_factory=dict)
    gate: bool = False

    def for_feature(self, name: str) -> dict[str, float]:
        return {"max_unseen_rate": self.max_unseen_rate, "max_psi": self.max_psi,
                **self.per_feature.get(name, {})}


@dataclasses.dataclass(frozen=True)
class Config:
    path: str
    input_format: str
    input_pattern: str | None
    schema: Mapping[str, Column]
    features: tuple[Feature, ...]
    keep: tuple[str, ...]
    output_dir: str | None
    output_format: str
    drift: DriftThresholds = DriftThresholds()
    max_invalid_share: float = DEFAULT_MAX_INVALID_SHARE  # with --on-invalid quarantine
    diagnostics_memory_mb: int = DEFAULT_DIAGNOSTICS_MEMORY_MB  # run and profile

    def with_overrides(self, *, input_pattern: str | None = None,
                       output_dir: str | None = None,
                       max_invalid_share: float | None = None,
                       diagnostics_memory_mb: int | None = None) -> "Config":
        """The config with a command line's (or API call's) values in place of its own;
        None keeps the config's."""
        return dataclasses.replace(
            self, input_pattern=input_pattern or self.input_pattern,
            output_dir=output_dir or self.output_dir,
            max_invalid_share=(self.max_invalid_share if max_invalid_share is None
                               else max_invalid_share),
            diagnostics_memory_mb=(self.diagnostics_memory_mb if diagnostics_memory_mb is None
                                   else diagnostics_memory_mb))

    @property
    def feature_inputs(self) -> set[str]:
        """The schema columns some feature reads (serving requests need these only)."""
        return {name for feature in self.features for name in feature.inputs
                if name in self.schema}

    @property
    def needs_analysis(self) -> bool:
        """True when some feature needs a full pass over the data."""
        return bool(self.analyzers)

    @property
    def analyzers(self) -> list[str]:
        """What the analysis pass computes: quantiles, vocabularies, auto num_bins."""
        found = []
        if any(f.kind == "bucketize" and f.boundaries is None for f in self.features):
            found.append("quantiles")
        if any(f.vocabulary is not None for f in self.features):
            found.append("vocabularies")
        if any(f.auto_num_bins for f in self.features):
            found.append("num_bins: auto")
        return found
