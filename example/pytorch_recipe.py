"""Train a PyTorch model on a featurecross run's Parquet output (docs/pytorch.md).

    python example/pytorch_recipe.py OUT --label COLUMN [--batch-size N]

Reads OUT/data/*.parquet with pyarrow and OUT/manifest.json for each feature's
width; needs only pyarrow, NumPy and torch (`pip install -e .[torch]`), not
TensorFlow. The ids are the Parquet values as they are, so a model trained here
sees the same ids as one trained on the TFRecord output or served by
OUT/serving/:

- a scalar id feature (`output: int`: hash, cross, bucketize) -> `nn.Embedding`
- a sequence or multi-valued id feature (a hash or cross over a sequence
  column: a list of ids per row) -> `nn.EmbeddingBag` with offsets
- a sparse one_hot / multi_hot (`NAME$sparse_indices_0` and `NAME$sparse_values`)
  -> `nn.EmbeddingBag` with the values as per-sample weights
- float features (product, polynomial, dense one_hot) -> one dense vector
"""

from __future__ import annotations

import argparse
import dataclasses
import glob
import json
import os

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

SPARSE_INDICES, SPARSE_VALUES = "$sparse_indices_0", "$sparse_values"


@dataclasses.dataclass(frozen=True)
class IdFeature:
    name: str          # the Parquet column of ids (indices, for a sparse one)
    width: int         # ids are 0 .. width - 1: the embedding's rows
    bag: bool          # several ids per row: nn.EmbeddingBag
    weights: str | None = None  # a sparse feature's values column


def read_output(out: str) -> tuple[pa.Table, dict]:
    """The run's rows (part files in order) and its manifest."""
    files = sorted(glob.glob(os.path.join(out, "data", "part-*.parquet")))
    if not files:
        raise SystemExit(f"{out}: no Parquet part files; run with output.format: parquet")
    with open(os.path.join(out, "manifest.json"), encoding="utf-8") as handle:
        manifest = json.load(handle)
    return pq.read_table(files), manifest


def id_features(table: pa.Table, manifest: dict) -> list[IdFeature]:
    """The categorical features stored as ids, with their widths from the manifest."""
    found = []
    for feature in manifest["features"]:
        name, width = feature["name"], feature.get("num_bins")
        if width is None:
            continue  # product, polynomial: dense floats
        if feature.get("sparse"):
            found.append(IdFeature(name + SPARSE_INDICES, width, True, name + SPARSE_VALUES))
        elif feature.get("output") == "int":
            found.append(IdFeature(name, width, pa.types.is_list(table.schema.field(name).type)
                                   or pa.types.is_large_list(table.schema.field(name).type)))
    return found


def dense_columns(table: pa.Table, manifest: dict, ids: list[IdFeature]) -> list[str]:
    taken = {f.name for f in ids} | {f.weights for f in ids if f.weights}
    features = {f["name"] for f in manifest["features"]}
    return [name for name in table.column_names
            if name in features and name not in taken
            and pa.types.is_floating(_value_type(table.schema.field(name).type))]


class FeatureRows(Dataset):
    """One row per item: {column: value or list of values}, plus the label."""

    def __init__(self, table: pa.Table, columns: list[str], label: str) -> None:
        self.columns = {name: table.column(name).to_pylist() for name in columns}
        self.labels = np.asarray(table.column(label).to_numpy(zero_copy_only=False),
                                 dtype=np.float32)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> dict:
        row = {name: values[index] for name, values in self.columns.items()}
        row["label"] = self.labels[index]
        return row


