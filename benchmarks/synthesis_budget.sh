#!/usr/bin/env bash
# What D2CA's synthesis carries as one run trains on: a copy of a finished run resumed to
# each step count given, benchmarks/synthesis_quality.py on its weights at every count (the
# run's own steps first), one JSON a count. Issue 18, part 5: is the decoder's fidelity, which
# bounds the AUs a swap carries (docs/synthesis.md), still rising with the budget?
#
#     bash benchmarks/synthesis_budget.sh RUN OUT_DIR SOURCE_PRESET TARGET_PRESET STEPS...
#
# e.g. the SynthAU CPU grid's lab-b -> lab-a D2CA run, seed 0 (500 steps), to 1000 and 2000:
#     bash benchmarks/synthesis_budget.sh /tmp/d2ca-synthau/runs/lab-b_to_lab-a__d2ca__seed0__steps500__P8 \
#         docs/benchmark-synthetic/synthesis-budget/seed0 lab-b lab-a 1000 2000
# D2CA_FORK_MODEL='{"aux_grad_e_au": 1}' (JSON) trains the copy on with those model options;
# D2CA_RUN_COPY names the copy (default: /tmp/d2ca-synthesis-budget/RUN's name).
set -euo pipefail
RUN=$1 OUT_DIR=$2 SOURCE=$3 TARGET=$4
shift 4
WORK=${D2CA_SQ_WORK:-/tmp/d2ca-synthesis-quality}
COPY=${D2CA_RUN_COPY:-/tmp/d2ca-synthesis-budget/$(basename "$RUN")}
PY=${PYTHON:-python}
mkdir -p "$OUT_DIR"
if [ ! -d "$COPY" ]; then  # a fork: model options changed from the run's end on, if given
    PYTHON=$PY bash "$(dirname "$0")/fork_run.sh" "$RUN" "$COPY" "${D2CA_FORK_MODEL:-}"
fi
measure() {  # the run's weights at step $1
    [ -f "$OUT_DIR/step-$1.json" ] && return  # one JSON a count: a rerun skips what is done
    "$PY" benchmarks/synthesis_quality.py --model "$COPY/model" --domain "$SOURCE" \
        --cross "$TARGET" --work "$WORK" --threads 1 --json "$OUT_DIR/step-$1.json"  # atomic
}
first=$("$PY" -c "import json, sys; print(json.load(open(sys.argv[1]))['provenance']['steps'])" "$COPY/model/config.json")
measure "$first"
for steps in "$@"; do
    [ -f "$OUT_DIR/step-$steps.json" ] && continue
    d2ca train --out "$COPY" --resume --steps "$steps" --threads 1 --no-progress
    measure "$steps"
done
