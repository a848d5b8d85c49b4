"""The diagnostics' memory budget as a config key, `output.diagnostics_memory_mb`
(docs/config.md "Every key", docs/outputs.md "The memory budget"): checked like
every key, in the JSON Schema, and applied with the precedence flag > config >
default by `run` and `profile`, on the command line and in the Python API,
without running a pipeline. The runs that use it are tests/jobs/test_budget_runs.py's
and tests/jobs/test_profile_job.py's.
"""

from __future__ import annotations

import copy

import jsonschema
import pytest
import yaml

from pipeline import api
from pipeline.config import ConfigError, parse_config
from pipeline.config.schema import json_schema
from pipeline.diagnostics.budget import DEFAULT_MEMORY_MB
from tests.support import FLIGHTS_CONFIG, run_cli

FLIGHTS = yaml.safe_load(FLIGHTS_CONFIG.read_text(encoding="utf-8"))


def with_budget(value) -> dict:
    config = copy.deepcopy(FLIGHTS)
    config["output"]["diagnostics_memory_mb"] = value
    return config


def write_config(tmp_path, value) -> str:
    path = tmp_path / "budget.yaml"
    path.write_text(yaml.safe_dump(with_budget(value), sort_keys=False))
    return str(path)


def test_the_key_is_read_and_defaults_to_the_flags_default():
    assert DEFAULT_MEMORY_MB == 512
    assert parse_config(FLIGHTS).diagnostics_memory_mb == DEFAULT_MEMORY_MB
    assert parse_config(with_budget(64)).diagnostics_memory_mb == 64


@pytest.mark.parametrize("value", [0, -5, 1.5, "512MB", True, None])
def test_a_bad_value_is_refused_naming_the_key(value):
    with pytest.raises(ConfigError) as error:
        parse_config(with_budget(value), path="c.yaml")
    assert str(error.value) == (
        "c.yaml: output.diagnostics_memory_mb: must be a whole number of megabytes, 1 or "
        f"more. Allowed: integers >= 1 (default 512). Received: diagnostics_memory_mb={value!r}")
    assert "\n" not in str(error.value)


def test_the_schema_accepts_a_positive_int_and_refuses_the_rest():
    validator = jsonschema.Draft202012Validator(json_schema())
    assert list(validator.iter_errors(with_budget(1))) == []
    assert list(validator.iter_errors(with_budget(4096))) == []
    for bad in (0, -1, 1.5, "512", True, None):
        assert list(validator.iter_errors(with_budget(bad))), bad


def test_the_api_takes_an_argument_over_the_config_over_the_default():
    assert api.load(FLIGHTS).diagnostics_memory_mb == DEFAULT_MEMORY_MB
    assert api.load(with_budget(64)).diagnostics_memory_mb == 64
    assert api.load(with_budget(64), diagnostics_memory_mb=8).diagnostics_memory_mb == 8
    assert api.load(FLIGHTS, diagnostics_memory_mb=8).diagnostics_memory_mb == 8


@pytest.mark.parametrize("value", [0, -1, 1.5, "8", True])
def test_the_api_refuses_a_bad_argument(value):
    with pytest.raises(ValueError, match="diagnostics_memory_mb must be a whole number of "
                                         f"megabytes, 1 or more, got {value!r}"):
        api.load(FLIGHTS, diagnostics_memory_mb=value)


class Stop(Exception):
    """Raised by a stand-in for the job, carrying the config it was given."""


@pytest.fixture
def job_config(monkeypatch):
    """What `run` hands the job, and `profile` its pipeline: the job never starts."""
    import pipeline.explore.profile
    import pipeline.job.run

    def stop(config, *_args, **_kwargs):
        raise Stop(config)

    monkeypatch.setattr(pipeline.job.run, "run_job", stop)
    monkeypatch.setattr(pipeline.explore.profile, "profile_data", stop)

    def given(*args) -> int:
        with pytest.raises(Stop) as stopped:
            run_cli(*args)
        return stopped.value.args[0].diagnostics_memory_mb
    return given


@pytest.mark.parametrize("command", ["run", "profile"])
def test_the_flag_beats_the_config_which_beats_the_default(command, job_config, tmp_path):
    out = ("--output", tmp_path / "out") if command == "run" else ()
    configured = write_config(tmp_path, 64)
    assert job_config(command, "--config", FLIGHTS_CONFIG, *out) == DEFAULT_MEMORY_MB
    assert job_config(command, "--config", configured, *out) == 64
    assert job_config(command, "--config", configured, *out,
                      "--diagnostics-memory-mb", "8") == 8
    assert job_config(command, "--config", FLIGHTS_CONFIG, *out,
                      "--diagnostics-memory-mb", "8") == 8


@pytest.mark.parametrize("function", [api.run, api.profile])
def test_the_api_calls_take_an_argument_over_the_config(function, job_config):
    for given, config, expected in ((None, FLIGHTS, DEFAULT_MEMORY_MB),
                                    (None, with_budget(64), 64), (8, with_budget(64), 8)):
        with pytest.raises(Stop) as stopped:
            function(config, diagnostics_memory_mb=given,
                     **({"output": "out/unused", "progress": False}
                        if function is api.run else {}))
        assert stopped.value.args[0].diagnostics_memory_mb == expected


@pytest.mark.parametrize("command", ["run", "profile"])
def test_the_flag_refuses_a_bad_value(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        run_cli(command, "--config", FLIGHTS_CONFIG, "--diagnostics-memory-mb", "0")
    assert exit_info.value.code == 2
    assert "--diagnostics-memory-mb: must be 1 or more, got 0" in capsys.readouterr().err


def test_a_bad_key_is_a_usage_error_before_any_job(tmp_path, job_config, capsys):
    assert run_cli("run", "--config", write_config(tmp_path, 0), "--output",
                   tmp_path / "out") == 2
    assert "output.diagnostics_memory_mb: must be a whole number of megabytes" in (
        capsys.readouterr().err)

