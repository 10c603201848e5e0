"""Issue 18, part 3: what Adam does when a memorised source's ``L_au^s`` spikes.

docs/stability.md reproduces issue 18's spike on the CPU with a small source
(SynthAU ``lab-b``, 10 subjects x 20 frames, 64x64, 120 training faces) and the grid's narrow
network. Source only spikes there too, at about 50 steps a second, so the AU path (``E_au``
and ``C``, the only parameters ``L_au^s`` trains) can be watched closely. Every ``--every``
steps this script stops the run (the same run: batches are drawn by step, and the readings
touch neither the random state nor the batch norms' statistics) and reads, on all the
source's training faces in chunks of the batch size (each chunk normalised by its own
statistics, as in training; one dropout mask per reading):

* ``loss`` and the gradient's RMS;
* Adam's state: the RMS and largest coordinate of the step Adam just took, in units of lr
  (``m_hat / (sqrt(v_hat) + eps)``; with ``update-clip``, before the clipping), the share
  of coordinates past 1 lr, and the share whose current gradient exceeds 3 ``sqrt(v_hat)``:
  a second moment left small by a quiet past;
* the sharpness ``lambda(H)``, the largest eigenvalue of the loss's Hessian, and the
  preconditioned sharpness ``lambda(P^-1 H)`` with Adam's preconditioner ``P = diag(sqrt(v_hat)
  + eps)``, by power iteration, beside the stability threshold of Adam with momentum
  ``beta1`` and learning rate ``lr``, ``(2 + 2 beta1) / ((1 - beta1) lr)`` (Cohen et al.,
  "Adaptive gradient methods at the edge of stability", 2022): 6/lr for beta1 0.5, 38/lr for
  0.9. Past it, the step diverges along the top eigenvector; and which parameter tensors
  that eigenvector lives in.

With ``--window A B`` it also reads at every step from A to B, and then gives the gradient
of the batch of the step just taken (recovered from the change of Adam's first moment) over
``sqrt(v_hat)`` before it.

Variants change one suspect each: ``beta1-0.9`` (threshold 38/lr), ``beta2-0.99`` (a second
moment that follows the gradient ten times faster), ``lr-5e-4`` (the threshold doubled),
``eps-1e-6`` (set on the optimiser: the library has no option for it) and ``update-clip``
(``TrainConfig.update_clip``: each tensor's step divided by ``max(1, RMS(g^2 / v_hat))``).
One JSON per run (variant, method, seed) in ``--out``, whose runs are skipped; the run
folders go to ``--runs``. docs/stability.md gives the commands of its tables, and::

    python benchmarks/adam_spike.py --out docs/training/adam-spike --report

prints them from the committed JSONs (``steps/`` and ``variants/``).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent / "synthau"))
from run_table import au_loss_log, au_loss_rise  # noqa: E402
from scales import CPU  # noqa: E402

from d2ca.data.synth import render_dataset  # noqa: E402
from d2ca.io import atomic_path  # noqa: E402
from d2ca.models import to_model_input  # noqa: E402
from d2ca.train import TrainConfig  # noqa: E402
from d2ca.train.baselines import supervised_loss  # noqa: E402
from d2ca.train.trainer import Trainer  # noqa: E402

RENDER = {"lab-b": 77, "lab-a": 78}  # docs/stability.md's spike data: render seeds
VARIANTS: dict[str, dict] = {
    "default": {},
    "beta1-0.9": {"betas": (0.9, 0.999)},
    "beta2-0.99": {"betas": (0.5, 0.99)},
    "lr-5e-4": {"lr": 5e-4},
    "eps-1e-6": {"eps": 1e-6},  # not a TrainConfig field: set on the optimisers by run()
    "update-clip": {"update_clip": True},  # d2ca.train.optim.ClippedAdam
}


def threshold(beta1: float, lr: float) -> float:
    """Adam's stability threshold on the preconditioned sharpness (Cohen et al., 2022)."""
    return (2 + 2 * beta1) / ((1 - beta1) * lr)


