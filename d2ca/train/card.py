"""The model card (``README.md``) written beside a trained checkpoint."""

from __future__ import annotations

from typing import Any

from d2ca.config import D2CAConfig
from d2ca.data.manifest import parse_data_spec
from d2ca.train.config import D2CA_METHODS, TrainConfig

_METHOD_TEXT = {
    "d2ca": "D2CA (full objective, Eq. 12: L_deco + lambda (L_icl + L_fcl))",
    "d2ca-no-fcl": "D2CA without the feature-level contrastive loss (FCL)",
    "d2ca-no-icl-fcl": "D2CA without the image- and feature-level contrastive losses",
    "source-only": "source-only baseline: E_au + C trained on source labels only",
    "dann": "DANN baseline: E_au + C with a gradient-reversal domain classifier",
    "target-only": "target-only upper bound: E_au + C trained on target labels",
}
_SPLIT_TEXT = {"target_test": "target, held-out test split", "source_val": "source, validation"}


def model_card(config: D2CAConfig, train_config: TrainConfig, metrics: dict[str, Any]) -> str:
    """A Markdown model card: data, protocol, metrics table, intended use, limitations.

    Args:
        config: the trained model's config (its ``provenance`` names the data and steps).
        train_config: the run's configuration.
        metrics: ``{"target_test": evaluate(...), "source_val": evaluate(...)}`` (either may
            be missing), F1 in [0, 1].

    Example:
        >>> tc = TrainConfig(source="bp4d:b", target="disfa:d", steps=1)
        >>> "BP4D" in model_card(D2CAConfig(), tc, {})
        True
    """
    prov = config.provenance
    pair = prov.get("pair") or f"{train_config.source} -> {train_config.target}"
    aus = ", ".join(config.au_names)
    lines = [
        "---",
        "library_name: d2ca",
        "tags: [facial-action-units, domain-adaptation, d2ca]",
        "---",
        f"# D2CA checkpoint: {pair.upper()}",
        "",
        f"Method: {_METHOD_TEXT[train_config.method]}.",
        "",
        "## Training data",
        f"- Source (labelled): `{train_config.source}`, split `train`.",
        f"- Target: `{train_config.target}`, split `train`"
        + (
            " with its labels (upper bound)."
            if train_config.method == "target-only"
            else " without labels (unsupervised adaptation)."
            if train_config.method != "source-only"
            else " not used for training."
        ),
        f"- AUs ({config.num_aus}): {aus}.",
        f"- Steps: {prov.get('steps', '?')}, batch {train_config.batch_size} per domain "
        f"({train_config.subjects} subjects x {train_config.images_per_subject} images on the "
        f"source), lr {train_config.lr}, seed {train_config.seed}, "
        f"image size {config.image_size}, d2ca {prov.get('d2ca_version', '?')}.",
        *(
            [
                f"- Warm-up: the first {train_config.warmup_steps} steps trained the AU path "
                "alone on source labels (not in the paper; docs/training.md)."
            ]
            if train_config.warmup_steps and train_config.method != "source-only"
            else []
        ),
        *(
            [
                "- Optimiser: Adam with each tensor's step divided by max(1, RMS(g^2 / v)) "
                "(`--update-clip`; not in the paper; docs/stability.md)."
            ]
            if train_config.update_clip
            else []
        ),
        *(
            [
                f"- Weights: those of step {prov['selected_step']}, the evaluation with the best "
                "average source-validation F1 (`--select source-val`; no target label is read); "
                "the evaluation below is that step's."
            ]
            if prov.get("selected_step") not in (None, prov.get("steps"))
            else []
        ),
        *(
            [
                "- Decoder: its auxiliary branch re-injects the AU features with the domain "
                "features (`dec_aux_au`; not in the paper; docs/synthesis.md)."
            ]
            if config.dec_aux_au
            else []
        ),
        *_objective_lines(config, train_config),
        *_adaptation_lines(prov.get("adaptation")),
        "",
        "## Evaluation",
        "F1 per AU (threshold 0.5 on the sigmoid), in %.",
        "",
    ]
    if metrics:
        names = list(config.au_names)
        lines.append("| split | n | " + " | ".join(names) + " | avg |")
        lines.append("|---" * (len(names) + 3) + "|")
        for key, m in metrics.items():
            cells = [f"{100 * m['f1'][a]:.1f}" if a in m["f1"] else "-" for a in names]
            label = _SPLIT_TEXT.get(key, key)
            lines.append(
                f"| {label} | {m['n']} | " + " | ".join(cells) + f" | {100 * m['avg_f1']:.1f} |"
            )
    else:
        lines.append("No evaluation was run.")
    lines += [
        "",
        "## Intended use",
        "Research on cross-domain facial action unit detection: detecting the listed AUs on "
        "aligned face crops like those of the training data, and comparing adaptation "
        "methods. Not for decisions about people (emotion, health, hiring, policing).",
        "",
        "## Limitations",
        f"- Trained only on the data named above; it detects only {aus}.",
        "- Accuracy drops on faces unlike the training data (pose, lighting, age, ethnicity, "
        "occlusion, image quality); the figures above hold for the named splits only.",
        "- Frame-level detector: it does not use time, and AU intensity is not estimated.",
    ]
    if "synthau" in {parse_data_spec(s)[0] for s in (train_config.source, train_config.target)}:
        lines.append(
            "- Trained on SynthAU, procedurally rendered faces: its outputs on real faces are "
            "not meaningful until it is retrained on real data (docs/datasets.md)."
        )
    return "\n".join(lines) + "\n"


def _objective_lines(config: D2CAConfig, train_config: TrainConfig) -> list[str]:
    """The D2CA objective's departures from the paper (docs/training.md, marked choices)."""
    if train_config.method not in D2CA_METHODS:
        return []
    choices = []
    if config.aux_grad_e_au != 1:
        choices.append(f"aux_grad_e_au={config.aux_grad_e_au:g} (the paper: 1)")
    if config.norm_stats != "all":
        choices.append(f"norm_stats={config.norm_stats} (batch-norm statistics)")
    if train_config.au_t_rampup:
        choices.append(f"L_au^t ramped up over {train_config.au_t_rampup} steps (the paper: 0)")
    if config.rec_loss != "l1":
        choices.append(f"rec_loss={config.rec_loss} (the paper: l1)")
    if config.feature_norm != "raw":
        choices.append(f"feature_norm={config.feature_norm} (the paper: raw)")
    if not choices:
        return ["- Objective: the paper's routing and weights."]
    return [f"- Objective: the paper's terms and weights with {'; '.join(choices)}."]


def _adaptation_lines(adaptation: dict[str, Any] | None) -> list[str]:
    """The card's section on a ``d2ca adapt`` run (provenance ``adaptation``), if any."""
    if not adaptation:
        return []
    start = adaptation["init"]
    start = {"default": "the default checkpoint shipped with d2ca", "scratch": "scratch "
             "(random initialisation)"}.get(start, f"`{start}`")  # fmt: skip
    return [
        "",
        "## Adaptation (`d2ca adapt`)",
        f"- Started from {start}.",
        f"- Source (labelled): {adaptation['source']}.",
        f"- Target (unlabelled): `{adaptation['target']}`, {adaptation['target_faces']} faces "
        f"of {adaptation['target_subjects']} subjects. No target label was used in training: "
        "the target faces were seen as images only.",
    ]
