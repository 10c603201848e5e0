"""The training loop: data, alternating updates, checkpoints, evaluation, final checkpoint.

The loop only orchestrates. The objective lives in :mod:`d2ca.train.objective` (D2CA) and
:mod:`d2ca.train.baselines`; batches come from :mod:`d2ca.train.sampler` through
:mod:`d2ca.train.data`; resumable state from :mod:`d2ca.train.checkpoint`; the run folder's
files and metrics log from :mod:`d2ca.train.run_folder`.
"""

from __future__ import annotations

import dataclasses
import math
import os
import random
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

import d2ca
from d2ca.data.manifest import parse_data_spec, read_manifest
from d2ca.devices import resolve_device
from d2ca.errors import D2CAError, InputError
from d2ca.evaluation import evaluate
from d2ca.hub import save_pretrained
from d2ca.models import D2CAModel
from d2ca.train.baselines import DomainClassifier, dann_loss, grl_coefficient, supervised_loss
from d2ca.train.card import model_card
from d2ca.train.checkpoint import keep_best, latest_checkpoint, load_checkpoint, save_checkpoint
from d2ca.train.config import D2CA_METHODS, TrainConfig
from d2ca.train.data import SplitData, select_aus, split_rows
from d2ca.train.diagnostics import FiniteGuard, feature_spreads, term_gradient_norms
from d2ca.train.graphs import GraphedStep
from d2ca.train.objective import discriminator_loss, generator_loss, rampup, weighted_terms
from d2ca.train.optim import ClippedAdam
from d2ca.train.run_folder import (
    METRICS_NAME,
    check_run_folder,
    init_run_folder,
    truncate_metrics,
    write_record,
)
from d2ca.train.sampler import SubjectBatchSampler, UniformBatchSampler

AGGREGATES = ("deco", "total", "disc")  # sums of other terms, listed last in messages


class TrainingDivergedError(D2CAError):
    """A loss term became NaN or infinite; the last good checkpoint is kept."""


class _Objective(nn.Module):
    """The modules one optimiser trains (what DDP synchronises) and the loss over them."""

    def __init__(self, parts: list[nn.Module], loss_fn: Callable[..., Any]) -> None:
        super().__init__()
        self.parts = nn.ModuleList(parts)
        self.loss_fn = loss_fn

    def forward(self, *args: Any) -> Any:
        return self.loss_fn(*args)


def _set_requires_grad(modules: list[nn.Module], flag: bool) -> None:
    for m in modules:
        for p in m.parameters():
            p.requires_grad_(flag)


def _say(message: str) -> None:
    from tqdm import tqdm

    tqdm.write(message, file=sys.stderr)