def probe_batches(trainer: Trainer) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Every source training face, in chunks of the batch size (a fixed shuffled order)."""
    data, size = trainer.main_data, trainer.config.batch_size
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(0))
    return [
        (to_model_input(data.images[i], data.config), data.labels[i])
        for i in order.split(size)
        if len(i) == size
    ]


def _dot(a: list[torch.Tensor], b: list[torch.Tensor]) -> float:
    return float(sum((x * y).sum() for x, y in zip(a, b, strict=True)))


def _power(hvp, scale: list[torch.Tensor], start: list[torch.Tensor], iters: int) -> tuple:
    """Largest eigenvalue of ``S H S`` (``S`` diagonal, ``scale``) and its eigenvector, by
    power iteration from ``start`` (the last reading's eigenvector: fewer iterations)."""
    u = start
    norm = math.sqrt(_dot(u, u))
    u = [x / norm for x in u]
    lam = prev = 0.0
    for _ in range(iters):
        su = hvp([s * x for s, x in zip(scale, u, strict=True)])
        su = [s * x for s, x in zip(scale, su, strict=True)]
        prev, lam = lam, _dot(u, su)
        norm = math.sqrt(_dot(su, su))
        u = [x / norm for x in su]
    return lam, abs(lam - prev) / max(abs(lam), 1e-12), u


def moments(opt: torch.optim.Optimizer, params: list[torch.Tensor]) -> list[torch.Tensor]:
    """Adam's first moments (``exp_avg``) of ``params``."""
    return [opt.state[p]["exp_avg"] for p in params]


def measure(trainer: Trainer, batches: list, iters: int, vectors: dict) -> dict:
    """The readings at the trainer's current step (see the module's docstring); ``vectors``
    keeps the top eigenvectors from one reading to the next."""
    model = trainer.model
    named = [(f"e_au.{n}", p) for n, p in model.e_au.named_parameters()]
    named += [(f"classifier.{n}", p) for n, p in model.classifier.named_parameters()]
    params = [p for _, p in named]
    opt = next(o for o in trainer.optimizers.values() if params[0] in o.state)
    group = opt.param_groups[0]
    (b1, b2), eps, lr = group["betas"], group["eps"], group["lr"]
    buffers = [b.clone() for m in (model.e_au, model.classifier) for b in m.buffers()]
    with torch.random.fork_rng():
        torch.manual_seed(0)
        loss = sum(supervised_loss(model, x, z)[0] for x, z in batches) / len(batches)
        grads = torch.autograd.grad(loss, params, create_graph=True)

    def hvp(v: list[torch.Tensor]) -> list[torch.Tensor]:
        return [h.detach() for h in torch.autograd.grad(grads, params, v, retain_graph=True)]

    g = [x.detach() for x in grads]
    root_v, update = [], []
    for p in params:
        state = opt.state[p]
        t = float(state["step"])
        rv = (state["exp_avg_sq"] / (1 - b2**t)).sqrt()
        root_v.append(rv)
        update.append(state["exp_avg"] / (1 - b1**t) / (rv + eps))
    batch = {}
    if vectors.get("step") == trainer.step - 1:  # the last batch's gradient, from m's change
        pairs = zip(moments(opt, params), vectors["m"], vectors["rv"], strict=True)
        g_b = [((m - b1 * m_prev) / (1 - b1), rv) for m, m_prev, rv in pairs]
        flat_b = torch.cat([x.flatten() for x, _ in g_b])
        ratio = torch.cat([(x / (rv + eps)).flatten() for x, rv in g_b]).abs()
        batch = {
            "batch_grad_rms": float(flat_b.square().mean().sqrt()),
            "share_batch_grad_over_3rootv": float((ratio > 3).float().mean()),
            "batch_grad_over_rootv_p99": float(ratio.quantile(0.99)),
        }
    vectors.update(step=trainer.step, m=[x.clone() for x in moments(opt, params)], rv=root_v)
    flat_u = torch.cat([u.flatten() for u in update]).abs()
    flat_g = torch.cat([x.flatten() for x in g]).abs()
    flat_rv = torch.cat([x.flatten() for x in root_v])
    pre = [(rv + eps).rsqrt() for rv in root_v]
    if "p" not in vectors:
        gen = torch.Generator().manual_seed(1)
        vectors.update({k: [torch.randn(p.shape, generator=gen) for p in params] for k in "hp"})
    lam_p, conv_p, vectors["p"] = _power(hvp, pre, vectors["p"], iters)
    ones = [torch.ones_like(p) for p in params]
    lam_h, conv_h, vectors["h"] = _power(hvp, ones, vectors["h"], iters)
    # the graph holds the batch norms' statistics: restored once it is no longer used
    for b, saved in zip((b for m in (model.e_au, model.classifier) for b in m.buffers()),
                        buffers, strict=True):  # fmt: skip
        b.copy_(saved)
    mass = {n: float((x * x).sum()) for (n, _), x in zip(named, vectors["p"], strict=True)}
    top = sorted(mass.items(), key=lambda kv: -kv[1])[:3]
    return {
        "step": trainer.step,
        "loss": round(loss.item(), 6),
        "grad_rms": float(flat_g.square().mean().sqrt()),
        "update_rms_lr": float(flat_u.square().mean().sqrt()),
        "update_max_lr": float(flat_u.max()),
        "share_update_over_1lr": float((flat_u > 1).float().mean()),
        "share_grad_over_3rootv": float((flat_g > 3 * flat_rv).float().mean()),
        "lambda_h": lam_h,
        "lambda_p": lam_p,
        "lambda_p_over_threshold": lam_p / threshold(b1, lr),
        "power_rel_change": [round(conv_h, 4), round(conv_p, 4)],
        "top_eigvec_mass": [[n, round(m, 3)] for n, m in top],
        **batch,
    }


def spike_config(folder: Path, data: Path, variant: str, method: str, seed: int,
                 steps: int) -> TrainConfig:  # fmt: skip
    """docs/stability.md's spike run with ``variant``'s TrainConfig changes."""
    change = {k: v for k, v in VARIANTS[variant].items() if k != "eps"}
    return TrainConfig(
        source=f"synthau:{data / 'lab-b'}", target=f"synthau:{data / 'lab-a'}",
        method=method, model=CPU.model_config(), batch_size=16, subjects=4,
        steps=steps, seed=seed, eval_every=100, log_every=10, diagnose_every=10,
        checkpoint_every=steps, device="cpu", threads=1, progress=False, out_dir=str(folder),
        **change,
    )  # fmt: skip


def run(runs: Path, data: Path, variant: str, method: str, seed: int, steps: int, every: int,
        iters: int, window: range = range(0)) -> dict:  # fmt: skip
    """One run of ``variant``, read every ``every`` steps and at every step of ``window``."""
    folder = runs / f"{variant}__{method}__s{seed}"
    config = spike_config(folder, data, variant, method, seed, steps)
    trainer = Trainer(config, overwrite=True)
    if "eps" in VARIANTS[variant]:
        for opt in trainer.optimizers.values():
            for group in opt.param_groups:
                group["eps"] = VARIANTS[variant]["eps"]
    batches = probe_batches(trainer)
    readings, vectors, t0 = [], {}, time.time()
    for stop in sorted({*range(every, steps + 1, every), *window}):
        trainer.train(until=stop)
        readings.append(measure(trainer, batches, iters, vectors))
    group = trainer.optimizers["generator"].param_groups[0]
    return {
        "variant": variant,
        "method": method,
        "seed": seed,
        "config": config.to_dict(),
        "adam_eps": group["eps"],
        "threshold": threshold(group["betas"][0], config.lr),
        "au_loss_rise": round(au_loss_rise(folder), 2),
        "au_loss": au_loss_log(folder),
        "readings": readings,
        "wall_s": round(time.time() - t0, 1),
    }


def window_table(result: dict, before: int = 6, after: int = 6) -> str:
    """The readings at every step around the first at which ``lambda(P^-1 H)`` passes Adam's
    threshold (readings one step apart, so that the last batch's gradient is known)."""
    rows = [r for r in result["readings"] if "batch_grad_rms" in r]
    first = next(i for i, r in enumerate(rows) if r["lambda_p_over_threshold"] >= 1)
    lines = [
        "| step | L_au^s on the training faces | last batch's gradient / sqrt(v), 99th "
        "percentile | Adam's step, RMS (lr) | largest (lr) | coordinates past 1 lr | "
        "lambda(H) | lambda(P^-1 H) / threshold |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows[max(0, first - before) : first + after + 1]:
        lines.append(
            f"| {r['step']} | {r['loss']:.4f} | {r['batch_grad_over_rootv_p99']:.2f} | "
            f"{r['update_rms_lr']:.2f} | {r['update_max_lr']:.1f} | "
            f"{100 * r['share_update_over_1lr']:.1f} % | {r['lambda_h']:.1f} | "
            f"{r['lambda_p_over_threshold']:.2f} |"
        )
    return "\n".join(lines)


def first_spike(au_loss: list, after: int = 100, factor: float = 10.0, span: int = 100):
    """``(step, low, peak)``: the first logged step after ``after`` at which ``L_au^s`` exceeds
    ``factor`` times its lowest earlier value, that value, and the highest logged in the
    ``span`` steps from there; None if it never does."""
    low = float("inf")
    for step, value in au_loss:
        if step > after and value > factor * low:
            peak = max(v for s, v in au_loss if step <= s < step + span)
            return step, low, peak
        low = min(low, value)
    return None


def variants_table(results: list[dict], early: int = 300) -> str:
    """One row per method and variant: Adam's threshold, the steps, how many seeds spike
    (``first_spike``), each seed's first spike (step: from the low to the peak), and the mean
    ``L_au^s`` logged at step ``early`` and at the last step."""
    lines = [
        f"| method | variant | threshold | steps | seeds | spikes | first spike, per seed (step: "
        f"L_au^s from → to) | L_au^s at step {early}, mean | at the last step, mean |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    methods = sorted({r["method"] for r in results}, key=lambda m: m != "source-only")
    for method, name in ((m, v) for m in methods for v in VARIANTS):
        runs = [r for r in results if (r["method"], r["variant"]) == (method, name)]
        if not runs:
            continue
        runs.sort(key=lambda r: r["seed"])
        spikes = [first_spike(r["au_loss"]) for r in runs]
        cells = [f"{s[0]}: {s[1]:.4f} → {s[2]:.3f}" if s else "none" for s in spikes]
        lines.append(
            f"| {method} | {name} | {runs[0]['threshold']:.0f} | {runs[0]['au_loss'][-1][0]} | "
            f"{len(runs)} | {sum(s is not None for s in spikes)} of {len(runs)} | "
            f"{'; '.join(cells)} | "
            f"{statistics.fmean(dict(r['au_loss'])[early] for r in runs):.4f} | "
            f"{statistics.fmean(r['au_loss'][-1][1] for r in runs):.4f} |"
        )
    return "\n".join(lines)


def report(folder: Path) -> str:
    """docs/stability.md's tables from the JSONs in ``folder`` (``steps/``, ``variants/``)."""
    load = lambda sub: [json.loads(p.read_text()) for p in sorted((folder / sub).glob("*.json"))]  # noqa: E731
    parts = [f"{r['method']}, seed {r['seed']}:\n\n{window_table(r)}" for r in load("steps")]
    return "\n\n".join([*parts, variants_table(load("variants"))]) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--data", type=Path, help="rendered here if missing")
    parser.add_argument("--runs", type=Path, default=Path("runs/adam-spike"))
    parser.add_argument("--report", action="store_true", help="print the tables of OUT's JSONs")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument("--methods", nargs="+", default=["source-only"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--every", type=int, default=20, help="steps between readings")
    parser.add_argument("--window", nargs=2, type=int, default=[0, -1], metavar=("A", "B"),
                        help="also read at every step from A to B")  # fmt: skip
    parser.add_argument("--iters", type=int, default=10, help="power iterations a reading")
    parser.add_argument("--subjects", type=int, default=10, help="subjects a domain (render)")
    parser.add_argument("--frames", type=int, default=20, help="frames a subject (render)")
    args = parser.parse_args(argv)
    if args.report:
        print(report(args.out), end="")
        return
    if args.data is None:
        parser.error("--data is needed to train")
    torch.set_num_threads(1)
    for preset, seed in RENDER.items():
        if not (args.data / preset / "manifest.csv").is_file():
            render_dataset(args.data / preset, preset, subjects=args.subjects,
                           frames_per_subject=args.frames, size=64, seed=seed)  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    for variant in args.variants:
        for method in args.methods:
            for seed in args.seeds:
                path = args.out / f"{variant}__{method}__s{seed}.json"
                if path.is_file():
                    continue
                window = range(args.window[0], args.window[1] + 1)
                result = run(args.runs, args.data, variant, method, seed, args.steps,
                             args.every, args.iters, window)  # fmt: skip
                with atomic_path(path) as tmp:
                    tmp.write_text(json.dumps(result) + "\n")
                top = max(result["readings"], key=lambda r: r["lambda_p_over_threshold"])
                print(
                    f"{path.name}: rise {result['au_loss_rise']}x, largest lambda_p / "
                    f"threshold {top['lambda_p_over_threshold']:.2f} at step {top['step']}"
                )


if __name__ == "__main__":
    main()
