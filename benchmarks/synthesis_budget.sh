#!/usr/bin/env bash
# What D2CA's synthesis carries as one run trains on: a copy of a finished run resumed to
# each step count given, benchmarks/synthesis_quality.py on its weights at every count (the
# run's own steps first), one JSON a count. Issue 18, part 5: is the decoder's fidelity, which
# bounds the AUs a swap carries (docs/default-checkpoint.md), still rising with the budget?
#
#     bash benchmarks/synthesis_budget.sh RUN OUT_DIR SOURCE_PRESET TARGET_PRESET STEPS...
#
# e.g. the SynthAU CPU grid's lab-b -> lab-a D2CA run, seed 0 (500 steps), to 1000 and 2000:
#     bash benchmarks/synthesis_budget.sh /tmp/d2ca-synthau/runs/lab-b_to_lab-a__d2ca__seed0__steps500__P8 \
#         docs/benchmark-synthetic/synthesis-budget lab-b lab-a 1000 2000
set -euo pipefail
RUN=$1 OUT_DIR=$2 SOURCE=$3 TARGET=$4
shift 4
WORK=${D2CA_SQ_WORK:-/tmp/d2ca-synthesis-quality}
COPY=${D2CA_RUN_COPY:-/tmp/d2ca-synthesis-budget/$(basename "$RUN")}
PY=${PYTHON:-python}
mkdir -p "$OUT_DIR" "$(dirname "$COPY")"
[ -d "$COPY" ] || cp -r "$RUN" "$COPY"  # the run itself is never written
measure() {  # the run's weights at step $1
    [ -f "$OUT_DIR/step-$1.json" ] && return  # one JSON a count: a rerun skips what is done
    "$PY" benchmarks/synthesis_quality.py --model "$COPY/model" --domain "$SOURCE" \
        --cross "$TARGET" --work "$WORK" --threads 1 --json "$OUT_DIR/step-$1.json.tmp"
    mv "$OUT_DIR/step-$1.json.tmp" "$OUT_DIR/step-$1.json"
}
first=$("$PY" -c "import json, sys; print(json.load(open(sys.argv[1]))['provenance']['steps'])" "$COPY/model/config.json")
measure "$first"
for steps in "$@"; do
    [ -f "$OUT_DIR/step-$steps.json" ] && continue
    d2ca train --out "$COPY" --resume --steps "$steps" --threads 1 --no-progress
    measure "$steps"
done
