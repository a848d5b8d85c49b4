"""`featurecross init` on a user's table, then `validate` and `run` with the written
config unchanged (pipeline/explore/init_config.py; its choices: tests/unit/test_init_config.py)."""

from __future__ import annotations

import pyarrow.parquet as pq

from tests.support import run_cli, user_table


def test_init_then_validate_and_run_the_config_as_written(tmp_path, capsys):
    frame = user_table()
    data = tmp_path / "data"
    data.mkdir()
    frame.iloc[:1500].to_parquet(data / "part-0.parquet")
    frame.iloc[1500:].to_parquet(data / "part-1.parquet")
    config = tmp_path / "starter.yaml"
    assert run_cli("init", "--input", data / "*.parquet", "--label", "clicked",
                   "--output", config) == 0
    printed = capsys.readouterr().out
    assert f"featurecross validate --config {config}" in printed
    written = config.read_text()
    assert run_cli("validate", "--config", config) == 0
    assert "crosses[0] expands to 3 crosses" in capsys.readouterr().out
    out = tmp_path / "out"
    assert run_cli("run", "--config", config, "--output", out, "--quiet") == 0
    assert config.read_text() == written
    table = pq.read_table(sorted((out / "data").glob("part-*.parquet")))
    assert table.num_rows == len(frame)
    assert table.column("clicked").to_pylist() == frame["clicked"].tolist()  # kept, in order
    assert {"city_id", "device_id", "tags_id", "price_bucket", "city_x_device"} <= set(
        table.column_names)
    assert "premium" not in table.column_names
