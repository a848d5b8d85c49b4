"""A config from wherever a program has it: a path (local or gs://), a dict (as YAML
would load), or a `Config` already loaded."""

from __future__ import annotations

import os
from typing import Any, Mapping

from pipeline.config import Config, load_config, parse_config
from pipeline.config.paths import check_scheme, is_remote

ConfigSource = Config | str | os.PathLike | Mapping[str, Any]


def load(source: ConfigSource, *, input: str | None = None, output: str | None = None,
         transform_fn: str | None = None, max_invalid_share: float | None = None,
         diagnostics_memory_mb: int | None = None) -> Config:
    """The validated config, with `input`/`output` overriding input.pattern/output.dir,
    and `max_invalid_share`/`diagnostics_memory_mb` the `output:` keys of those names
    (None keeps the config's value, or its default).

    Every path is checked against the supported schemes (local, gs://;
    docs/running.md "Paths"). Raises `pipeline.config.ConfigError` or
    `pipeline.config.paths.PathError` (one-line messages naming the key or flag)
    on any problem, exactly as `featurecross validate` would, and ValueError for
    a `diagnostics_memory_mb` below 1.
    """
    for value, flag in ((input, "--input"), (output, "--output"),
                        (transform_fn, "--transform-fn")):
        check_scheme(value, flag)
    if diagnostics_memory_mb is not None and (
            isinstance(diagnostics_memory_mb, bool) or not isinstance(diagnostics_memory_mb, int)
            or diagnostics_memory_mb < 1):
        raise ValueError("diagnostics_memory_mb must be a whole number of megabytes, 1 or "
                         f"more, got {diagnostics_memory_mb!r}")
    if isinstance(source, Config):
        config = source
    elif isinstance(source, Mapping):
        config = parse_config(dict(source), path="<dict>")
    else:
        path = os.fspath(source)
        check_scheme(path, "--config")
        read_text = None
        if is_remote(path):
            from pipeline.io.paths import read_text
        config = load_config(path, read_text=read_text)
    config = config.with_overrides(input_pattern=input, output_dir=output,
                                   max_invalid_share=max_invalid_share,
                                   diagnostics_memory_mb=diagnostics_memory_mb)
    check_scheme(config.input_pattern, f"{config.path}: input.pattern")
    check_scheme(config.output_dir, f"{config.path}: output.dir")
    return config
