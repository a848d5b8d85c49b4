"""Loads and validates the YAML feature config (docs/config.md "A config").

Everything is checked here, once, before any data is read: a config that
loads is a config the pipeline can run. Errors name the file, the key path
and what is allowed, so a user can fix the YAML without reading code.
"""

from __future__ import annotations

import dataclasses
import difflib
import itertools
from typing import Any, Mapping, Sequence

import yaml

DEFAULT_HASH_KEY = 0xDECAFCAFFE  # tf.sparse.cross_hashed's default key
MAX_DENSE_WIDTH = 4096
MAX_INT64 = 2**63 - 1  # TF int attrs (hash_key, salt) are int64
MIN_INT64 = -2**63
MAX_UINT64 = 2**64 - 1  # a hash_key may also be spelled as its unsigned 64 bits
INPUT_FORMATS = ("parquet", "tfrecord")
OUTPUT_FORMATS = ("tfrecord", "parquet")
COLUMN_TYPES = ("string", "int", "float")
COLUMN_SHAPES = ("scalar", "sequence")
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


def did_you_mean(name: Any, options: Sequence[str]) -> str | None:
    """"Did you mean 'x'?" for the option closest to a misspelt `name`, if one is close."""
    close = difflib.get_close_matches(str(name), [str(o) for o in options], n=1)
    return f"Did you mean {close[0]!r}?" if close else None


def _hints(*hints: str | None) -> str | None:
    return " ".join(h for h in hints if h) or None


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
    type: str                      # string | int | float
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

    def with_overrides(self, *, input_pattern: str | None = None,
                       output_dir: str | None = None) -> "Config":
        return dataclasses.replace(
            self, input_pattern=input_pattern or self.input_pattern,
            output_dir=output_dir or self.output_dir)

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


def load_config(path: str) -> Config:
    """Reads and validates a config file; raises ConfigError on any problem."""
    try:
        with open(path, encoding="utf-8") as handle:
            raw = yaml.safe_load(handle)
    except OSError as error:
        raise ConfigError(path, "<file>", f"cannot read the file ({error.strerror}).") \
            from error
    except yaml.YAMLError as error:
        raise ConfigError(path, "<file>", f"is not valid YAML ({error}).") from error
    return parse_config(raw, path=path)


def parse_config(raw: Any, *, path: str = "<config>") -> Config:
    return _Parser(path).parse(raw)


