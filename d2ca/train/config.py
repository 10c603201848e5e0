"""The configuration of a training run, saved as ``train_config.json`` in the run folder."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from d2ca.config import D2CAConfig
from d2ca.errors import InputError
from d2ca.io import atomic_path

TRAIN_CONFIG_NAME = "train_config.json"

# Method -> the ablation switches of D2CAConfig it forces (None: D2CA network, switches free).
METHODS: dict[str, dict[str, bool] | None] = {
    "d2ca": {},
    "d2ca-no-fcl": {"use_fcl": False},  # Table VIII "w/o FCL"
    "d2ca-no-icl-fcl": {"use_icl": False, "use_fcl": False},  # "w/o ICL and FCL"
    "source-only": None,  # E_au + C on source labels
    "dann": None,  # E_au + C + gradient-reversal domain classifier (Ganin et al., 2016)
    "target-only": None,  # E_au + C on target labels: the upper bound
}
D2CA_METHODS = ("d2ca", "d2ca-no-fcl", "d2ca-no-icl-fcl")
SELECTIONS = ("last", "source-val")  # TrainConfig.select

# Fields that may change when a run is resumed (they do not change what is computed).
RESUMABLE_CHANGES = frozenset(
    {
        "steps",
        "epochs",
        "device",
        "num_workers",
        "eval_every",
        "checkpoint_every",
        "log_every",
        "diagnose_every",
        "cache_images",
        "out_dir",
        "progress",
        "threads",
        "cuda_graphs",
    }
)


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run needs besides the data; JSON round-trips.

    Paper values are noted; defaults are sized for a CPU (the paper used N = 128 per domain
    on two 24 GB GPUs).

    Example:
        >>> cfg = TrainConfig(source="bp4d:data/bp4d", target="disfa:data/disfa", steps=10)
        >>> TrainConfig.from_dict(cfg.to_dict()) == cfg
        True
    """

    source: str  # labelled source data: "NAME:DIR" or DIR (DIR holds manifest.csv)
    target: str  # target data: labels used only for evaluation (and by target-only)
    method: str = "d2ca"  # one of METHODS
    model: dict[str, Any] = field(default_factory=dict)  # D2CAConfig overrides (weights...)
    batch_size: int = 16  # images per domain per step and process (paper N = 128)
    # P subjects per source batch, K = batch_size / P images each. 8 (K = 2 at batch 16, the
    # fewest faces per subject FCL needs): the SynthAU grid rerun with 8 x 2 learnt the source
    # AUs faster than with 4 x 4 (docs/starvation.md, the sampler study; 4 until 2026-12-04)
    subjects: int = 8
    lr: float = 1e-3  # Adam, paper
    betas: tuple[float, float] = (0.5, 0.999)  # not in the paper: the usual GAN choice
    steps: int | None = None  # total optimisation steps; or
    epochs: int | None = None  # passes over the source train split (target-only: target)
    seed: int = 0
    # D2CA methods: steps of the source AU loss alone (Eq. 4, L_au^s) before the full
    # objective. Not in the paper (0 = the paper); see docs/training.md, "Warm-up".
    warmup_steps: int = 0
    # D2CA methods: L_au^t (Eq. 4) enters over the first K steps, weight
    # exp(-5 (1 - step/K)^2) (objective.rampup); 0 = the paper (full weight from step 0).
    # Marked choice: the translated faces carry no AUs at first, docs/training.md.
    au_t_rampup: int = 1000
    eval_every: int | None = None  # steps between evaluations (None: once per epoch)
    # the weights written to OUT/model: "last" (the paper: the last step's) or "source-val"
    # (those of the evaluation with the best average source-validation F1; no target label is
    # read). Marked choice against a run that loses what it learned, docs/stability.md;
    # it cannot change on --resume (only a "source-val" run keeps the best).
    select: str = "last"
    # Adam's step of each tensor divided by max(1, RMS(g^2 / v_hat)) (d2ca/train/optim.py;
    # False = plain Adam, the paper's). Marked choice against the spike of a memorised
    # source, docs/stability.md
    update_clip: bool = False
    checkpoint_every: int = 500  # steps between resumable checkpoints
    log_every: int = 10  # steps between metrics.jsonl lines
    # steps between diagnostics lines (per-term gradient norms on the encoders, feature
    # spreads; docs/training.md "Diagnostics"); 0 = off. Costs one backward pass per term.
    diagnose_every: int = 50
    device: str = "auto"  # a GPU when present (CUDA, then MPS), else the CPU
    bf16: bool = False  # CUDA only: bf16 autocast
    compile: bool = False  # CUDA only: torch.compile of the networks
    # CUDA only, D2CA methods, one process: each step replays one captured CUDA graph
    # (d2ca/train/graphs.py); diagnostics steps and the warm-up run eagerly
    cuda_graphs: bool = False
    channels_last: bool = True  # NHWC memory format: about 30% less CPU time per step here
    num_workers: int = 0  # DataLoader workers when images are not cached
    threads: int | None = None  # torch intra-op threads (None: torch's default)
    # preload images as uint8 on the training device (None: under 2 GiB per split on the CPU,
    # under a quarter of the free memory on a GPU)
    cache_images: bool | None = None
    eval_batch_size: int = 64
    out_dir: str = "runs/d2ca"
    progress: bool = True  # tqdm progress bar on stderr

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise InputError(f"unknown method {self.method!r}; choose from {', '.join(METHODS)}")
        if (self.steps is None) == (self.epochs is None):
            raise InputError("give exactly one of steps or epochs")
        positive = {
            "steps": self.steps,
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "subjects": self.subjects,
            "checkpoint_every": self.checkpoint_every,
            "log_every": self.log_every,
            "eval_every": self.eval_every,
            "eval_batch_size": self.eval_batch_size,
        }
        for name, value in positive.items():
            if value is not None and value < 1:
                raise InputError(f"{name} must be at least 1, got {value}")
        if self.batch_size % self.subjects:
            raise InputError(
                f"batch_size {self.batch_size} is not a multiple of subjects {self.subjects} "
                "(source batches are P subjects x K images)"
            )
        if not self.lr > 0:
            raise InputError(f"lr must be positive, got {self.lr}")
        if self.threads is not None and self.threads < 1:
            raise InputError(f"threads must be at least 1, got {self.threads}")
        if self.num_workers < 0:
            raise InputError(f"num_workers must be >= 0, got {self.num_workers}")
        if self.diagnose_every < 0:
            raise InputError(f"diagnose_every must be >= 0, got {self.diagnose_every}")
        if self.au_t_rampup < 0:
            raise InputError(f"au_t_rampup must be >= 0, got {self.au_t_rampup}")
        if self.select not in SELECTIONS:
            raise InputError(f"select must be one of {', '.join(SELECTIONS)}, got {self.select!r}")
        if self.warmup_steps < 0:
            raise InputError(f"warmup_steps must be >= 0, got {self.warmup_steps}")

    @property
    def images_per_subject(self) -> int:
        """K of the P x K source batches."""
        return self.batch_size // self.subjects

    def model_config(self, au_names: tuple[str, ...]) -> D2CAConfig:
        """The D2CAConfig of the run: overrides, the method's switches, the shared AUs."""
        values = {**self.model, **(METHODS[self.method] or {}), "au_names": list(au_names)}
        try:
            return D2CAConfig.from_dict(values)
        except (TypeError, ValueError) as e:
            raise InputError(f"model config: {e}") from None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InputError(f"unknown train config keys: {', '.join(unknown)}")
        values = dict(data)
        if "betas" in values:
            values["betas"] = tuple(values["betas"])
        return cls(**values)

    def save(self, folder: str | Path, *, overwrite: bool = False) -> Path:
        path = Path(folder) / TRAIN_CONFIG_NAME
        with atomic_path(path, overwrite=overwrite) as tmp:
            tmp.write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        return path

    @classmethod
    def load(cls, folder: str | Path) -> TrainConfig:
        path = Path(folder) / TRAIN_CONFIG_NAME
        try:
            return cls.from_dict(json.loads(path.read_text()))
        except FileNotFoundError:
            raise InputError(f"{folder} holds no {TRAIN_CONFIG_NAME}: nothing to resume") from None
        except json.JSONDecodeError as e:
            raise InputError(f"{path} is not valid JSON: {e}") from None

    def changes(self, other: TrainConfig) -> list[str]:
        """Names of the fields whose values differ from ``other`` (as JSON: tuple == list)."""
        a, b = (json.loads(json.dumps(c.to_dict())) for c in (self, other))
        return [k for k in a if a[k] != b[k]]
