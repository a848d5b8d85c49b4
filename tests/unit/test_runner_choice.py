"""The local runner is pinned; an unknown --runner is a usage error (docs/running.md
"Runners")."""

from __future__ import annotations

from pipeline.job.runner_choice import LOCAL_RUNNER, with_runner
from tests.support import FLIGHTS_CONFIG, run_cli


def test_no_runner_means_the_pinned_local_runner():
    assert with_runner(["--direct_num_workers=2"]) == ["--direct_num_workers=2",
                                                       f"--runner={LOCAL_RUNNER}"]
    assert with_runner(["--runner", "DirectRunner"]) == ["--runner", "DirectRunner"]
    assert with_runner(["--runner=dataflow"]) == ["--runner=dataflow"]


def test_an_unknown_runner_is_one_line_listing_the_runners_that_work(tmp_path, capsys):
    code = run_cli("run", "--config", FLIGHTS_CONFIG, "--output", tmp_path / "out",
                   "--runner", "NoSuchRunner")
    error = capsys.readouterr().err
    assert code == 2
    assert error.count("\n") == 1
    assert error.startswith("featurecross: unknown --runner NoSuchRunner; the runners that "
                            "work: the local default")
    assert "DirectRunner" in error and "DataflowRunner" in error
    assert not (tmp_path / "out").exists()