class _Parser:
    """Walks the YAML tree once, keeping the key path for error messages."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.later_features: set[str] = set()

    def error(self, key: str, problem: str, received: Any, **kwargs: Any) -> ConfigError:
        return ConfigError(self.path, key, problem, received=received, **kwargs)

    def mapping(self, value: Any, key: str, allowed_keys: Sequence[str],
                required: Sequence[str] = ()) -> dict:
        if not isinstance(value, dict):
            raise self.error(key, "must be a mapping.", value)
        for name in value:
            if name not in allowed_keys:
                raise self.error(_join(key, name), "unknown key.",
                                 value[name], allowed=", ".join(allowed_keys),
                                 hint=did_you_mean(name, allowed_keys))
        for name in required:
            if name not in value:
                raise self.error(_join(key, name), "is required.", NOT_GIVEN)
        return value

    def choice(self, value: Any, key: str, choices: Sequence[str]) -> str:
        if value not in choices:
            raise self.error(key, "is not a known value.", value, allowed=" | ".join(choices),
                             hint=did_you_mean(value, choices))
        return value

    def integer(self, value: Any, key: str, *, minimum: int | None = None,
                maximum: int | None = None) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, "must be an integer.", value)
        if minimum is not None and value < minimum:
            raise self.error(key, f"must be at least {minimum}.", value,
                             allowed=f"integers >= {minimum}")
        if maximum is not None and value > maximum:
            raise self.error(key, f"must be at most {maximum}.", value,
                             allowed=f"integers <= {maximum}")
        return value

    def hash_key(self, value: Any, key: str) -> int:
        """Any 64-bit value, signed or unsigned: what TF's cross kernel can be keyed with."""
        allowed = (f"integers from {MIN_INT64} to {MAX_UINT64}: 0 is TF's default key "
                   f"{DEFAULT_HASH_KEY:#x}, a negative key is its 64-bit two's complement")
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, "must be an integer.", value, allowed=allowed)
        if not MIN_INT64 <= value <= MAX_UINT64:
            raise self.error(key, "must fit in 64 bits.", value, allowed=allowed)
        return value

    def boolean(self, value: Any, key: str) -> bool:
        if not isinstance(value, bool):
            raise self.error(key, "must be true or false.", value)
        return value

    def string(self, value: Any, key: str) -> str:
        if not isinstance(value, str) or not value:
            raise self.error(key, "must be a non-empty string.", value)
        return value

    def parse(self, raw: Any) -> Config:
        top = self.mapping(raw, _ROOT, ("input", "schema", "features", "crosses", "keep",
                                        "output", "drift"), required=("input", "schema"))
        if "features" not in top and "crosses" not in top:
            raise self.error("features", "is required.", NOT_GIVEN,
                             hint="Declare features, or generate crosses with crosses:.")
        source = self.mapping(top["input"], "input", ("format", "pattern"), required=("format",))
        input_format = self.choice(source["format"], "input.format", INPUT_FORMATS)
        pattern = source.get("pattern")
        if pattern is not None:
            pattern = self.string(pattern, "input.pattern")
        schema = self.parse_schema(top["schema"])
        features = (self.parse_features(top["features"], schema)
                    if "features" in top else ())
        if "crosses" in top:
            features += self.parse_crosses(top["crosses"], schema, features)
        keep = self.parse_keep(top.get("keep", []), schema)
        sink = self.mapping(top.get("output", {}), "output", ("dir", "format"))
        output_dir = sink.get("dir")
        if output_dir is not None:
            output_dir = self.string(output_dir, "output.dir")
        output_format = self.choice(sink.get("format", "tfrecord"), "output.format",
                                    OUTPUT_FORMATS)
        drift = self.parse_drift(top["drift"], features) if "drift" in top else DriftThresholds()
        return Config(self.path, input_format, pattern, schema, features, keep,
                      output_dir, output_format, drift)

    def parse_drift(self, raw: Any, features: tuple[Feature, ...]) -> DriftThresholds:
        spec = self.mapping(raw, "drift", (*DRIFT_KEYS, "features"))
        thresholds = {name: self.threshold(spec[name], f"drift.{name}", name)
                      for name in DRIFT_KEYS if name in spec}
        kinds = {f.name: f.kind for f in features}
        per_feature = {}
        for name, values in self.mapping(spec.get("features", {}), "drift.features",
                                         list(kinds)).items():
            key = f"drift.features.{name}"
            allowed = DRIFT_KEYS if kinds[name] in ("cross", "hash") else (
                ("max_psi",) if kinds[name] == "bucketize" else ())
            if not allowed:
                raise self.error(key, f"{kinds[name]} features have no drift figures.", values,
                                 allowed="cross, hash and bucketize features")
            per_feature[name] = {threshold: self.threshold(value, f"{key}.{threshold}",
                                                           threshold)
                                 for threshold, value in
                                 self.mapping(values, key, allowed).items()}
        return DriftThresholds(**thresholds, per_feature=per_feature, gate=True)

    def threshold(self, value: Any, key: str, name: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.error(key, "must be a number.", value)
        if name == "max_unseen_rate" and not 0 <= value <= 1:
            raise self.error(key, "is a share of rows.", value, allowed="0 to 1")
        if name == "max_psi" and value <= 0:
            raise self.error(key, "must be positive.", value, allowed="numbers > 0")
        return float(value)

    def parse_schema(self, raw: Any) -> dict[str, Column]:
        if not isinstance(raw, dict) or not raw:
            raise self.error("schema", "must be a non-empty mapping of column names.", raw)
        columns = {}
        for name, spec in raw.items():
            key = f"schema.{name}"
            spec = self.mapping(spec, key, ("type", "default", "shape"), required=("type",))
            column_type = self.choice(spec["type"], f"{key}.type", COLUMN_TYPES)
            shape = self.choice(spec.get("shape", "scalar"), f"{key}.shape", COLUMN_SHAPES)
            has_default = "default" in spec
            default = spec.get("default")
            if has_default:
                if shape == "sequence":
                    raise self.error(f"{key}.default", "sequence columns take no default.",
                                     default, hint="A missing sequence is read as empty.")
                default = self.default_value(default, column_type, f"{key}.default")
            columns[str(name)] = Column(str(name), column_type, shape, default, has_default)
        return columns

    def default_value(self, value: Any, column_type: str, key: str) -> Any:
        if column_type == "string" and isinstance(value, str):
            return value
        if column_type == "int" and isinstance(value, int) and not isinstance(value, bool):
            return value
        if (column_type == "float" and isinstance(value, (int, float))
                and not isinstance(value, bool)):
            return float(value)
        article = "an" if column_type[0] in "aeiou" else "a"
        raise self.error(key, f"must be {article} {column_type} value, like the column.", value)

    def parse_features(self, raw: Any, schema: Mapping[str, Column]) -> tuple[Feature, ...]:
        if not isinstance(raw, list) or not raw:
            raise self.error("features", "must be a non-empty list.", raw)
        defined: dict[str, Feature] = {}
        names = [spec.get("name") for spec in raw if isinstance(spec, dict)]
        for index, spec in enumerate(raw):
            self.later_features = {n for n in names[index + 1:] if isinstance(n, str)}
            feature = self.parse_feature(spec, f"features[{index}]", schema, defined)
            defined[feature.name] = feature
        return tuple(defined.values())

    def parse_feature(self, spec: Any, key: str, schema: Mapping[str, Column],
                      defined: Mapping[str, Feature]) -> Feature:
        if not isinstance(spec, dict):
            raise self.error(key, "must be a mapping.", spec)
        kinds = [kind for kind in FEATURE_KINDS if kind in spec]
        if len(kinds) != 1:
            raise self.error(key, "needs exactly one transform key.", sorted(map(str, spec)),
                             allowed=" | ".join(FEATURE_KINDS))
        kind = kinds[0]
        allowed_keys = {"name", kind, *_KIND_KEYS[kind]}
        self.mapping(spec, key, [k for k in _ALL_KEYS if k in allowed_keys], required=("name",))
        name = self.string(spec["name"], f"{key}.name")
        if name in defined or name in schema:
            raise self.error(f"{key}.name", "duplicate name: a column or an earlier feature "
                             "already uses it.", name, hint="Pick a unique name.")
        values: dict[str, Any] = {"name": name, "kind": kind}
        inputs = self.parse_inputs(spec[kind], f"{key}.{kind}", kind, schema, defined)
        values["inputs"] = inputs
        sources = [schema.get(i) or defined[i] for i in inputs]
        if kind == "cross" and "vocabulary" in spec:
            values.update(self.parse_vocabulary_cross(spec, key))
        elif kind in ("cross", "hash"):
            if "num_bins" not in spec:
                raise self.error(f"{key}.num_bins", "is required.", NOT_GIVEN,
                                 allowed=f"integers from 2 to {MAX_INT64}"
                                 + (", or auto" if kind == "cross" else ""),
                                 hint=("Or give vocabulary: {top_k: ...} for exact ids."
                                       if kind == "cross" else None))
            if kind == "hash" and spec["num_bins"] == "auto":
                raise self.error(f"{key}.num_bins", "auto applies to crosses only.", "auto",
                                 allowed=f"integers from 2 to {MAX_INT64}")
            if kind == "cross" and spec["num_bins"] == "auto":
                values.update(self.parse_auto_num_bins(spec, key))
            else:
                values["num_bins"] = self.integer(spec["num_bins"], f"{key}.num_bins",
                                                  minimum=2, maximum=MAX_INT64)
                if "max_collision_rate" in spec:
                    raise self.error(f"{key}.max_collision_rate", "applies to num_bins: auto "
                                     "only.", spec["max_collision_rate"],
                                     hint="Set num_bins: auto, or drop max_collision_rate.")
        if kind == "cross" and "vocabulary" not in spec:
            values["hash_key"] = self.hash_key(spec.get("hash_key", DEFAULT_HASH_KEY),
                                               f"{key}.hash_key")
        if kind == "hash" and spec.get("salt") is not None:
            values["salt"] = self.parse_salt(spec["salt"], f"{key}.salt")
        if kind == "bucketize":
            values.update(self.parse_buckets(spec, key))
        if kind == "polynomial":
            values["degree"] = self.integer(spec.get("degree", 2), f"{key}.degree", minimum=1)
            values["interaction_only"] = self.boolean(spec.get("interaction_only", False),
                                                      f"{key}.interaction_only")
            values["include_bias"] = self.boolean(spec.get("include_bias", True),
                                                  f"{key}.include_bias")
        values["is_sequence"] = any(s.is_sequence for s in sources)
        if kind in ("cross", "hash", "bucketize"):
            values.update(self.parse_output(spec, key, values))
        return Feature(**values)

    def parse_inputs(self, raw: Any, key: str, kind: str, schema: Mapping[str, Column],
                     defined: Mapping[str, Feature]) -> tuple[str, ...]:
        single = kind in ("hash", "bucketize")
        if single:
            if not isinstance(raw, str):
                raise self.error(key, "must name one input column or feature.", raw)
            names = [raw]
        else:
            if not isinstance(raw, list) or not all(isinstance(n, str) for n in raw):
                raise self.error(key, "must be a list of input names.", raw)
            names = raw
            minimum = 1 if kind == "polynomial" else 2
            if len(names) < minimum:
                raise self.error(key, f"needs at least {minimum} inputs.", raw,
                                 allowed=f"a list of {minimum} or more names")
        for position, name in enumerate(names):
            item_key = key if single else f"{key}[{position}]"
            if name in self.later_features:
                raise self.error(item_key, "is a feature defined further down; a feature may "
                                 "only use features defined above it.", name,
                                 hint="Move this feature below the one it uses.")
            if name not in schema and name not in defined:
                raise self.error(item_key, "is neither a schema column nor an earlier feature.",
                                 name, allowed=", ".join([*schema, *defined]),
                                 hint=_hints(did_you_mean(name, [*schema, *defined]),
                                             "Features may only use features defined "
                                             "above them."))
            self.check_input_type(kind, item_key, schema.get(name) or defined[name])
        return tuple(names)

    def check_input_type(self, kind: str, key: str, source: Column | Feature) -> None:
        name = source.name
        if kind in ("cross", "hash"):
            if isinstance(source, Column) and source.type == "float":
                raise self.error(key, "a float column cannot be a categorical input.", name,
                                 hint="Bucketize it first and use the bucketized feature.")
            if isinstance(source, Feature) and not (source.is_categorical
                                                    and source.output == "int"):
                raise self.error(key, "only features with output 'int' (bin ids) can be "
                                 "categorical inputs.", name)
        else:
            if isinstance(source, Column) and source.type == "string":
                raise self.error(key, f"{kind} needs a numeric input.", name,
                                 allowed="int or float columns, product features")
            if isinstance(source, Feature) and source.kind != "product":
                raise self.error(key, f"{kind} needs a numeric input.", name,
                                 allowed="int or float columns, product features")
            if source.is_sequence:
                raise self.error(key, f"{kind} needs a scalar input, not a sequence.", name)

    def parse_vocabulary_cross(self, spec: dict, key: str) -> dict[str, Any]:
        """`vocabulary:` replaces hashing: no num_bins, no hash_key."""
        for other in ("num_bins", "max_collision_rate", "hash_key"):
            if other in spec:
                raise self.error(f"{key}.{other}", "applies to hashed crosses only; this "
                                 "cross has a vocabulary.", spec[other],
                                 hint="Drop one of the two: vocabulary gives exact ids, "
                                      "num_bins hashes every combination.")
        vocab_key = f"{key}.vocabulary"
        raw = self.mapping(spec["vocabulary"] if spec["vocabulary"] is not None else {},
                           vocab_key, VOCABULARY_KEYS)
        settings = {}
        for name in ("top_k", "frequency_threshold"):
            if raw.get(name) is not None:
                settings[name] = self.integer(raw[name], f"{vocab_key}.{name}", minimum=1,
                                              maximum=MAX_INT64)
        settings["num_oov_buckets"] = self.integer(
            raw.get("num_oov_buckets", 1), f"{vocab_key}.num_oov_buckets", minimum=1,
            maximum=MAX_INT64)
        return {"vocabulary": Vocabulary(**settings)}

    def parse_crosses(self, raw: Any, schema: Mapping[str, Column],
                      declared: Sequence[Feature]) -> tuple[Feature, ...]:
        """Expands `crosses:` into named cross features, after the declared ones.

        Order is stable: entry by entry, degree by degree, then the
        combinations of `all_of` in its own order (itertools.combinations).
        """
        if not isinstance(raw, list) or not raw:
            raise self.error("crosses", "must be a non-empty list.", raw)
        self.later_features = set()
        defined = {feature.name: feature for feature in declared}
        owners = {name: f"schema.{name}" for name in schema}
        owners.update({f.name: f"features[{i}].name" for i, f in enumerate(declared)})
        generated: list[Feature] = []
        for index, spec in enumerate(raw):
            key = f"crosses[{index}]"
            spec = self.mapping(spec, key, ("all_of", "degree", *_KIND_KEYS["cross"]),
                                required=("all_of",))
            columns = self.parse_all_of(spec["all_of"], f"{key}.all_of", schema, defined)
            degrees = self.parse_degrees(spec.get("degree", 2), f"{key}.degree", len(columns))
            shared = {k: v for k, v in spec.items() if k not in ("all_of", "degree")}
            for degree in degrees:
                for combination in itertools.combinations(columns, degree):
                    name = CROSS_NAME_JOIN.join(combination)
                    if name in owners:
                        raise self.error(f"{key}.all_of", f"generates the feature {name!r}, "
                                         f"but {owners[name]} already uses that name.",
                                         spec["all_of"], hint="Rename the declared feature "
                                         "or column, or leave it out of all_of.")
                    feature = self.parse_feature({"name": name, "cross": list(combination),
                                                  **shared}, key, schema, defined)
                    feature = dataclasses.replace(feature, generated_by=key)
                    owners[name] = f"{key} ({name})"
                    defined[name] = feature
                    generated.append(feature)
        return tuple(generated)

    def parse_all_of(self, raw: Any, key: str, schema: Mapping[str, Column],
                     defined: Mapping[str, Feature]) -> list[str]:
        if (not isinstance(raw, list) or len(raw) < 2
                or not all(isinstance(n, str) for n in raw)):
            raise self.error(key, "must be a list of at least 2 input names.", raw,
                             allowed="schema columns and declared features")
        if len(set(raw)) != len(raw):
            raise self.error(key, "lists a name twice.", raw)
        for position, name in enumerate(raw):
            if name not in schema and name not in defined:
                raise self.error(f"{key}[{position}]", "is neither a schema column nor a "
                                 "declared feature.", name,
                                 allowed=", ".join([*schema, *defined]))
            self.check_input_type("cross", f"{key}[{position}]",
                                  schema.get(name) or defined[name])
        return raw

    def parse_degrees(self, raw: Any, key: str, inputs: int) -> list[int]:
        allowed = f"an integer or a list of integers from 2 to {inputs} (the size of all_of)"
        degrees = raw if isinstance(raw, list) else [raw]
        if (not degrees or any(isinstance(d, bool) or not isinstance(d, int)
                               or not 2 <= d <= inputs for d in degrees)):
            raise self.error(key, "is not a valid cross degree.", raw, allowed=allowed)
        if len(set(degrees)) != len(degrees):
            raise self.error(key, "lists a degree twice.", raw, allowed=allowed)
        return sorted(degrees)
    def parse_auto_num_bins(self, spec: dict, key: str) -> dict[str, Any]:
        rate = spec.get("max_collision_rate")
        if rate is None:
            raise self.error(f"{key}.max_collision_rate", "is required with num_bins: auto.",
                             NOT_GIVEN, allowed="a number between 0 and 1, like 0.01")
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 < rate < 1:
            raise self.error(f"{key}.max_collision_rate", "must be a number between 0 and 1 "
                             "(exclusive).", rate, allowed="0 < max_collision_rate < 1")
        if spec.get("output", "int") != "int":
            raise self.error(f"{key}.output", "num_bins: auto needs output: int (the width "
                             "of one_hot and multi_hot is fixed before the data is seen).",
                             spec["output"], hint="Set num_bins to a number.")
        return {"max_collision_rate": float(rate)}

    def parse_salt(self, raw: Any, key: str) -> tuple[int, int]:
        def valid(v: Any) -> bool:
            return isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= MAX_INT64
        if valid(raw):
            return (raw, raw)  # Keras Hashing repeats a single int salt
        if isinstance(raw, list) and len(raw) == 2 and all(valid(v) for v in raw):
            return (raw[0], raw[1])
        raise self.error(key, "is not a valid salt.", raw,
                         allowed=f"null, an int from 0 to {MAX_INT64}, or a list of two such ints")

    def parse_buckets(self, spec: dict, key: str) -> dict[str, Any]:
        if ("num_buckets" in spec) == ("boundaries" in spec):
            raise self.error(key, "bucketize needs exactly one of num_buckets or boundaries.",
                             sorted(spec))
        if "num_buckets" in spec:
            return {"num_buckets": self.integer(spec["num_buckets"], f"{key}.num_buckets",
                                                minimum=2)}
        raw = spec["boundaries"]
        if (not isinstance(raw, list) or not raw
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in raw)
                or any(not a < b for a, b in zip(raw, raw[1:]))
                or any(v != v for v in raw)):  # NaN
            raise self.error(f"{key}.boundaries", "must be a non-empty, strictly increasing "
                             "list of numbers.", raw)
        return {"boundaries": tuple(float(v) for v in raw)}

    def parse_output(self, spec: dict, key: str, values: dict) -> dict[str, Any]:
        output = self.choice(spec.get("output", "int"), f"{key}.output", OUTPUT_MODES)
        sparse = self.boolean(spec.get("sparse", False), f"{key}.sparse")
        if sparse and output == "int":
            raise self.error(f"{key}.sparse", "applies to one_hot and multi_hot only.", sparse)
        if output == "one_hot" and values["is_sequence"]:
            raise self.error(f"{key}.output", "one_hot needs a scalar feature; a sequence "
                             "input gives several ids per row.", output,
                             hint="Use multi_hot.")
        if output != "int" and values.get("vocabulary") and values["vocabulary"].top_k is None:
            raise self.error(f"{key}.output", f"{output} output of a vocabulary cross needs "
                             "vocabulary.top_k: its width is top_k + num_oov_buckets.",
                             output, hint="Set top_k, or use output: int.")
        width = (values["vocabulary"].max_width if values.get("vocabulary")
                 else values.get("num_bins") or values.get("num_buckets")
                 or len(values.get("boundaries") or ()) + 1)
        if output != "int" and not sparse and width > MAX_DENSE_WIDTH:
            raise self.error(f"{key}.output", f"dense {output} output is wider than "
                             f"{MAX_DENSE_WIDTH} bins ({width}).", output,
                             hint="Set sparse: true, or use fewer bins.")
        return {"output": output, "sparse": sparse}

    def parse_keep(self, raw: Any, schema: Mapping[str, Column]) -> tuple[str, ...]:
        if not isinstance(raw, list):
            raise self.error("keep", "must be a list of schema column names.", raw)
        for position, name in enumerate(raw):
            if not isinstance(name, str) or name not in schema:
                raise self.error(f"keep[{position}]", "is not a schema column.", name,
                                 allowed=", ".join(schema))
        if len(set(raw)) != len(raw):
            raise self.error("keep", "lists a column twice.", raw)
        return tuple(raw)


_KIND_KEYS = {
    "cross": ("num_bins", "max_collision_rate", "hash_key", "vocabulary", "output", "sparse"),
    "hash": ("num_bins", "salt", "output", "sparse"),
    "bucketize": ("num_buckets", "boundaries", "output", "sparse"),
    "product": (),
    "polynomial": ("degree", "interaction_only", "include_bias"),
}
_ALL_KEYS = ("name", *FEATURE_KINDS, "num_bins", "max_collision_rate", "hash_key", "vocabulary",
             "salt", "num_buckets", "boundaries", "degree", "interaction_only", "include_bias",
             "output", "sparse")


_ROOT = "<top level>"


def _join(key: str, name: Any) -> str:
    return str(name) if key == _ROOT else f"{key}.{name}"
