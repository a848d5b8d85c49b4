"""Parses `features:` and `crosses:` and assembles the Config (docs/config.md "A config").

The entry point (`load_config`, `parse_config`). Everything is checked here,
once, before any data is read: a config that loads is a config the pipeline
can run. Errors name the file, the key path and what is allowed, so a user
can fix the YAML without reading code.
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any, Callable, Mapping, Sequence

import yaml

from pipeline.config.model import (
    CROSS_NAME_JOIN,
    DEFAULT_DIAGNOSTICS_MEMORY_MB,
    DEFAULT_HASH_KEY,
    DEFAULT_MAX_INVALID_SHARE,
    FEATURE_KINDS,
    INPUT_FORMATS,
    INPUT_KEYS,
    MAX_DENSE_WIDTH,
    MAX_INT64,
    NOT_GIVEN,
    OUTPUT_FORMATS,
    OUTPUT_KEYS,
    OUTPUT_MODES,
    TOP_KEYS,
    VOCABULARY_KEYS,
    Column,
    Config,
    ConfigError,
    DriftThresholds,
    Feature,
    Vocabulary,
)
from pipeline.config.readers import ROOT, SectionReader, did_you_mean, join_hints


def load_config(path: str, *, read_text: Callable[[str], str] | None = None) -> Config:
    """Reads and validates a config file; raises ConfigError on any problem.

    `read_text` reads a file the config layer cannot reach itself (a gs://
    config goes through the same file system layer as the data).
    """
    try:
        if read_text is not None:
            raw = yaml.safe_load(read_text(path))
        else:
            with open(path, encoding="utf-8") as handle:
                raw = yaml.safe_load(handle)
    except OSError as error:
        reason = error.strerror or str(error).splitlines()[0]
        raise ConfigError(path, "<file>", f"cannot read the file ({reason}).") from error
    except yaml.YAMLError as error:
        raise ConfigError(path, "<file>", f"is not valid YAML ({error}).") from error
    return parse_config(raw, path=path)


def parse_config(raw: Any, *, path: str = "<config>") -> Config:
    return ConfigParser(path).parse(raw)


class ConfigParser(SectionReader):
    """Walks the YAML tree once, keeping the key path for error messages."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.later_features: set[str] = set()

    def parse(self, raw: Any) -> Config:
        top = self.mapping(raw, ROOT, TOP_KEYS, required=("input", "schema"))
        if "features" not in top and "crosses" not in top:
            raise self.error("features", "is required.", NOT_GIVEN,
                             hint="Declare features, or generate crosses with crosses:.")
        source = self.mapping(top["input"], "input", INPUT_KEYS, required=("format",))
        input_format = self.choice(source["format"], "input.format", INPUT_FORMATS)
        pattern = source.get("pattern")
        if pattern is not None:
            pattern = self.string(pattern, "input.pattern")
        schema = self.parse_schema(top["schema"])
        features = (self.parse_features(top["features"], schema,
                                        empty_allowed="crosses" in top)
                    if "features" in top else ())
        if "crosses" in top:
            features += self.parse_crosses(top["crosses"], schema, features)
        keep = self.parse_keep(top.get("keep", []), schema)
        sink = self.mapping(top.get("output", {}), "output", OUTPUT_KEYS)
        output_dir = sink.get("dir")
        if output_dir is not None:
            output_dir = self.string(output_dir, "output.dir")
        output_format = self.choice(sink.get("format", "tfrecord"), "output.format",
                                    OUTPUT_FORMATS)
        drift = self.parse_drift(top["drift"], features) if "drift" in top else DriftThresholds()
        share = self.share(sink.get("max_invalid_share", DEFAULT_MAX_INVALID_SHARE),
                           "output.max_invalid_share")
        memory_mb = self.memory_mb(sink.get("diagnostics_memory_mb",
                                            DEFAULT_DIAGNOSTICS_MEMORY_MB),
                                   "output.diagnostics_memory_mb")
        return Config(self.path, input_format, pattern, schema, features, keep,
                      output_dir, output_format, drift, share, memory_mb)

    def parse_features(self, raw: Any, schema: Mapping[str, Column], *,
                       empty_allowed: bool = False) -> tuple[Feature, ...]:
        """`features: []` is fine beside `crosses:`, which then declares every feature."""
        if not isinstance(raw, list) or not (raw or empty_allowed):
            raise self.error("features", "must be a non-empty list.", raw,
                             hint="Or leave it empty beside a crosses: block.")
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
                                 hint=join_hints(did_you_mean(name, [*schema, *defined]),
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
            spec = self.mapping(spec, key, CROSSES_KEYS, required=("all_of",))
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


# What each kind of feature may set besides `name` and its kind key; the JSON
# Schema (`schema.py`) is generated from these too.
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
CROSSES_KEYS = ("all_of", "degree", *_KIND_KEYS["cross"])
KIND_KEYS = _KIND_KEYS
