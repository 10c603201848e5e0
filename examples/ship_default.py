"""Ship a run of examples/train_default.sh as the package's default checkpoint.

Copies RUN/model into d2ca/pretrained/default/ with its data described in the provenance
and the model card, and stores the run's final evaluation beside the baselines of
docs/default-checkpoint.md::

    python examples/ship_default.py default-run/run
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from d2ca.data.manifest import parse_data_spec
from d2ca.hub import load_folder, save_pretrained
from d2ca.io import atomic_path
from d2ca.train.card import model_card
from d2ca.train.config import TrainConfig

REPO = Path(__file__).resolve().parents[1]
DEFAULT = REPO / "d2ca" / "pretrained" / "default"
RESULTS = REPO / "docs" / "default-checkpoint"
DATA = (
    "SynthAU, rendered by `d2ca synth` (examples/train_default.sh): source lab-a, 40 subjects "
    "x 40 frames, seed 1, labelled; target wild, 40 subjects x 40 frames, seed 2, labels used "
    "only for evaluation; 128x128; subject-disjoint train/val/test splits 60/20/20"
)
WHY = (
    "labelled studio faces to unlabelled in-the-wild faces: the shift a user faces when "
    "applying a lab-trained detector to their own photos and videos"
)


BASELINES = ("source-only", "target-only")


def portable(spec: str) -> str:
    """``synthau:/any/where/lab-a-128`` -> ``synthau:lab-a-128`` (the script's folder names)."""
    kind, folder = parse_data_spec(spec)
    return f"{kind}:{folder.name}" if kind else folder.name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", type=Path)
    run = parser.parse_args().run
    model = load_folder(run / "model")
    tc = TrainConfig.load(run)
    tc = dataclasses.replace(tc, source=portable(tc.source), target=portable(tc.target))
    prov = {**model.config.provenance, "training_data": DATA, "why_this_pair": WHY}
    prov |= {"source": tc.source, "target": tc.target, "pair": "SynthAU lab-a -> SynthAU wild"}
    prov["train_config"] |= {"source": tc.source, "target": tc.target, "out_dir": "run"}
    model.config = dataclasses.replace(model.config, provenance=prov)
    metrics = prov["metrics"]
    card = model_card(model.config, tc, metrics)
    card = card.replace(
        "## Training data\n", f"## Training data\n- {DATA}.\n- Why this pair: {WHY}.\n", 1
    )
    so, to = (json.loads((RESULTS / f"{m}.json").read_text()) for m in BASELINES)
    context = (
        "## Context\nOn the same data, batch, seed and step count, Source only reaches "
        f"{100 * so['target_test']['avg_f1']:.1f} average F1 on the target test split "
        f"({100 * so['source_val']['avg_f1']:.1f} on the source validation split) and Target "
        f"only {100 * to['target_test']['avg_f1']:.1f}; this checkpoint "
        f"{100 * metrics['target_test']['avg_f1']:.1f} "
        f"({100 * metrics['source_val']['avg_f1']:.1f}). See docs/default-checkpoint.md in the "
        "d2ca repository, which also gives the commands.\n\n## Intended use\n"
    )
    card = card.replace("## Intended use\n", context, 1)
    save_pretrained(model, DEFAULT, overwrite=True, card=card)
    keep = ("method", "steps", "seed", "source", "target")
    result = {k: prov[k] for k in keep} | metrics
    result |= {"warmup_steps": tc.warmup_steps, "batch_size": tc.batch_size}
    with atomic_path(RESULTS / "d2ca.json", overwrite=True) as tmp:
        tmp.write_text(json.dumps(result, indent=1) + "\n")
    print(DEFAULT)


if __name__ == "__main__":
    main()
