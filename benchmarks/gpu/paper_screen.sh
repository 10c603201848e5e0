#!/usr/bin/env bash
# Issue 18, parts 1-2, in one device call: the SynthAU screen at the paper's scale (Source
# only and Target only, seed 0, on the grid's pairs and the screen's candidates), eight
# workers sharing one GPU, stopped at checkpoints before the budget ends, the JSONs and the
# most advanced unfinished checkpoint packed into OUT_DIR. From the repository root:
#
#     bash benchmarks/gpu/paper_screen.sh [OUT_DIR] [BUDGET_S]   # defaults: $OUT, 450
#
# Then, on the machine that keeps the repository:
#     python benchmarks/synthau/pack.py unpack FILES_AT --scale paper
#     python benchmarks/synthau/run_table.py --scale paper --render-only   # and commit
# Extra arguments for run_table.py can be given in D2CA_SCREEN_ARGS (e.g. "--epochs 25").
set -u
OUT_DIR=${1:-${OUT:-paper-results}}
BUDGET=${2:-450}
mkdir -p "$OUT_DIR"
PY=${PYTHON:-$(command -v python3 || command -v python)}
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
export D2CA_COMMIT=${D2CA_COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}
LOG=$OUT_DIR/screen.log
{
    nvidia-smi --query-gpu=name,memory.total --format=csv 2>&1
    nproc
    "$PY" -c "import torch, d2ca; print(torch.__version__, torch.version.cuda, torch.cuda.is_available())"
} >"$LOG" 2>&1
T0=$(date +%s)
# shellcheck disable=SC2086
timeout -s TERM -k 30 $((BUDGET + 30)) "$PY" benchmarks/synthau/run_table.py --scale paper \
    --pairs wild:lab-a social:lab-a lab-a:lab-b lab-b:lab-a lab-b:lab-c \
    --methods source-only target-only \
    --seeds 0 --no-quality --workers 8 --budget-s "$BUDGET" ${D2CA_SCREEN_ARGS:-} >>"$LOG" 2>&1
echo "run_table rc=$? after $(($(date +%s) - T0)) s" >>"$LOG"
nvidia-smi --query-gpu=memory.used --format=csv >>"$LOG" 2>&1
"$PY" benchmarks/synthau/pack.py pack "$OUT_DIR" --scale paper >>"$LOG" 2>&1
ls -l "$OUT_DIR" >>"$LOG"
grep -v "^step \|^AUs used\|^wrote /tmp" "$LOG" | tail -n 80
