"""gs:// paths on the local emulator (docs/running.md "Paths"): a gs:// config is read
through the same file system layer as the data, and a gs:// directory as the input is
refused like a local one."""

from __future__ import annotations

import pytest
import tensorflow as tf

from tests.support import FLIGHTS_CONFIG, SAMPLE_PARQUET, run_cli

pytestmark = pytest.mark.external("gs:// emulator")


def test_a_gcs_config_is_read_through_the_file_system_layer(gcs, capsys):
    remote = f"{gcs.bucket}/configs/flights.yaml"
    tf.io.gfile.makedirs(f"{gcs.bucket}/configs")
    tf.io.gfile.copy(str(FLIGHTS_CONFIG), remote, overwrite=True)
    capsys.readouterr()
    assert run_cli("validate", "--config", remote) == 0
    local_plan = capsys.readouterr().out
    assert run_cli("validate", "--config", FLIGHTS_CONFIG) == 0
    assert local_plan.replace(remote, "X") == capsys.readouterr().out.replace(
        str(FLIGHTS_CONFIG), "X")


def test_a_missing_gcs_config_is_a_config_error(gcs, capsys):
    missing = f"{gcs.bucket}/configs/nope.yaml"
    assert run_cli("validate", "--config", missing) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith(f"featurecross: config error: {missing}: <file>: cannot read the "
                          "file (")


@pytest.mark.parametrize("slash", ["", "/"])
def test_a_gcs_directory_as_input_says_which_pattern_to_write(gcs, slash, tmp_path, capsys):
    directory = f"{gcs.bucket}/days/dt=1"
    tf.io.gfile.makedirs(directory)
    tf.io.gfile.copy(str(SAMPLE_PARQUET), f"{directory}/a.parquet", overwrite=True)
    capsys.readouterr()
    assert run_cli("run", "--config", FLIGHTS_CONFIG, "--input", directory + slash,
                   "--output", tmp_path / "out") == 2
    assert capsys.readouterr().err.strip() == (
        f"featurecross: the input {directory}{slash} is a directory; pass a pattern for its "
        f"files, like '{directory}/*.parquet'")
