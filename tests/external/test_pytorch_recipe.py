"""The PyTorch recipe (example/pytorch_recipe.py, docs/pytorch.md) on a real run's
Parquet output: the ids fed to nn.Embedding and nn.EmbeddingBag are the Parquet
values, and one training step runs. Skipped without the `torch` extra."""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml

from tests.support import REPO, run_cli, user_table

torch = pytest.importorskip(
    "torch", reason="PyTorch is an optional extra: pip install -e '.[torch]' (CPU build)")

pytestmark = pytest.mark.external("PyTorch (the torch extra)")
BATCH = 256


def recipe():
    spec = importlib.util.spec_from_file_location("pytorch_recipe",
                                                  REPO / "example" / "pytorch_recipe.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A user's table through `init`, plus a multi-valued cross, a sparse one_hot and
    a product, run with Parquet output."""
    folder = tmp_path_factory.mktemp("torch")
    user_table().to_parquet(folder / "rows.parquet")
    assert run_cli("init", "--input", folder / "rows.parquet", "--label", "clicked",
                   "--output", folder / "starter.yaml") == 0
    config = yaml.safe_load((folder / "starter.yaml").read_text())
    config["features"] += [
        {"name": "tags_x_city", "cross": ["tags", "city"], "num_bins": 256},
        {"name": "device_onehot", "hash": "device", "num_bins": 16, "output": "one_hot",
         "sparse": True},
        {"name": "price_x_age", "product": ["price", "age"]}]
    (folder / "torch.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    out = folder / "out"
    assert run_cli("run", "--config", folder / "torch.yaml", "--output", out, "--quiet",
                   "--verify-rows", "0") == 0
    return out


def test_the_ids_fed_to_the_embeddings_are_the_parquet_values(run):
    result = recipe().train_one_step(str(run), "clicked", batch_size=BATCH)
    table = pq.read_table(sorted((run / "data").glob("part-*.parquet"))).slice(0, BATCH)
    batch, ids = result["batch"], {f.name: f for f in result["ids"]}
    assert {"tags_id", "tags_x_city", "device_onehot$sparse_indices_0"} == {
        name for name, f in ids.items() if f.bag}
    assert {"city_id", "device_id", "user_id", "hour_id", "age_bucket", "price_bucket",
            "city_x_device"} <= {name for name, f in ids.items() if not f.bag}
    for name, feature in ids.items():
        stored = table.column(name).to_pylist()
        if feature.bag:
            flat, offsets, weights = batch[name]
            assert flat.tolist() == [i for cell in stored for i in cell], name
            lengths = [len(cell) for cell in stored]
            assert offsets.tolist() == np.concatenate([[0], np.cumsum(lengths)[:-1]]).tolist()
            if feature.weights:
                assert weights.tolist() == [w for cell in table.column(feature.weights)
                                            .to_pylist() for w in cell]
        else:
            assert batch[name].dtype == torch.long
            assert batch[name].tolist() == stored, name
        assert 0 <= min(flat.tolist() if feature.bag else stored) \
            and max(flat.tolist() if feature.bag else stored) < feature.width, name
    assert result["dense"] == ["price_x_age"]
    assert batch["label"].tolist() == table.column("clicked").to_pylist()


def test_one_training_step_lowers_the_loss_on_its_batch(run):
    result = recipe().train_one_step(str(run), "clicked", batch_size=BATCH)
    assert np.isfinite(result["loss"]) and result["loss_after"] < result["loss"]


def test_the_torch_extra_is_the_cpu_build():
    """The Makefile installs PyTorch from its CPU index: no CUDA libraries come along."""
    assert torch.version.cuda is None, f"torch {torch.__version__} is a CUDA build"
