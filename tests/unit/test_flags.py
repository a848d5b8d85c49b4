"""Every flag is featurecross's or Beam's (docs/running.md "Flags"): a misspelt one is a
usage error naming it, with a "did you mean", before anything is created."""

from __future__ import annotations

import pytest

from pipeline.cli import main as cli
from pipeline.cli.flags import beam_option_strings, unknown_flag_message
from tests.support import FLIGHTS_CONFIG, run_cli


def exit_code(*args) -> int:
    """The CLI's exit code, argparse's usage errors (SystemExit) included."""
    try:
        return run_cli(*args)
    except SystemExit as exit:
        return exit.code


def usage_error(capsys) -> str:
    err = capsys.readouterr().err
    return err.strip().splitlines()[-1]


@pytest.mark.parametrize("flag, meant", [
    (["--transfrom-fn", "out/frozen"], "--transform-fn"),
    (["--transfrom-fn=out/frozen"], "--transform-fn"),
    (["--fail-on-drfit"], "--fail-on-drift"),
    (["--temp_locaton", "gs://b/tmp"], "--temp_location"),
])
def test_a_misspelt_flag_is_refused_with_a_suggestion_and_nothing_is_made(
        flag, meant, tmp_path, capsys):
    out = tmp_path / "out"
    code = exit_code("run", "--config", FLIGHTS_CONFIG, "--output", out, *flag)
    assert code == 2
    name = flag[0].split("=")[0]
    assert usage_error(capsys) == (
        f"featurecross run: error: unrecognized argument {name}; did you mean {meant}? "
        "(featurecross accepts its own flags and Beam's pipeline options only)")
    assert list(tmp_path.iterdir()) == []  # no OUT, no staging directory


@pytest.mark.parametrize("command", [["profile"], ["suggest", "--label", "carrier"]])
def test_profile_and_suggest_check_their_flags_too(command, capsys):
    assert exit_code(*command, "--config", FLIGHTS_CONFIG, "--inptu", "x.parquet") == 2
    assert "unrecognized argument --inptu; did you mean --input?" in usage_error(capsys)


def test_a_flag_close_to_nothing_gets_no_suggestion(capsys):
    assert exit_code("run", "--config", FLIGHTS_CONFIG, "--zzqqxx") == 2
    assert usage_error(capsys).endswith(
        "unrecognized argument --zzqqxx (featurecross accepts its own flags and Beam's "
        "pipeline options only)")


@pytest.mark.parametrize("beam_args", [
    ["--runner", "DataflowRunner", "--project", "P", "--region", "R",
     "--temp_location", "gs://bucket/tmp", "--setup_file", "./setup.py"],
    ["--direct_num_workers", "2", "--direct_running_mode", "multi_processing"],
    ["--direct_num_workers=2", "--direct_running_mode=multi_threading", "--runner=DirectRunner"],
    ["--experiments", "use_runner_v2", "--sdk_container_image", "img:1", "--max_num_workers",
     "3", "--environment_type", "LOOPBACK", "--job_endpoint", "localhost:1"],
])
def test_beam_pipeline_options_pass(beam_args):
    assert unknown_flag_message(cli._parser()._subparsers._group_actions[0].choices["run"],
                                beam_args) is None


def test_beam_options_are_listed_from_beam_itself():
    found = beam_option_strings()
    assert {"--runner", "--temp_location", "--direct_num_workers", "--no_pipeline_type_check",
            "--pubsub_root_url", "--sdk_container_image", "--setup_file", "--project",
            "--region", "--streaming"} <= found
    assert "--transfrom-fn" not in found and "--transform-fn" not in found
