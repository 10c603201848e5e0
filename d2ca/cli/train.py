"""``d2ca train``: a thin command over :class:`d2ca.train.Trainer`.

Under ``torchrun`` it joins the process group itself (NCCL on CUDA, gloo on CPU) and, with
more than one process, trains with DDP; only rank 0 writes.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from d2ca.cli.app import command
from d2ca.errors import InputError

# options d2ca adapt shares
CheckpointEveryOption = Annotated[
    int | None, typer.Option(help="Steps between resumable checkpoints (default 500).")
]
LogEveryOption = Annotated[
    int | None, typer.Option(help="Steps between metrics.jsonl lines (default 10).")
]
TrainDeviceOption = Annotated[
    str | None,
    typer.Option(
        help="auto (a GPU when present: CUDA, then MPS; else cpu), cpu, cuda, cuda:N "
        "(default auto)."
    ),
]
ThreadsOption = Annotated[
    int | None, typer.Option(help="torch CPU threads (1 is steadier on a busy machine).")
]

_MODEL_OPTIONS = {  # CLI option -> D2CAConfig field
    "image_size": "image_size",
    "lambda_": "lambda_",
    "gamma1": "gamma1",
    "gamma2": "gamma2",
    "gamma3": "gamma3",
    "gamma4": "gamma4",
    "tau": "tau",
    "alpha": "alpha",
}


def _parse_set(items: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InputError(f"--set expects KEY=VALUE, got {item!r}")
        try:
            out[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            raise InputError(
                f"--set {key}: {value!r} is not a JSON value (e.g. 64, [8,16])"
            ) from None
    return out


@command("train")
def train_command(
    source: Annotated[
        str | None,
        typer.Option(
            help="Labelled source data: NAME:DIR (e.g. bp4d:data/bp4d) or DIR with manifest.csv."
        ),
    ] = None,
    target: Annotated[
        str | None,
        typer.Option(help="Target data, NAME:DIR or DIR; its labels are used only for evaluation."),
    ] = None,
    method: Annotated[
        str | None,
        typer.Option(help="d2ca, d2ca-no-fcl, d2ca-no-icl-fcl, source-only, dann or target-only."),
    ] = None,
    steps: Annotated[int | None, typer.Option(help="Optimisation steps.")] = None,
    epochs: Annotated[int | None, typer.Option(help="Passes over the source train split.")] = None,
    batch_size: Annotated[
        int | None,
        typer.Option(help="Images per domain per step and process (default 16; paper 128)."),
    ] = None,
    subjects: Annotated[
        int | None,
        typer.Option(help="P subjects per source batch (K = batch size / P; default 8)."),
    ] = None,
    lr: Annotated[float | None, typer.Option(help="Adam learning rate (default 1e-3).")] = None,
    beta1: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            max=0.999,
            help="Adam's beta1 for every optimiser: 0.5 unless given, beta2 stays 0.999 "
            "(the paper gives neither; docs/stability.md).",
        ),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed (default 0).")] = None,
    warmup_steps: Annotated[
        int | None,
        typer.Option(help="D2CA: steps of the source AU loss alone first (default 0, the paper)."),
    ] = None,
    au_t_rampup: Annotated[
        int | None,
        typer.Option(help="D2CA: steps over which L_au^t ramps up to full weight (0: the paper)."),
    ] = None,
    image_size: Annotated[int | None, typer.Option(help="Face crop size (default 128).")] = None,
    lambda_: Annotated[float | None, typer.Option("--lambda", help="Weight of ICL + FCL.")] = None,
    gamma1: Annotated[float | None, typer.Option(help="Weight of L_rep.")] = None,
    gamma2: Annotated[float | None, typer.Option(help="Weight of L_rec.")] = None,
    gamma3: Annotated[float | None, typer.Option(help="Weight of L_adv.")] = None,
    gamma4: Annotated[float | None, typer.Option(help="Weight of L_ort.")] = None,
    tau: Annotated[float | None, typer.Option(help="ICL temperature.")] = None,
    alpha: Annotated[float | None, typer.Option(help="FCL margin.")] = None,
    no_icl: Annotated[bool, typer.Option("--no-icl", help="Drop ICL (Eq. 10).")] = False,
    no_fcl: Annotated[bool, typer.Option("--no-fcl", help="Drop FCL (Eq. 11).")] = False,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="Model config override KEY=JSON, e.g. --set 'enc_widths=[8,8,16,16,16,16,"
            "32,32]' (repeatable).",
        ),
    ] = None,
    eval_every: Annotated[
        int | None, typer.Option(help="Steps between evaluations (default: every epoch).")
    ] = None,
    select: Annotated[
        str | None,
        typer.Option(
            help="Weights written to OUT/model: last (default, the paper) or source-val (the "
            "evaluation with the best source-validation F1; docs/stability.md).",
        ),
    ] = None,
    checkpoint_every: CheckpointEveryOption = None,
    log_every: LogEveryOption = None,
    diagnose_every: Annotated[
        int | None,
        typer.Option(
            help="Steps between diagnostics lines in metrics.jsonl: per-term gradient norms on "
            "the encoders, feature spreads (default 50; 0 = off)."
        ),
    ] = None,
    device: TrainDeviceOption = None,
    update_clip: Annotated[
        bool,
        typer.Option(
            "--update-clip",
            help="Divide Adam's step of each tensor by max(1, RMS(g^2 / v)) (not in the paper; "
            "docs/stability.md).",
        ),
    ] = False,
    bf16: Annotated[bool, typer.Option("--bf16", help="bf16 autocast (CUDA only).")] = False,
    compile_: Annotated[bool, typer.Option("--compile", help="torch.compile (CUDA only).")] = False,
    cuda_graphs: Annotated[
        bool,
        typer.Option("--cuda-graphs", help="Replay each D2CA step as a CUDA graph (CUDA only)."),
    ] = False,
    num_workers: Annotated[
        int | None, typer.Option(help="DataLoader workers when images are not cached.")
    ] = None,
    threads: ThreadsOption = None,
    channels_last: Annotated[
        bool | None,
        typer.Option(
            "--channels-last/--no-channels-last",
            help="NHWC memory format for the convolutions (default on; faster on CPU).",
        ),
    ] = None,
    cache_images: Annotated[
        bool | None,
        typer.Option(
            "--cache-images/--no-cache-images",
            help="Preload images onto the training device (default: when a split is under 2 GiB on "
            "the CPU, under a quarter of the free memory on a GPU).",
        ),
    ] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Run folder.")] = Path("runs/d2ca"),
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue the run in --out from its latest checkpoint.")
    ] = False,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Start again in an --out that holds a run.")
    ] = False,
    progress: Annotated[bool, typer.Option(help="Show a progress bar on stderr.")] = True,
) -> None:
    """Train D2CA (or a baseline) on a labelled source and an unlabelled target domain."""
    from d2ca.train import TrainConfig, Trainer

    if resume and overwrite:
        raise InputError("--resume and --overwrite exclude each other")
    if steps is not None and epochs is not None:
        raise InputError("give --steps or --epochs, not both")
    given = {
        "source": source,
        "target": target,
        "method": method,
        "steps": steps,
        "epochs": epochs,
        "batch_size": batch_size,
        "subjects": subjects,
        "lr": lr,
        "seed": seed,
        "warmup_steps": warmup_steps,
        "au_t_rampup": au_t_rampup,
        "eval_every": eval_every,
        "select": select,
        "checkpoint_every": checkpoint_every,
        "log_every": log_every,
        "diagnose_every": diagnose_every,
        "device": device,
        "num_workers": num_workers,
        "threads": threads,
        "cache_images": cache_images,
        "channels_last": channels_last,
    }
    values = {k: v for k, v in given.items() if v is not None}
    values.update(out_dir=str(out), progress=progress)
    if beta1 is not None:
        values["betas"] = (beta1, 0.999)  # TrainConfig's beta2
    if update_clip:
        values["update_clip"] = True
    if bf16:
        values["bf16"] = True
    if compile_:
        values["compile"] = True
    if cuda_graphs:
        values["cuda_graphs"] = True
    model = {**_parse_set(set_ or [])}
    local = locals()
    model.update({f: local[o] for o, f in _MODEL_OPTIONS.items() if local[o] is not None})
    if no_icl:
        model["use_icl"] = False
    if no_fcl:
        model["use_fcl"] = False

    if resume and (out / "train_config.json").exists():
        base = TrainConfig.load(out).to_dict()
        if "steps" in values or "epochs" in values:
            base.update(steps=None, epochs=None)
        config = TrainConfig.from_dict({**base, **values, "model": {**base["model"], **model}})
    else:
        missing = [f"--{k}" for k in ("source", "target") if k not in values]
        if missing:
            raise InputError(f"{' and '.join(missing)} required (or --resume an existing run)")
        if "steps" not in values and "epochs" not in values:
            raise InputError("give --steps N or --epochs E")
        config = TrainConfig.from_dict({**values, "model": model})

    # launched by torchrun (which sets LOCAL_RANK), even as one process: join its group
    distributed = "LOCAL_RANK" in os.environ or int(os.environ.get("WORLD_SIZE", "1")) > 1
    if distributed:
        import torch.distributed as dist

        from d2ca.devices import resolve_device

        cuda = resolve_device(config.device).type == "cuda"
        dist.init_process_group("nccl" if cuda else "gloo")
    try:
        folder = Trainer(config, resume=resume, overwrite=overwrite).train()
    finally:
        if distributed:
            dist.destroy_process_group()
    if folder is not None:
        typer.echo(str(folder))
