"""The two scales of the SynthAU grid: the CPU grid and the paper's scale on one GPU.

A :class:`Scale` holds everything that differs between them: the rendered data, the network,
the batch, the budget, the evaluation and checkpoint cadence, the device and precision, the
oracles, the pairs, and where results and the document go. ``run_table.py --scale cpu``
(the default) is the grid of docs/benchmark-synthetic.md; ``--scale paper`` the one of
docs/benchmark-synthetic-paper.md. The run options (``--steps``, ``--epochs``, ``--batch``,
``--subjects``, ``--warmup-steps``, ``--device``) are applied with :meth:`Scale.with_options`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from report_data import D2CA_VARIANTS, METHODS

REPO = Path(__file__).resolve().parents[2]
SEEDS = (0, 1, 2)
# every scale renders each domain from the same seed (different sizes give different faces)
DATA_SEEDS = {"lab-a": 101, "lab-b": 102, "social": 103, "wild": 104, "lab-c": 105}


@dataclass(frozen=True)
class Scale:
    """The size and budget of one grid; never mutated (``with_options`` makes a new one).

    Example:
        >>> PAPER.with_options(epochs=20).budget("d2ca")
        {'epochs': 20}
    """

    name: str  # recorded in every JSON and in the run folders' names (but the CPU's)
    image_size: int
    subjects: int  # rendered per domain (split 60/20/20 by subject)
    frames_per_subject: int
    model: Mapping[str, Any]  # D2CAConfig overrides besides image_size ({}: the default network)
    batch: int  # faces per domain per step
    sampler_subjects: int  # P subjects x batch / P faces per source batch (--subjects)
    steps: Mapping[str, int] | None  # per method: a step budget; or
    epochs: int | None  # the same epochs (passes over the train split) for every method
    # steps between evaluations (at most the run's steps); an epoch budget evaluates every
    # tenth of its epochs instead (one evaluation at 80%: the report's plateau test)
    eval_every: int
    checkpoint_every: int | None  # steps between resumable checkpoints (None: only the last)
    oracle_budget: Mapping[str, int]  # the AU oracle's run: {"steps": N} or {"epochs": N}
    oracle: Mapping[str, int]  # identity oracle steps, fixed swap pairs, oracle seed
    pairs: tuple[tuple[str, str], ...]  # the grid
    screen: tuple[tuple[str, str], ...]  # screened with Source only and Target only (seed 0)
    # seconds per step by method (every worker busy) and per run (loading data, the last
    # evaluation): the budget's estimate of whether a run still fits (--budget-s)
    step_s: Mapping[str, float]
    run_s: float
    stop_margin_s: float  # a run stops this long before the deadline (its JSON still to write)
    results: Path  # one JSON per run
    doc: Path
    work: Path  # rendered data, run folders, oracles (outside the repository)
    device: str = "auto"  # the trainer's device (auto: a GPU when present)
    bf16: bool = False  # bf16 autocast (CUDA only)
    cuda_graphs: bool = False  # replay D2CA steps from a CUDA graph (CUDA only; same values)
    warmup_steps: int = 0  # D2CA source-AU warm-up steps (0: the paper's objective)
    beta1: float | None = None  # Adam's beta1 for every run (None: TrainConfig's, 0.5)
    update_clip: bool = False  # TrainConfig.update_clip for every run (docs/stability.md)

    @property
    def data(self) -> dict[str, int]:
        """The keyword arguments of :func:`d2ca.data.synth.render_dataset` (besides the seed)."""
        return {
            "subjects": self.subjects,
            "frames_per_subject": self.frames_per_subject,
            "size": self.image_size,
        }

    def model_config(self) -> dict[str, Any]:
        """The ``TrainConfig.model`` overrides: tuples as lists (JSON), and the image size."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in self.model.items()} | {
            "image_size": self.image_size
        }

    def budget(self, method: str) -> dict[str, int]:
        """``{"steps": N}`` or ``{"epochs": N}`` of one method's run."""
        return {"steps": self.steps[method]} if self.steps else {"epochs": self.epochs}

    def tag(self, method: str) -> str:
        """What a run folder's name adds to the run's name: the scale (not for the CPU grid,
        whose folders predate scales), the budget, the warm-up, a non-default batch and P, the
        paper's network on a scale with another, a non-default beta1 and update clipping."""
        (unit, n), = self.budget(method).items()  # fmt: skip
        tag = ("" if self.name == "cpu" else f"{self.name}__") + f"{unit}{n}"
        if self.warmup_steps and method in D2CA_VARIANTS:
            tag += f"__warmup{self.warmup_steps}"
        default = SCALES.get(self.name, self)
        if self.batch != default.batch:
            tag += f"__B{self.batch}"
        if self.sampler_subjects != default.sampler_subjects:
            tag += f"__P{self.sampler_subjects}"
        tag += "__paper-net" if self.model != default.model else ""
        tag += f"__beta1-{self.beta1:g}" if self.beta1 is not None else ""
        return tag + ("__update-clip" if self.update_clip else "")

    def with_options(
        self,
        *,
        steps: int | None = None,
        epochs: int | None = None,
        batch: int | None = None,
        sampler_subjects: int | None = None,
        warmup_steps: int | None = None,
        beta1: float | None = None,
        update_clip: bool | None = None,
        paper_network: bool = False,
        device: str | None = None,
        cuda_graphs: bool | None = None,
        checkpoint_every: int | None = None,
        work: str | Path | None = None,
        results: str | Path | None = None,
    ) -> Scale:
        """This scale with the run options given (None: unchanged); ``steps`` or ``epochs``
        replace every method's budget; ``paper_network`` trains the default network
        (D2CAConfig's, the paper's widths) instead of the scale's."""
        changes: dict[str, Any] = {"model": {}} if paper_network else {}
        if steps:
            changes |= {"steps": dict.fromkeys(METHODS, steps), "epochs": None}
        if epochs:
            changes |= {"steps": None, "epochs": epochs}
        named = {"batch": batch, "sampler_subjects": sampler_subjects, "warmup_steps": warmup_steps,
                 "beta1": beta1, "update_clip": update_clip, "device": device,
                 "cuda_graphs": cuda_graphs,
                 "checkpoint_every": checkpoint_every,
                 "work": work and Path(work), "results": results and Path(results)}  # fmt: skip
        changes |= {k: v for k, v in named.items() if v is not None}
        return dataclasses.replace(self, **changes)


