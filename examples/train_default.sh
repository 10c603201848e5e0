#!/usr/bin/env bash
# Reproduces the default checkpoint shipped in d2ca/pretrained/default/ (SynthAU lab-a -> wild,
# 128x128, D2CA from a random start with the default objective of docs/training.md: no
# warm-up, aux_grad_e_au=0, norm_stats="real", L_au^t ramped up over 1000 steps), 800 steps.
# About 100 minutes on one CPU thread (a D2CA step at 128x128 took about 7.5 s there;
# docs/default-checkpoint.md).
# Usage: bash examples/train_default.sh [WORKDIR]   (WORKDIR defaults to ./default-run)
set -euo pipefail
work=${1:-default-run}
d2ca synth "$work/lab-a-128" --preset lab-a --subjects 40 --frames 40 --size 128 --seed 1
d2ca synth "$work/wild-128" --preset wild --subjects 40 --frames 40 --size 128 --seed 2
d2ca train --source "synthau:$work/lab-a-128" --target "synthau:$work/wild-128" \
    --method d2ca --steps 800 --batch-size 16 --subjects 4 --seed 0 \
    --eval-every 100 --checkpoint-every 50 --diagnose-every 100 --threads 1 --out "$work/run"
echo "checkpoint: $work/run/model"