class Trainer:
    """One training run of D2CA or a baseline (see :class:`TrainConfig` for the options).

    Builds everything in ``__init__`` (data, model, optimisers; restores the latest
    checkpoint with ``resume``); :meth:`train` runs the loop and writes ``OUT/model``.

    Example:
        >>> cfg = TrainConfig(source="bp4d:data/bp4d", target="disfa:data/disfa", steps=100,
        ...                   out_dir="runs/bp4d-disfa")
        >>> Trainer(cfg).train()  # doctest: +SKIP
        PosixPath('runs/bp4d-disfa/model')
    """

    def __init__(
        self,
        config: TrainConfig,
        *,
        resume: bool = False,
        overwrite: bool = False,
        provenance: dict[str, Any] | None = None,
    ):
        """``provenance``: entries added to the final checkpoint's provenance (``d2ca adapt``)."""
        self.extra_provenance = dict(provenance or {})
        self.rank = dist.get_rank() if dist.is_initialized() else 0
        self.world_size = dist.get_world_size() if dist.is_initialized() else 1
        self.is_main = self.rank == 0
        self.out = Path(config.out_dir)
        fresh_folder = check_run_folder(
            self.out, config, resume=resume, overwrite=overwrite, refuse=self.is_main
        )
        self.config = config
        if config.threads:
            torch.set_num_threads(config.threads)
        self.device = self._device(config.device)
        cuda = self.device.type == "cuda"
        for flag in ("bf16", "compile", "cuda_graphs"):
            if getattr(config, flag) and not cuda:
                option = flag.replace("_", "-")
                self.log(f"warning: --{option} needs CUDA; ignored on {self.device}")
        graphs = cuda and config.cuda_graphs and config.method in D2CA_METHODS
        if graphs and self.world_size > 1:
            self.log("warning: --cuda-graphs needs a single process; ignored under torchrun")
        self.graphs = graphs and self.world_size == 1
        # a captured step must not cache bf16 weight copies across autocast regions
        self.autocast = (
            torch.autocast("cuda", dtype=torch.bfloat16, cache_enabled=not self.graphs)
            if cuda and config.bf16
            else nullcontext()
        )

        # 1. data: shared AUs, splits
        name_s, path_s = parse_data_spec(config.source)
        name_t, path_t = parse_data_spec(config.target)
        m_s, m_t = read_manifest(path_s), read_manifest(path_t)
        self.au_names = select_aus((name_s, m_s), (name_t, m_t))
        self.pair = f"{name_s or path_s.name} -> {name_t or path_t.name}"
        self.log(f"AUs used ({len(self.au_names)}): {', '.join(self.au_names)}")
        m_s, m_t = m_s.with_aus(self.au_names), m_t.with_aus(self.au_names)
        self.source_train = split_rows(m_s, "train", "source", self.log)
        self.source_val = m_s.split("val") if "split" in (m_s.rows or [{}])[0] else None
        self.target_train = split_rows(m_t, "train", "target", self.log)
        self.target_test = split_rows(m_t, "test", "target", self.log)
        if not len(self.target_test):
            self.log("target: no test rows, so no held-out evaluation")
        method = config.method
        if method == "target-only" and not (self.target_train.labels >= 0).any():
            raise InputError("target-only needs target labels; the target train split has none")

        # 2. model and optimisers (same seed on every process: identical initialisation)
        random.seed(config.seed)
        np.random.seed(config.seed)
        torch.manual_seed(config.seed)
        self.model_config = config.model_config(self.au_names)
        self.model = D2CAModel(self.model_config).to(self.device).train()
        self.memory_format = (
            torch.channels_last if config.channels_last else torch.contiguous_format
        )
        self.model.to(memory_format=self.memory_format)
        self.modules: dict[str, nn.Module] = {"model": self.model}
        # L_au^t's ramp-up weight, on the device: a captured step reads it from there
        self.au_t_scale = torch.ones((), device=self.device)
        self._build_objectives()
        self.graphed = GraphedStep(self._step) if self.graphs else None
        if self.rank:  # dropout differs between processes
            torch.manual_seed(config.seed + 1_000_003 * self.rank)

        # 3. batches
        cache, workers = config.cache_images, config.num_workers
        kw = {
            "device": self.device,
            "cache": cache,
            "num_workers": workers,
            "memory_format": self.memory_format,
        }
        shard = {"seed": config.seed, "rank": self.rank, "world_size": self.world_size}
        self.main_data = SplitData(
            self.target_train if method == "target-only" else self.source_train,
            self.model_config,
            **kw,
        )
        if method in D2CA_METHODS:
            self.main_sampler = SubjectBatchSampler(
                self.main_data.subject_ids.cpu().numpy(),
                config.subjects,
                config.images_per_subject,
                **shard,
            )
        else:
            self.main_sampler = UniformBatchSampler(len(self.main_data), config.batch_size, **shard)
        self.target_data = self.target_sampler = None
        if method in (*D2CA_METHODS, "dann"):
            self.target_data = SplitData(self.target_train, self.model_config, **kw)
            self.target_sampler = UniformBatchSampler(
                len(self.target_data), config.batch_size, **{**shard, "seed": config.seed + 1}
            )
        per_step = config.batch_size * self.world_size
        self.steps_per_epoch = max(1, math.ceil(len(self.main_data) / per_step))
        self.total_steps = config.steps or config.epochs * self.steps_per_epoch
        self.eval_every = config.eval_every or self.steps_per_epoch

        # 4. the run folder, written only now that the data and options proved usable
        if fresh_folder and self.is_main:
            init_run_folder(self.out, config, overwrite=overwrite and not resume)
        if dist.is_initialized():
            dist.barrier()
        self.step = 0
        self.diagnosing = False
        self.diagnostics: dict[str, Any] | None = None
        self.last_eval: dict[str, Any] = {}
        # select="source-val": step, avg_f1, eval and weights (on the CPU) of the best evaluation
        self.best: dict[str, Any] = {}
        ckpt = latest_checkpoint(self.out / "checkpoints") if resume else None
        if ckpt is not None:
            self.step, extra = load_checkpoint(ckpt, self.modules, self.optimizers)
            self.last_eval = extra.get("eval", {})
            self.best = extra.get("best", {})
            if self.rank:
                torch.manual_seed(config.seed + 1_000_003 * self.rank + self.step)
            self.log(f"resumed from {ckpt} (step {self.step})")
            if self.is_main:
                truncate_metrics(self.out, self.step)
        elif resume:
            self.log(f"no checkpoint in {self.out / 'checkpoints'}: starting from step 0")

    # ------------------------------------------------------------------ setup helpers
    def log(self, message: str) -> None:
        if self.is_main:
            _say(message)

    def _device(self, name: str) -> torch.device:
        """``name`` resolved (``auto``: a GPU when present); under torchrun, this process's GPU."""
        device = resolve_device(name)
        if device.type == "cuda":
            if self.world_size > 1:  # one GPU per process, chosen by torchrun
                device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", self.rank)))
            torch.cuda.set_device(device)
            # fixed shapes every step: let cuDNN time its convolution algorithms once
            torch.backends.cudnn.benchmark = True
        return device

    def _build_objectives(self) -> None:
        """One ``_Objective`` (and Adam) per alternating update; DDP-wrapped when distributed."""
        model, cfg, tc = self.model, self.model_config, self.config
        method = tc.method
        adam = {"lr": tc.lr, "betas": tc.betas}
        self.discriminators = [model.disc_s, model.disc_t]
        if method in D2CA_METHODS:
            parts = [model.e_au, model.e_dm_s, model.e_dm_t, model.decoder, model.classifier]
            if cfg.use_icl:
                parts.append(model.proj)
            objectives = {
                "generator": _Objective(
                    parts,
                    lambda x_s, z_s, ids, x_t: generator_loss(
                        model,
                        x_s,
                        z_s,
                        ids,
                        x_t,
                        cfg,
                        keep_graph=self.diagnosing,
                        au_t_weight=self.au_t_scale,
                    ),
                ),
                "discriminator": _Objective(
                    self.discriminators,
                    lambda x_s, x_t, sw: discriminator_loss(model, x_s, x_t, sw),
                ),
            }
            if tc.warmup_steps:
                objectives["warmup"] = _Objective(
                    [model.e_au, model.classifier], lambda x, z: supervised_loss(model, x, z)
                )
        elif method == "dann":
            self.domain_head = DomainClassifier(cfg).to(self.device)
            self.modules["domain_head"] = self.domain_head
            objectives = {
                "generator": _Objective(
                    [model.e_au, model.classifier, self.domain_head],
                    lambda x_s, z_s, x_t, c: dann_loss(model, self.domain_head, x_s, z_s, x_t, c),
                )
            }
        else:
            objectives = {
                "generator": _Objective(
                    [model.e_au, model.classifier], lambda x, z: supervised_loss(model, x, z)
                )
            }
        fused = self.device.type == "cuda"  # one kernel per update instead of one per tensor
        adam_cls = ClippedAdam if tc.update_clip else torch.optim.Adam
        self.optimizers = {
            name: adam_cls(obj.parameters(), **adam, fused=fused, capturable=self.graphs)
            for name, obj in objectives.items()
        }
        if tc.compile and self.device.type == "cuda":
            for part in {id(p): p for obj in objectives.values() for p in obj.parts}.values():
                part.compile()
        if self.world_size > 1:
            import inspect

            from torch.nn.parallel import DistributedDataParallel as DDP

            ids = [self.device.index] if self.device.type == "cuda" else None
            # BN statistics stay per process (no buffer sync each forward); rank 0 saves.
            # torch >= 2.14 renames broadcast_buffers to forward_sync_buffers.
            no_sync = (
                {"forward_sync_buffers": False}
                if "forward_sync_buffers" in inspect.signature(DDP).parameters
                else {"broadcast_buffers": False}
            )
            objectives = {n: DDP(o, device_ids=ids, **no_sync) for n, o in objectives.items()}
        self.objectives = objectives

    # ------------------------------------------------------------------ the loop
    def _batches(self) -> Iterator[tuple[torch.Tensor, ...]]:
        main = self.main_data.batches(self.main_sampler, self.step)
        if self.target_data is None:
            yield from main
            return
        target = self.target_data.batches(self.target_sampler, self.step)
        for (x_s, z_s, ids), (x_t, _, _) in zip(main, target, strict=True):
            yield x_s, z_s, ids, x_t

    def train_step(self, batch: tuple[torch.Tensor, ...]) -> dict[str, torch.Tensor]:
        """One optimisation step (both alternating updates for D2CA); returns the terms.

        With ``cuda_graphs``, every step of the full D2CA objective that is not a
        diagnostics step is a replay of one captured graph (:mod:`d2ca.train.graphs`).
        """
        every = self.config.diagnose_every
        self.diagnosing = bool(every) and self.step % every == 0 and self.world_size == 1
        self.au_t_scale.fill_(self.au_t_weight)
        full = self.step >= self.config.warmup_steps  # the full objective, not the warm-up
        if self.graphed is not None and full and not self.diagnosing:
            return self.graphed(batch)
        return self._step(batch)

    def _step(self, batch: tuple[torch.Tensor, ...]) -> dict[str, torch.Tensor]:
        terms, swaps = self.generator_update(batch)
        if swaps is not None:
            terms = {**terms, **self.discriminator_update(batch, swaps)}
        return terms

    def generator_update(self, batch: tuple[torch.Tensor, ...]) -> tuple[dict, Any]:
        """The encoder/decoder/classifier/projection update (the only update of baselines).

        Every ``diagnose_every`` steps it also measures, on the same forward pass, each
        term's gradient on the encoders and the spread of the features (kept in
        :attr:`diagnostics` for the metrics log).

        Returns:
            ``(terms, swaps)``; ``swaps`` (D2CA only, else None) feed the discriminator update.
        """
        method, name = self.config.method, "generator"
        swaps = None
        if method in D2CA_METHODS and self.step < self.config.warmup_steps:
            method = name = "warmup"  # the source AU loss alone; no discriminator update
            args = batch[:2]
        elif method in D2CA_METHODS:
            _set_requires_grad(self.discriminators, False)  # this update never changes D
            args = batch
        elif method == "dann":
            x_s, z_s, _, x_t = batch
            args = (x_s, z_s, x_t, grl_coefficient(self.step / self.total_steps))
        else:
            args = batch[:2]
        with self.autocast:
            loss, terms, extra = self.objectives[name](*args)
        if self.diagnosing:
            self.diagnostics = self._diagnose(method, loss, terms, extra)
            terms = {k: v.detach() for k, v in terms.items()}
        opt = self.optimizers[name]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if method in D2CA_METHODS:
            _set_requires_grad(self.discriminators, True)
            swaps = extra
        return terms, swaps

    @property
    def au_t_weight(self) -> float:
        """The ramp-up of L_au^t, counted from the first step of the full objective."""
        tc = self.config
        return rampup(max(0, self.step - tc.warmup_steps), tc.au_t_rampup)

    def _diagnose(self, method: str, loss: torch.Tensor, terms: dict, extra: Any) -> dict:
        """Per-term gradient norms on E_au, the domain encoders and G; feature spreads."""
        model = self.model
        if method in D2CA_METHODS:
            weighted = weighted_terms(terms, self.model_config, self.au_t_weight)
            groups = {
                "e_au": [model.e_au],
                "e_dm": [model.e_dm_s, model.e_dm_t],
                "g": [model.decoder],
            }
            features = {k: getattr(extra, k) for k in ("a_s", "a_t", "d_s", "d_t", "logits_s")}
        else:
            weighted = {"au": loss}
            groups = {"e_au": [model.e_au]}
            features = extra
        return {
            "kind": "diagnostics",
            "step": self.step + 1,  # the step this update completes, as in the train lines
            "grad_norm": term_gradient_norms(weighted, groups),
            "spread": feature_spreads(features),
        }

    def discriminator_update(self, batch: tuple[torch.Tensor, ...], swaps: Any) -> dict:
        """Eq. 8, discriminator side, on the faces the generator update synthesised."""
        x_s, _, _, x_t = batch
        with self.autocast:
            loss, terms = self.objectives["discriminator"](x_s, x_t, swaps)
        opt = self.optimizers["discriminator"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return terms

    def train(self, until: int | None = None) -> Path | None:
        """Train up to step ``until`` (default: the end); at the end write ``OUT/model``.

        Returns:
            The final checkpoint folder, or None when stopped early by ``until`` (or on a
            process other than rank 0).

        Raises:
            TrainingDivergedError: a loss term is NaN or infinite (the last checkpoint stays).
        """
        stop = min(until or self.total_steps, self.total_steps)
        if self.step < stop:
            self._loop(stop)
        if self.step < self.total_steps:
            return None
        return self._finish()

    def _loop(self, stop: int) -> None:
        from tqdm import tqdm

        tc = self.config
        bar = tqdm(
            total=self.total_steps,
            initial=self.step,
            file=sys.stderr,
            dynamic_ncols=True,
            disable=not (self.is_main and tc.progress),
            desc=tc.method,
        )
        metrics = (self.out / METRICS_NAME).open("a") if self.is_main else None
        names: list[str] | None = None
        acc: torch.Tensor | None = None
        guard = FiniteGuard()
        count, t_log = 0, time.perf_counter()
        try:
            for batch in self._batches():
                terms = self.train_step(batch)
                self.step += 1
                if self.diagnostics is not None:
                    write_record(metrics, self.diagnostics)
                    self.diagnostics = None
                values = torch.stack([v.float() for v in terms.values()])
                guard.update(self.step, terms, values)
                if acc is None:
                    names = list(terms)
                acc = values if acc is None else acc + values
                count += 1
                bar.update(1)
                # a log line closes at the end of the warm-up too: the terms change there
                log = self.step % tc.log_every == 0 or self.step in (stop, tc.warmup_steps)
                evaluate = self.step % self.eval_every == 0 or self.step == self.total_steps
                checkpoint = self.step % tc.checkpoint_every == 0 or self.step == stop
                if log or evaluate or checkpoint:
                    self._check_finite(guard)
                if log:
                    now = time.perf_counter()
                    means = dict(zip(names, (acc / count).tolist(), strict=True))
                    bar.set_postfix(
                        {
                            k: f"{v:.3g}"
                            for k, v in means.items()
                            if k not in ("deco", "disc_s", "disc_t")
                        },
                        refresh=False,
                    )
                    write_record(
                        metrics,
                        {
                            "kind": "train",
                            "step": self.step,
                            "epoch": self._epoch(),
                            "steps_per_s": round(count / (now - t_log), 4),
                            "loss": means,
                        },
                    )
                    acc, count, t_log = None, 0, now
                if evaluate:
                    self._evaluate(metrics)
                if checkpoint:
                    self._checkpoint()
                if self.step >= stop:
                    break
        finally:
            bar.close()
            if metrics is not None:
                metrics.close()

    def _epoch(self) -> float:
        return round(self.step / self.steps_per_epoch, 4)

    def _check_finite(self, guard: FiniteGuard) -> None:
        """Stop, keeping the last good checkpoint, if a loss term was not finite."""
        found = guard.first_bad()
        if found is None:
            return
        step, bad = found
        first = next((k for k in bad if k not in AGGREGATES), bad[0])
        last = latest_checkpoint(self.out / "checkpoints")
        kept = f"; the last good checkpoint is {last}" if last else "; no checkpoint was written"
        raise TrainingDivergedError(
            f"loss term {first!r} is not finite at step {step} (non-finite: {', '.join(bad)}){kept}"
        )

    def _evaluate(self, metrics: Any = None) -> dict[str, Any]:
        """Per-AU F1 on the held-out target split and the source validation split (rank 0)."""
        if not self.is_main:
            return {}
        result = {}
        kw = {
            "au_names": self.au_names,
            "batch_size": self.config.eval_batch_size,
            "device": self.device,
        }
        for key, manifest in (("target_test", self.target_test), ("source_val", self.source_val)):
            if manifest is not None and len(manifest):
                result[key] = evaluate(self.model, manifest, **kw)
        self.last_eval = {"step": self.step, **result}
        if self.config.select == "source-val":
            self.best = keep_best(self.best, self.last_eval, self.model)
        write_record(metrics, {"kind": "eval", "step": self.step, "epoch": self._epoch(), **result})
        summary = ", ".join(f"{k} avg F1 {100 * v['avg_f1']:.1f}" for k, v in result.items())
        self.log(f"step {self.step}: {summary}")
        return result

    def _checkpoint(self) -> None:
        if self.is_main:
            extra = {"eval": self.last_eval, **({"best": self.best} if self.best else {})}
            save_checkpoint(
                self.out / "checkpoints", self.step, self.modules, self.optimizers, extra
            )

    def _finish(self) -> Path | None:
        if not self.is_main:
            return None
        if self.last_eval.get("step") != self.step:
            self._evaluate()
        tc = self.config
        chosen = self.last_eval
        if tc.select == "source-val" and not self.best:
            self.log("no source validation F1 to select by: writing the last step's weights")
        elif tc.select == "source-val":
            chosen = self.best["eval"]
            self.model.load_state_dict(self.best["state"])
            self.log(
                f"writing the weights of step {self.best['step']} (best source-validation avg "
                f"F1 {100 * self.best['avg_f1']:.1f}; the last step's is "
                f"{100 * self.last_eval['source_val']['avg_f1']:.1f})"
            )
        final = {k: v for k, v in chosen.items() if k != "step"}
        provenance = {
            "source": tc.source,
            "target": tc.target,
            "pair": self.pair,
            "aus": list(self.au_names),
            "method": tc.method,
            "steps": self.step,
            "epochs": self._epoch(),
            "selected_step": chosen["step"],
            "seed": tc.seed,
            "d2ca_version": d2ca.__version__,
            "metrics": final,
            "train_config": tc.to_dict(),
            **self.extra_provenance,
        }
        self.model.config = dataclasses.replace(self.model_config, provenance=provenance)
        card = model_card(self.model.config, tc, final)
        folder = save_pretrained(self.model, self.out / "model", overwrite=True, card=card)
        self.log(f"wrote {folder}")
        return folder


def train(config: TrainConfig, *, resume: bool = False, overwrite: bool = False) -> Path | None:
    """Train with ``config`` and return the final checkpoint folder (``OUT/model``).

    Example:
        >>> train(TrainConfig(source="bp4d:b", target="disfa:d", steps=10))  # doctest: +SKIP
    """
    return Trainer(config, resume=resume, overwrite=overwrite).train()
