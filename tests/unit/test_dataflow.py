"""Dataflow, offline: the package ships whole, and a DataflowRunner command line's
checks fail before anything is built.

The pipeline's translation to a Dataflow job is tests/jobs/test_dataflow_job.py's.
"""

from __future__ import annotations

import subprocess
import sys
import tarfile

import pytest

from tests.support import FLIGHTS_CONFIG, REPO, run_cli


def test_setup_py_packages_every_module_for_workers(tmp_path):
    """What `--setup_file ./setup.py` ships: an sdist with the whole package."""
    subprocess.run([sys.executable, "setup.py", "-q", "sdist", "--dist-dir", str(tmp_path)],
                   cwd=REPO, check=True, capture_output=True)
    (archive,) = tmp_path.glob("featurecross-*.tar.gz")
    with tarfile.open(archive) as sdist:
        names = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    modules = {str(p.relative_to(REPO)) for p in (REPO / "pipeline").rglob("*.py")}
    assert modules <= names


GS_IO = ["--input", "gs://bucket/in/*.parquet", "--output", "gs://bucket/out"]
GOOD_CLOUD = ["--runner", "DataflowRunner", "--project", "p", "--region", "us-central1",
              "--temp_location", "gs://bucket/tmp"]


def without(args: list[str], flag: str) -> list[str]:
    at = args.index(flag)
    return args[:at] + args[at + 2:]


def replaced(args: list[str], flag: str, value: str) -> list[str]:
    at = args.index(flag)
    return args[:at + 1] + [value] + args[at + 2:]


@pytest.mark.parametrize("args, expected", [
    (GS_IO + without(GOOD_CLOUD, "--temp_location"), ["--temp_location is missing"]),
    (GS_IO + replaced(GOOD_CLOUD, "--temp_location", "/tmp/t"),
     ["--temp_location /tmp/t is not a gs:// path"]),
    (GS_IO + GOOD_CLOUD + ["--staging_location", "/tmp/s"],
     ["--staging_location /tmp/s is not a gs:// path"]),
    (GS_IO + without(GOOD_CLOUD, "--project"), ["--project is missing"]),
    (GS_IO + without(GOOD_CLOUD, "--region"), ["--region is missing"]),
    (replaced(GS_IO, "--input", "data/in.parquet") + GOOD_CLOUD,
     ["--input (or input.pattern) data/in.parquet is local"]),
    (replaced(GS_IO, "--output", "/tmp/o") + GOOD_CLOUD,
     ["--output (or output.dir) /tmp/o is local"]),
    (GS_IO + GOOD_CLOUD + ["--transform-fn", "out/frozen"], ["--transform-fn out/frozen is local"]),
    # A new user's first try: every problem named at once.
    (["--output", "/tmp/o", "--runner", "DataflowRunner", "--project", "p",
      "--region", "us-central1"],
     ["--temp_location is missing", "--input (or input.pattern) data/sample/flights.parquet "
      "is local", "--output (or output.dir) /tmp/o is local"]),
    (GS_IO + ["--runner=dataflow", "--project=p", "--region=r"], ["--temp_location is missing"]),
], ids=["no-temp", "local-temp", "local-staging", "no-project", "no-region", "local-input",
        "local-output", "local-transform-fn", "first-try", "short-runner-name"])
def test_dataflow_misconfigurations_fail_before_anything_is_built(args, expected, tmp_path,
                                                                  monkeypatch, capsys):
    import pipeline.job.run
    monkeypatch.chdir(REPO)  # the config's relative input pattern, as a user would run it

    def must_not_run(*_args, **_kwargs):
        raise AssertionError("the job was started")

    monkeypatch.setattr(pipeline.job.run, "run_job", must_not_run)
    assert run_cli("run", "--config", "configs/flights.yaml", *args) == 2
    error = capsys.readouterr().err
    lines = error.splitlines()
    assert lines[0] == "featurecross: DataflowRunner options:"
    assert len(lines) == 1 + len(expected)  # nothing else was reported
    for line, text in zip(lines[1:], expected):
        assert line.startswith(f"  {text}")


def test_the_dataflow_check_needs_neither_tensorflow_nor_the_network(tmp_path):
    """The error comes before TF is even imported, so it is immediate."""
    script = ("import sys\nfrom pipeline.cli.main import main\n"
              "code = main(sys.argv[1:])\n"
              "assert 'tensorflow' not in sys.modules, 'TF was imported'\n"
              "sys.exit(code)\n")
    done = subprocess.run([sys.executable, "-c", script, "run", "--config",
                           str(FLIGHTS_CONFIG), "--output", "/tmp/o", "--runner",
                           "DataflowRunner", "--project", "p", "--region", "r"],
                          cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 2, done.stderr
    assert "--temp_location is missing" in done.stderr
