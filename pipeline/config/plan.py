"""The plan `featurecross validate` prints: what the job will do, from the config alone."""

from __future__ import annotations

from pipeline.config import Config, Feature, UnknownKindError


def plan_text(config: Config) -> str:
    """The config's inputs, outputs, analysis pass and one line per feature."""
    lines = [f"{config.path}: valid",
             f"  input:  {config.input_format} {config.input_pattern or '(pass --input)'}",
             f"  output: {config.output_format} {config.output_dir or '(pass --output)'}"]
    analyzers = ", ".join(config.analyzers)
    lines.append(f"  analysis pass: {f'yes ({analyzers})' if analyzers else 'no'}")
    groups: dict[str, list[str]] = {}
    for feature in config.features:
        if feature.generated_by:
            groups.setdefault(feature.generated_by, []).append(feature.name)
    for key, names in groups.items():
        lines.append(f"  {key} expands to {len(names)} crosses: {', '.join(names)}")
    for feature in config.features:
        lines.append(f"  {feature.name}: {describe(feature)}")
    if config.keep:
        lines.append(f"  kept raw columns: {', '.join(config.keep)}")
    return "\n".join(lines)


def describe(feature: Feature) -> str:
    """One feature's line of the plan."""
    inputs = " x ".join(feature.inputs)
    if feature.kind == "cross" and feature.vocabulary is not None:
        vocabulary = feature.vocabulary
        text = (f"cross {inputs} -> vocabulary (top_k {vocabulary.top_k or 'all'}, "
                f"frequency_threshold {vocabulary.frequency_threshold or 1}) "
                f"+ {vocabulary.num_oov_buckets} OOV buckets")
    elif feature.kind == "cross" and feature.auto_num_bins:
        text = (f"cross {inputs} -> auto bins (smallest round size with at most "
                f"{feature.max_collision_rate:g} collisions; {_hash_key_text(feature)})")
    elif feature.kind == "cross":
        text = f"cross {inputs} -> {feature.num_bins} bins ({_hash_key_text(feature)})"
    elif feature.kind == "hash":
        text = f"hash {inputs} -> {feature.num_bins} bins" + (
            f" (salt {list(feature.salt)})" if feature.salt else "")
    elif feature.kind == "bucketize":
        text = (f"bucketize {inputs} -> {feature.width} buckets "
                + ("(quantiles)" if feature.boundaries is None
                   else f"(boundaries {list(feature.boundaries)})"))
    elif feature.kind == "product":
        text = f"product {inputs} (float32)"
    elif feature.kind == "polynomial":
        text = f"polynomial terms {', '.join(feature.polynomial_term_names())} (float32)"
    else:
        raise UnknownKindError(feature, "validate")
    if feature.is_categorical and feature.output != "int":
        text += f", {'sparse ' if feature.sparse else ''}{feature.output}"
    return text + (", per sequence element" if feature.is_sequence else "")


def _hash_key_text(feature: Feature) -> str:
    """The key TF's kernel gets, as the int64 to pass TF and its 64 bits."""
    applied = feature.applied_hash_key
    text = f"hash_key {applied:#x}" if applied >= 0 else \
        f"hash_key {applied} = {applied & (2**64 - 1):#x}"
    if feature.hash_key != applied:
        text += f", given as {feature.hash_key}"
    return text
