"""Environment errors are one line naming the path the user gave, exit 1 (README "Exit codes").

A full disk, a read-only location and an empty mount point are made for real
in a private mount namespace (`unshare`, a tmpfs seen only by the run); a
damaged frozen graph is a copy of a finished run with one file broken.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from pipeline.io.publish import SUCCESS
from tests.jobs.runs import run_args
from tests.support import REPO, run_cli


@pytest.fixture(scope="module")
def frozen_run(small, tmp_path_factory):
    out = tmp_path_factory.mktemp("frozen") / "out"
    assert run_cli(*run_args(small, out)) == 0
    return out


def one_line(stderr: str) -> str:
    assert stderr.count("\n") == 1 and "Traceback" not in stderr, stderr[-3000:]
    return stderr.strip()


def test_an_output_under_a_regular_file(small, tmp_path, capsys):
    (tmp_path / "file").write_text("a file")
    out = tmp_path / "file" / "out"
    assert run_cli(*run_args(small, out)) == 1
    assert one_line(capsys.readouterr().err) == (
        f"featurecross: the output directory {out} cannot be written: a part of that path "
        "is a regular file, not a directory")


DAMAGES = {
    "saved_model.pb deleted": ("transform_fn/saved_model.pb", "delete"),
    "saved_model.pb truncated": ("transform_fn/saved_model.pb", "truncate"),
    "variables deleted": ("transform_fn/variables", "delete"),
    "schema.pbtxt deleted": ("transformed_metadata/schema.pbtxt", "delete"),
}


@pytest.mark.parametrize("damage", DAMAGES)
def test_a_damaged_frozen_graph_is_named_by_the_directory_given(damage, frozen_run, small,
                                                                tmp_path, capsys):
    frozen = tmp_path / "frozen"
    shutil.copytree(frozen_run, frozen)
    name, how = DAMAGES[damage]
    target = frozen / name
    if how == "truncate":
        target.write_bytes(target.read_bytes()[:1000])
    elif target.is_dir():
        shutil.rmtree(target)
    else:
        target.unlink()
    out = tmp_path / "out"
    assert run_cli(*run_args(small, out, "--transform-fn", frozen)) == 1
    message = one_line(capsys.readouterr().err)
    assert message.startswith(f"featurecross: --transform-fn {frozen}: ")
    assert ".tmp-" not in message
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["frozen"]


def in_private_mount(mount_options: str, mount_at, args: list[str]):
    """`python -m pipeline ARGS` with a tmpfs (`mount_options`) at `mount_at`, for it alone."""
    script = (f"mount -t tmpfs -o {mount_options} tmpfs {mount_at} && "
              f"exec {sys.executable} -m pipeline {' '.join(args)}")
    for unshare in (["unshare", "-m"], ["unshare", "-rm"]):
        try:
            probe = subprocess.run([*unshare, "sh", "-c", f"mount -t tmpfs tmpfs {mount_at}"],
                                   capture_output=True, timeout=30)
        except (FileNotFoundError, subprocess.TimeoutExpired):
            break
        if probe.returncode == 0:
            return subprocess.run([*unshare, "sh", "-c", script], cwd=REPO, capture_output=True,
                                  text=True, timeout=900)
    pytest.skip("no private mount namespace here (unshare -m) to fake a device")


def test_a_full_disk_is_one_line_and_nothing_is_published(small, tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    out = disk / "out"
    done = in_private_mount("size=96k", disk, run_args(small, out))
    assert done.returncode == 1
    assert one_line(done.stderr) == (f"featurecross: the output directory {out}: no space "
                                     "left on the device while the run was writing; nothing "
                                     "was published")


def test_a_read_only_location_is_one_line(small, tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    out = disk / "out"
    done = in_private_mount("ro", disk, run_args(small, out))
    assert done.returncode == 1
    assert one_line(done.stderr) == (f"featurecross: the output directory {out} cannot be "
                                     "written: it is on a read-only file system")


def test_an_empty_mount_point_as_the_output_is_one_line(small, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    done = in_private_mount("size=1m", out, run_args(small, out))
    assert done.returncode == 1
    assert one_line(done.stderr) == (
        f"featurecross: the output directory {out} is a mount point; a run publishes by "
        "renaming a directory into place, so give a directory inside it")
    assert sorted(os.listdir(tmp_path)) == ["out"] and not (out / SUCCESS).exists()
