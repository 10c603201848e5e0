"""DDP: two gloo processes on CPU end with identical weights, equal to one process that
averages the gradients of the same two shards."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from safetensors.torch import load_file, save_file
from test_train import TINY, make_domain

from d2ca.train import TrainConfig, Trainer
from d2ca.train.objective import discriminator_loss, generator_loss, rampup
from d2ca.train.sampler import SubjectBatchSampler, UniformBatchSampler

STEPS = 3


def _worker(rank: int, world: int, init: str, cfg: dict, out: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init}", rank=rank, world_size=world)
    try:
        trainer = Trainer(TrainConfig.from_dict(cfg))
        trainer.train()
        weights = {k: v.detach().contiguous() for k, v in trainer.model.named_parameters()}
        save_file(weights, f"{out}/rank{rank}.safetensors")
    finally:
        dist.destroy_process_group()


def _single_process_reference(cfg: TrainConfig) -> dict[str, torch.Tensor]:
    """What DDP computes: per-shard losses (own BN statistics and dropout stream), the
    gradients averaged, one Adam step; for the generator and then the discriminators."""
    trainer = Trainer(cfg)
    model, mcfg = trainer.model, trainer.model_config
    rng = [torch.get_rng_state(), torch.manual_seed(cfg.seed + 1_000_003).get_state()]
    shards = []
    for r in (0, 1):
        kw = {"seed": cfg.seed, "rank": r, "world_size": 2}
        s = SubjectBatchSampler(
            trainer.main_data.subject_ids.numpy(), cfg.subjects, cfg.images_per_subject, **kw
        )
        t = UniformBatchSampler(
            len(trainer.target_data), cfg.batch_size, **{**kw, "seed": cfg.seed + 1}
        )
        shards.append(
            zip(trainer.main_data.batches(s, 0), trainer.target_data.batches(t, 0), strict=True)
        )
    opt_g, opt_d = trainer.optimizers["generator"], trainer.optimizers["discriminator"]
    for step in range(STEPS):
        batches = [next(s) for s in shards]
        opt_g.zero_grad(set_to_none=True)
        for p in model.discriminator_parameters():
            p.requires_grad_(False)
        swaps = []
        for r, ((x_s, z_s, ids), (x_t, _, _)) in enumerate(batches):
            torch.set_rng_state(rng[r])
            weight = rampup(step, cfg.au_t_rampup)
            loss, _, sw = generator_loss(model, x_s, z_s, ids, x_t, mcfg, au_t_weight=weight)
            rng[r] = torch.get_rng_state()
            (loss / 2).backward()
            swaps.append(sw)
        opt_g.step()
        for p in model.discriminator_parameters():
            p.requires_grad_(True)
        opt_d.zero_grad(set_to_none=True)
        for ((x_s, _, _), (x_t, _, _)), sw in zip(batches, swaps, strict=True):
            (discriminator_loss(model, x_s, x_t, sw)[0] / 2).backward()
        opt_d.step()
    return {k: v.detach() for k, v in model.named_parameters()}


def test_two_gloo_processes_match_each_other_and_one_process(tmp_path: Path):
    src = make_domain(tmp_path / "src", seed=0, tint=0)
    tgt = make_domain(tmp_path / "tgt", seed=1, tint=50)
    cfg = TrainConfig(
        source=str(src),
        target=str(tgt),
        steps=STEPS,
        batch_size=4,
        subjects=2,
        model=TINY,
        out_dir=str(tmp_path / "ddp"),
        progress=False,
        threads=1,
        device="cpu",  # gloo on the CPU; NCCL on a GPU: test_cuda.py
    )
    mp.spawn(
        _worker, args=(2, str(tmp_path / "init"), cfg.to_dict(), str(tmp_path)), nprocs=2, join=True
    )
    w0 = load_file(str(tmp_path / "rank0.safetensors"))
    w1 = load_file(str(tmp_path / "rank1.safetensors"))
    assert all(torch.equal(w0[k], w1[k]) for k in w0), "ranks diverged"
    assert (tmp_path / "ddp" / "model" / "model.safetensors").is_file()  # written by rank 0

    torch.set_num_threads(1)
    ref = _single_process_reference(dataclasses.replace(cfg, out_dir=str(tmp_path / "one")))
    for k, v in ref.items():
        torch.testing.assert_close(w0[k], v, rtol=1e-4, atol=1e-5, msg=k)