# --- the CPU budget (2 shared cores, about three hours for the whole grid) --------------
CPU = Scale(
    name="cpu",
    image_size=64,
    subjects=60,
    frames_per_subject=30,
    # Narrower than the paper's network so that the grid fits on CPU. The encoders are wider
    # than 0.1.0's grid (8..32 channels), whose Target only stayed below the 60 F1 the
    # benchmark needs (55 at 2000 steps on lab-a); at these widths Target only passes 60
    # within the budget (docs/benchmark-synthetic.md, "Choosing the budget"). The objective is
    # the default one (docs/training.md, marked choices); the 0.1.0 grid, trained with the
    # paper's values of those choices, is in git history (commit 9b9d47b).
    model={
        "enc_widths": (12, 16, 24, 32, 48, 48, 64, 64),
        "dec_widths": (32, 24, 16, 16, 8, 8),
        "dec_aux_channels": 4,
        "disc_widths": (8, 16, 32),
        "proj_hidden": 32,
        "proj_dim": 16,
    },
    batch=16,
    sampler_subjects=4,
    # The baselines are cheap: they train until Source only has plateaued (issue 8's bar for
    # a benchmark that means something). The D2CA variants cost ~40 baseline steps each and
    # get a quarter of those steps; the report compares them with Source only at equal steps.
    steps=dict.fromkeys(METHODS, 2000) | dict.fromkeys(D2CA_VARIANTS, 500),
    epochs=None,
    eval_every=100,  # every run, so that D2CA and Source only are compared at the same steps
    checkpoint_every=None,
    oracle_budget={"steps": 1500},
    oracle={"id_steps": 600, "pairs": 256, "seed": 1000},
    # pairs with a real gap at this budget (see the document). lab-c is the one target besides
    # lab-a that screen_targets.py found learnable with a gap (from lab-b)
    pairs=(("wild", "lab-a"), ("lab-b", "lab-a"), ("social", "lab-a"), ("lab-b", "lab-c")),
    screen=(("lab-a", "wild"), ("lab-a", "lab-b"), ("lab-a", "social")),
    # medians of the grid's own runs (wall time / steps, one thread, both cores busy)
    step_s=dict.fromkeys(METHODS, 0.04)
    | {"dann": 0.072, "d2ca-no-icl-fcl": 0.55, "d2ca-no-fcl": 1.0, "d2ca": 0.95},
    run_s=20.0,
    stop_margin_s=30.0,
    results=REPO / "docs" / "benchmark-synthetic",
    doc=REPO / "docs" / "benchmark-synthetic.md",
    work=Path("/tmp/d2ca-synthau"),
)

