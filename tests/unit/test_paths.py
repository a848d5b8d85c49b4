"""Local paths and gs:// only (docs/running.md "Paths"): another scheme is a one-line usage
error naming where it came from, and a directory as the input says which pattern to write,
with or without its trailing slash."""

from __future__ import annotations

import pytest
import yaml

from tests.support import FLIGHTS_CONFIG, SAMPLE_PARQUET, run_cli


def error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


@pytest.mark.parametrize("flag, where", [
    (["--input", "s3://bucket/in/*.parquet"], "--input s3://bucket/in/*.parquet"),
    (["--output", "s3://bucket/out"], "--output s3://bucket/out"),
    (["--transform-fn", "http://host/frozen"], "--transform-fn http://host/frozen"),
])
def test_an_unsupported_scheme_on_the_command_line_is_a_usage_error(flag, where, tmp_path,
                                                                   capsys):
    code = run_cli("run", "--config", FLIGHTS_CONFIG, "--output", tmp_path / "out", *flag)
    assert code == 2
    scheme = where.split(" ")[1].split("://")[0]
    assert error_line(capsys) == (
        f"featurecross: {where}: the scheme '{scheme}://' is not supported; use a local "
        "path or gs:// (docs/running.md \"Paths\")")
    assert list(tmp_path.iterdir()) == []


def test_an_unsupported_scheme_for_the_config_is_a_usage_error(capsys):
    assert run_cli("validate", "--config", "s3://bucket/flights.yaml") == 2
    assert error_line(capsys) == (
        "featurecross: --config s3://bucket/flights.yaml: the scheme 's3://' is not "
        "supported; use a local path or gs:// (docs/running.md \"Paths\")")


def test_an_unsupported_scheme_in_the_config_names_the_key(tmp_path, capsys):
    raw = yaml.safe_load(FLIGHTS_CONFIG.read_text())
    raw["output"]["dir"] = "s3://bucket/out"
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(raw))
    assert run_cli("run", "--config", config) == 2
    assert error_line(capsys) == (
        f"featurecross: {config}: output.dir s3://bucket/out: the scheme 's3://' is not "
        "supported; use a local path or gs:// (docs/running.md \"Paths\")")


@pytest.mark.parametrize("slash", ["", "/"])
@pytest.mark.parametrize("command", [["run"], ["profile"]])
def test_a_directory_as_input_says_which_pattern_to_write(command, slash, tmp_path, capsys):
    directory = tmp_path / "in"
    directory.mkdir()
    (directory / "a.parquet").write_bytes(SAMPLE_PARQUET.read_bytes())
    (directory / "notes.txt").write_text("not data")
    out = tmp_path / "out"
    code = run_cli(*command, "--config", FLIGHTS_CONFIG, "--input", f"{directory}{slash}",
                   *(["--output", out] if command == ["run"] else []))
    assert code == 2
    assert error_line(capsys) == (
        f"featurecross: the input {directory}{slash} is a directory; pass a pattern for its "
        f"files, like '{directory}/*.parquet'")
    assert not out.exists()