def collate(rows: list[dict], ids: list[IdFeature], dense: list[str]) -> dict:
    """A batch: ids as LongTensors (a bag as flat ids + offsets), dense as one matrix."""
    batch = {}
    for feature in ids:
        cells = [row[feature.name] for row in rows]
        if not feature.bag:
            batch[feature.name] = torch.tensor(cells, dtype=torch.long)
            continue
        lengths = [len(cell) for cell in cells]
        offsets = torch.tensor(np.concatenate([[0], np.cumsum(lengths)[:-1]]), dtype=torch.long)
        flat = torch.tensor([i for cell in cells for i in cell], dtype=torch.long)
        weights = (torch.tensor([w for row in rows for w in row[feature.weights]],
                                dtype=torch.float32) if feature.weights else None)
        batch[feature.name] = (flat, offsets, weights)
    if dense:
        batch["dense"] = torch.tensor(
            [[v for name in dense for v in np.atleast_1d(row[name])] for row in rows],
            dtype=torch.float32)
    batch["label"] = torch.tensor(np.array([row["label"] for row in rows]))
    return batch


class CrossModel(nn.Module):
    """Embeddings of every id feature, summed per bag, concatenated with the dense
    features, into one logit."""

    def __init__(self, ids: list[IdFeature], dense_width: int, dim: int = 8) -> None:
        super().__init__()
        self.ids = ids
        self.tables = nn.ModuleDict({
            _key(f.name): (nn.EmbeddingBag(f.width, dim, mode="sum") if f.bag
                           else nn.Embedding(f.width, dim)) for f in ids})
        # Products and polynomial terms are raw magnitudes: normalize them per batch.
        self.norm = nn.BatchNorm1d(dense_width) if dense_width else None
        self.head = nn.Linear(dim * len(ids) + dense_width, 1)

    def forward(self, batch: dict) -> torch.Tensor:
        parts = []
        for feature in self.ids:
            table = self.tables[_key(feature.name)]
            if feature.bag:
                flat, offsets, weights = batch[feature.name]
                parts.append(table(flat, offsets, per_sample_weights=weights))
            else:
                parts.append(table(batch[feature.name]))
        if self.norm is not None:
            parts.append(self.norm(batch["dense"]))
        return self.head(torch.cat(parts, dim=1)).squeeze(1)


def train_one_step(out: str, label: str, *, batch_size: int = 256, seed: int = 0) -> dict:
    """Reads OUT, builds the model and takes one optimizer step on the first batch."""
    torch.manual_seed(seed)
    table, manifest = read_output(out)
    ids = id_features(table, manifest)
    dense = dense_columns(table, manifest, ids)
    columns = [f.name for f in ids] + [f.weights for f in ids if f.weights] + dense
    rows = FeatureRows(table, columns, label)
    loader = DataLoader(rows, batch_size=batch_size, shuffle=False,
                        collate_fn=lambda items: collate(items, ids, dense))
    batch = next(iter(loader))
    dense_width = batch["dense"].shape[1] if dense else 0
    model = CrossModel(ids, dense_width)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    loss = nn.functional.binary_cross_entropy_with_logits(model(batch), batch["label"])
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    with torch.no_grad():
        after = nn.functional.binary_cross_entropy_with_logits(model(batch), batch["label"])
    return {"loss": loss.item(), "loss_after": after.item(), "batch": batch, "ids": ids,
            "dense": dense}


def _key(name: str) -> str:
    return name.replace("$", "_").replace(".", "_")  # ModuleDict keys cannot hold '.'


def _value_type(arrow_type: pa.DataType) -> pa.DataType:
    return (arrow_type.value_type if pa.types.is_list(arrow_type)
            or pa.types.is_large_list(arrow_type) else arrow_type)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", metavar="OUT", help="a finished run with Parquet output")
    parser.add_argument("--label", required=True, help="a kept 0/1 column (keep: in the config)")
    parser.add_argument("--batch-size", type=int, default=256)
    args = parser.parse_args()
    result = train_one_step(args.out, args.label, batch_size=args.batch_size)
    print(f"{len(result['ids'])} id features ({sum(f.bag for f in result['ids'])} as bags), "
          f"{len(result['dense'])} dense; one step: loss {result['loss']:.4f} -> "
          f"{result['loss_after']:.4f}")


if __name__ == "__main__":
    main()