# --- the paper's scale on one GPU (issue 18) ---------------------------------------------
PAPER = Scale(
    name="paper",
    image_size=128,
    # 300 subjects x 30 frames per domain: 5,400 training faces of 180 subjects, 43 steps an
    # epoch at batch 128, 2,150 steps in 50 epochs. The CPU grid's baselines see each of its
    # 1,080 training faces (36 subjects) 30 times, its D2CA runs 7 times; here every method
    # sees five times the faces and subjects 50 times. Whether that memorises shows in the
    # screen's curves (Target only's test F1 falling late). Rendering costs about 50 ms of CPU
    # a 128x128 face (45-55 ms measured on a 2-core machine); the H200 machine rendered 3,600
    # faces in 12 s on 16 workers (about 300 faces/s): about 30 s a domain of 9,000 faces
    # there, two minutes for the four screening domains, again in every device call (a domain
    # is about 250 MB of PNGs, too much to carry).
    subjects=300,
    frames_per_subject=30,
    model={},  # the default network (D2CAConfig)
    batch=128,  # the paper's N per domain
    sampler_subjects=8,  # 8 subjects x 16 faces (as benchmarks/gpu/check.sh's real run)
    steps=None,
    epochs=50,  # the paper's; --epochs for a plateau measured earlier (same for every method)
    eval_every=250,  # with --steps; 50 epochs evaluate every 5 (215 steps)
    checkpoint_every=100,  # 15-30 s of a D2CA run on one H200 shared by two or three runs
    oracle_budget={"epochs": 50},  # the AU oracle: a Target only run of its own seed
    oracle={"id_steps": 1500, "pairs": 256, "seed": 1000},
    # the pairs that passed the real-gap test clearly in the screen trained on the CPU at this
    # scale (float32; docs/benchmark-synthetic-paper.md, "Measured on the CPU"): wild -> lab-a
    # (gap +60.8, seeds 0-2), social -> lab-a (+34.7, seeds 0-2), lab-a -> lab-b (+33.6,
    # seeds 0-3). The two pairs of the CPU grid pass or fail the bar of 15 by the seed and are
    # screened again: lab-b -> lab-a (+15.2 over seeds 0-3, at +13.4, +18.6, +18.1 and +10.7)
    # and lab-b -> lab-c (+14.7 over seeds 0-3, at +13.0, +18.4, +15.5 and +11.8). wild and
    # social are not learnable here (Target only 21.0, 19.1 and 13.6; 46.9, 47.9 and 46.3),
    # so lab-a -> wild, the default's own pair, and lab-a -> social are left out. wild -> lab-a
    # keeps a shift of pose, light and camera in the grid
    pairs=(("wild", "lab-a"), ("social", "lab-a"), ("lab-a", "lab-b")),
    screen=(("lab-b", "lab-a"), ("lab-b", "lab-c")),
    # estimates from docs/performance.md (one H200, bf16, batch 128): a bare D2CA step 0.139 s
    # and the real loop 0.23-0.26 s alone; Source only 0.01 s; with two or three runs sharing
    # the GPU. Replace with the paper grid's own wall times once it has some.
    step_s=dict.fromkeys(METHODS, 0.03)
    | dict.fromkeys(D2CA_VARIANTS, 0.3)
    | {"dann": 0.05, "d2ca-no-icl-fcl": 0.2},
    run_s=60.0,
    stop_margin_s=45.0,
    results=REPO / "docs" / "benchmark-synthetic-paper",
    doc=REPO / "docs" / "benchmark-synthetic-paper.md",
    work=Path("/tmp/d2ca-synthau-paper"),
    bf16=True,
)

SCALES = {s.name: s for s in (CPU, PAPER)}
