#!/usr/bin/env bash
# Reproduces the default checkpoint shipped in d2ca/pretrained/default/ (SynthAU lab-a -> wild,
# 128x128, D2CA with a 300-step source warm-up, 800 steps in all, trained before the fix of
# docs/training.md "Why D2CA did not learn": the paper's gradient routing, aux_grad_e_au=1).
# About 45 minutes on 2 CPU cores.
# Usage: bash examples/train_default.sh [WORKDIR]   (WORKDIR defaults to ./default-run)
set -euo pipefail
work=${1:-default-run}
d2ca synth "$work/lab-a-128" --preset lab-a --subjects 40 --frames 40 --size 128 --seed 1
d2ca synth "$work/wild-128" --preset wild --subjects 40 --frames 40 --size 128 --seed 2
d2ca train --source "synthau:$work/lab-a-128" --target "synthau:$work/wild-128" \
    --method d2ca --set aux_grad_e_au=1.0 --warmup-steps 300 --steps 800 \
    --batch-size 16 --subjects 4 --seed 0 \
    --eval-every 150 --checkpoint-every 50 --threads 1 --out "$work/run"
echo "checkpoint: $work/run/model"
