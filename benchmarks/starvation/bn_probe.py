"""How much of a trained model's eval-mode F1 its batch-norm running statistics cost.

Under ``norm_stats="all"`` (0.1.0) E_au's running statistics also average the synthesised
faces of the cyclic stages. This script scores a model folder as trained, then again after
re-estimating E_au's statistics on real train faces only, of both domains (what
``norm_stats="real"`` keeps) and of the source alone (what Source only keeps)
(docs/starvation.md)::

    python benchmarks/starvation/bn_probe.py RUN/model SOURCE_DIR TARGET_DIR
"""

from __future__ import annotations

import argparse

import torch
from torch import nn
from torch.utils.data import DataLoader

from d2ca.data.dataset import ManifestDataset
from d2ca.data.manifest import Manifest, read_manifest
from d2ca.evaluation import evaluate
from d2ca.hub import load_folder
from d2ca.models import D2CAModel


def scores(model: D2CAModel, source: Manifest, target: Manifest) -> str:
    s = evaluate(model, source.split("val"))["avg_f1"]
    t = evaluate(model, target.split("test"))["avg_f1"]
    return f"source-val F1 {100 * s:.1f}, target-test F1 {100 * t:.1f}"


@torch.no_grad()
def recalibrate(model: D2CAModel, manifests: list[Manifest], batches: int = 20) -> None:
    """E_au's running statistics re-estimated (a cumulative mean) on real train faces."""
    norms = [m for m in model.e_au.modules() if isinstance(m, nn.BatchNorm2d)]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    model.train()
    for manifest in manifests:
        data = ManifestDataset(manifest.split("train"), model.config)
        for i, batch in enumerate(DataLoader(data, batch_size=16, shuffle=True)):
            model.e_au(batch["image"])
            if i + 1 == batches:
                break
    model.eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model")
    parser.add_argument("source")
    parser.add_argument("target")
    args = parser.parse_args()
    torch.manual_seed(0)
    model = load_folder(args.model)
    source = read_manifest(f"{args.source}/manifest.csv")
    target = read_manifest(f"{args.target}/manifest.csv")
    print("as trained:", scores(model, source, target))
    recalibrate(model, [source, target])
    print("E_au statistics from real source and target faces:", scores(model, source, target))
    recalibrate(model, [source])
    print("E_au statistics from real source faces only:", scores(model, source, target))


if __name__ == "__main__":
    main()
