#!/usr/bin/env bash
# The GPU check of issues 17 and 19 in one command, run from the repository root on a
# machine with one CUDA GPU:
#
#     bash benchmarks/gpu/check.sh [OUT_DIR]        # OUT_DIR: default ${OUT:-gpu-results}
#
# Time budget: 480 s in all (D2CA_CHECK_BUDGET_S), well under ten minutes on one H200.
# Every step runs under `timeout` with its own cap, cut further to what is left of the
# budget (less 20 s to pack); a step with under 30 s left is skipped and recorded so.
# Order and caps (typical times on one H200 in brackets; measured at c88d0e2 where given):
#   1 install          60 s  (10)  facenet-pytorch from .whl/, d2ca from the tree, if missing
#                                  (.whl/ is ignored by git: make it here first with
#                                  `pip download --no-deps -d .whl facenet-pytorch==2.5.3`
#                                  and name it in the device call's carry)
#   2 env              30 s   (5)  nvidia-smi, python, torch, CUDA, cuDNN -> env.json
#   3 cuda-tests      170 s (125)  pytest -m cuda -> cuda-tests.xml (123 s at 838c22d)
#   4 fp32_nodiag      75 s  (35)  train_step.py --no-diagnostics, batch 128/domain, 128 px
#                                  -> train_step_fp32_nodiag.json, and sync_points.json
#                                  (each host-device sync of an eager step, with its line)
#   5 bf16_nodiag      75 s  (35)  ... --bf16 --profile -> train_step_bf16_nodiag.json and
#                                  profile_bf16.json
#   6 bf16_graphs      75 s  (30)  ... --bf16 --cuda-graphs --profile, D2CA only
#                                  -> train_step_bf16_graphs.json, profile_bf16_graphs.json
#   6a fp32_graphs     60 s  (25)  ... --cuda-graphs, D2CA only -> train_step_fp32_graphs.json
#   6h stacked_passes  40 s        stacked_passes.py: E_au and the decoder over 2 and 4 inputs,
#                                  separate calls against one stacked call, bf16, eager and
#                                  graphed -> stacked_passes.json
#   6b resize          40 s   (5)  decoder_resize.py fp32 and bf16 -> resize_fp32/bf16.json
#   6c train_run      120 s  (60)  d2ca synth + d2ca train, 100 D2CA steps at batch 128, bf16,
#                                  CUDA graphs -> train_run_metrics.jsonl (the loop's steps/s)
#   6d detect_video    90 s  (60)  detect_video.py, realistic 640x360 video, 472 frames: per
#                                  frame, tracked K=5, bare MTCNN at 8 and 32 frames a call,
#                                  two timings each -> detect_video_realistic
#                                  .json (the video is kept for 6f, then deleted)
#   6g mtcnn_stages    40 s  (15)  mtcnn_stages.py: MTCNN with batched stages 2-3 against
#                                  facenet-pytorch's loop, 96 frames -> mtcnn_stages.json
#   6e corpus          25 s  (15)  corpus.py, 8 videos x 120 frames, --out-dir -> corpus.json
#   6f detect_phases   60 s  (45)  time to the first row and where the time goes (32 frames
#                                  profiled: the summary of 96 outlasted 45 s at 838c22d)
#                                  -> detect_phases.json
#   7 suite           120 s (100)  pytest -n 8 -m "not cuda" (needs pytest-xdist), 2 threads a
#                                  process -> suite.xml
#   8 bf16_compile_graphs 230 s   ... --bf16 --compile --cuda-graphs --no-diagnostics, d2ca
#                                  only: compiled kernels replayed from a graph (about 2 min
#                                  of compiling) -> train_step_bf16_compile_graphs.json
#   9 bf16_compile    180 s (150)  ... --bf16 --compile --no-diagnostics, d2ca only, last:
#                                  the longest and least certain
#   the budget cuts the last steps when the first ones run long. A pytest step is stopped
#   with SIGINT, so that its junit XML keeps the tests that ran.
# Then steps.json (each step's exit code and seconds), summary.txt (printed last) and
# gpu-results.tar.gz holding every JSON, XML and log. When OUT_DIR is the device tool's $OUT
# (at most 8 files come back from it), the loose files are removed after packing, leaving
# the tar, steps.json and summary.txt.
#
# The script continues past a failed step (set -u, not -e). Knobs (environment):
#   D2CA_CHECK_DEVICE=cpu|cuda|cuda:N  the device of train_step.py (default cuda)
#   D2CA_CHECK_TINY=1     tiny networks and batches, and no whole-suite step (a CPU dry run)
#   D2CA_CHECK_STEPS=a,b  run only these steps (names above), e.g. bf16_compile for a rerun
#   D2CA_CHECK_BUDGET_S   total seconds (default 480; 1800 on the CPU)
#   D2CA_CHECK_COMMIT     the commit checked, for env.json where .git did not travel
#   PYTHON                the interpreter (default python3)
# A CPU dry run: D2CA_CHECK_DEVICE=cpu D2CA_CHECK_TINY=1 bash benchmarks/gpu/check.sh /tmp/r
# What is left after the run at 838c22d (steps 4-6c measured, docs/performance/gpu-h200-graphs/),
# as one call of a 15-minute lease, first what was changed without a GPU since (the cuda tests,
# the stacked passes' graphed bf16 step, the batched MTCNN stages), then what was never measured:
#   D2CA_CHECK_BUDGET_S=565 D2CA_CHECK_STEPS=install,env,cuda-tests,bf16_graphs,stacked_passes,\
#   detect_video,mtcnn_stages,detect_phases,bf16_compile_graphs bash benchmarks/gpu/check.sh
set -u

REPO=$(pwd)
OUT_DIR=${1:-${OUT:-gpu-results}}
mkdir -p "$OUT_DIR" && OUT_DIR=$(cd "$OUT_DIR" && pwd)
PY=${PYTHON:-$(command -v python3 || command -v python)}
[[ $PY == */* && $PY != /* ]] && PY="$REPO/$PY"  # made absolute: the install checks run from /
DEVICE=${D2CA_CHECK_DEVICE:-cuda}
TINY=${D2CA_CHECK_TINY:-0}
ONLY=${D2CA_CHECK_STEPS:-}
if [[ $DEVICE == cpu ]]; then BUDGET=${D2CA_CHECK_BUDGET_S:-1800}; SCALE=4
else BUDGET=${D2CA_CHECK_BUDGET_S:-480}; SCALE=1; fi
RESERVE=20   # seconds kept for steps.json, the summary and the tar
MIN_STEP=30  # a step with less time than this left is skipped
SITE=${D2CA_CHECK_SITE:-/tmp/site}
START=$(date +%s)
DEADLINE=$((START + BUDGET))
STEPS_TSV="$OUT_DIR/.steps.tsv"
: >"$STEPS_TSV"
export PYTHONUNBUFFERED=1

if [[ ! -f benchmarks/train_step.py ]]; then
    echo "run from the repository root: bash benchmarks/gpu/check.sh [OUT_DIR]" >&2
    exit 2
fi
echo "d2ca GPU check: device $DEVICE, tiny=$TINY, budget ${BUDGET}s, results in $OUT_DIR"

want() {  # is step $1 selected by D2CA_CHECK_STEPS (all when unset)?
    [[ -z $ONLY || ",$ONLY," == *",$1,"* ]]
}

record() {  # name rc seconds timeout note command...
    local name=$1 rc=$2 secs=$3 limit=$4 note=$5 command
    shift 5
    command=$(printf '%q ' "$@")  # quoted: the line can be pasted to rerun the step
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$rc" "$secs" "$limit" "$note" "${command% }" \
        | tr -d '\r' >>"$STEPS_TSV"
    "$PY" benchmarks/gpu/results.py steps "$STEPS_TSV" "$OUT_DIR/steps.json" \
        || echo "warning: could not write steps.json" >&2
}

step_timeout() {  # the timeout of a step whose cap is $1 s: the cap, cut to the budget left
    local cap=$(($1 * SCALE)) left=$((DEADLINE - $(date +%s) - RESERVE))
    ((cap < left)) && echo "$cap" || echo "$left"
}

run_step() {  # name cap signal command... (output to OUT_DIR/name.log)
    local name=$1 cap=$2 sig=$3
    shift 3
    if ! want "$name"; then return; fi
    local limit
    limit=$(step_timeout "$cap")
    if ((limit < MIN_STEP)); then
        echo "== $name: skipped, ${limit}s left of the budget"
        record "$name" "" "" "$limit" "skipped: budget spent" "$@"
        return
    fi
    echo "== $name (timeout ${limit}s): $(printf '%q ' "$@")"
    local t0 t1 rc
    t0=$(date +%s.%N)
    timeout -k 10 -s "$sig" "$limit" "$@" >"$OUT_DIR/$name.log" 2>&1
    rc=$?
    t1=$(date +%s.%N)
    local secs
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
    local note=""
    ((rc == 124 || rc == 137)) && note="timed out after ${limit}s"
    echo "   rc=$rc in ${secs}s${note:+ ($note)}; last lines of $name.log:"
    tail -n 3 "$OUT_DIR/$name.log" | sed 's/^/   | /'
    record "$name" "$rc" "$secs" "$limit" "$note" "$@"
}

use_site() {  # put packages installed with --target $SITE on the paths (prepended)
    export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
    export PATH="$SITE/bin:$PATH"
}

# 1. install what is missing, without a network (engineering-notes.md, the lent GPU machine)
if want install; then
    t0=$(date +%s)
    rc=0
    note=""
    if ! (cd / && "$PY" -c "import facenet_pytorch") >/dev/null 2>&1; then
        if compgen -G ".whl/*.whl" >/dev/null; then
            timeout 60 "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
                --upgrade --target "$SITE" .whl/*.whl >"$OUT_DIR/install.log" 2>&1 || rc=$?
            use_site
            note+="wheels from .whl/ into $SITE (rc $rc); "
        else
            rc=3
            note+="facenet-pytorch missing and no .whl/ (face tests will fail); "
        fi
    fi
    if ! (cd / && "$PY" -c "import d2ca") >/dev/null 2>&1 || ! command -v d2ca >/dev/null; then
        r=0
        timeout 120 "$PY" -m pip install -q --no-index --no-deps --no-build-isolation \
            --no-cache-dir --upgrade --target "$SITE" . >>"$OUT_DIR/install.log" 2>&1 || r=$?
        [[ :${PYTHONPATH:-}: == *":$SITE:"* ]] || use_site
        if ((r)) || ! (cd / && "$PY" -c "import d2ca") >/dev/null 2>&1; then
            # fall back to the tree itself and a d2ca command that runs it
            export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"
            mkdir -p "$SITE/bin"
            printf '#!%s\nfrom d2ca.cli import main\nmain()\n' "$PY" >"$SITE/bin/d2ca"
            chmod +x "$SITE/bin/d2ca"
            note+="pip install of the tree failed (rc $r): tree on PYTHONPATH, d2ca shim; "
            ((rc)) || rc=$r
        else
            note+="d2ca from the tree into $SITE; "
        fi
    fi
    [[ -n $note ]] || note="nothing missing"
    echo "== install: rc=$rc: $note"
    record install "$rc" "$(($(date +%s) - t0))" 180 "$note" pip install --no-index
fi

# 2. the environment
if want env; then
    t0=$(date +%s)
    rc=0
    smi="$OUT_DIR/.nvidia-smi.csv"
    : >"$smi"
    if command -v nvidia-smi >/dev/null; then
        timeout 20 nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv \
            >"$smi" 2>&1 || rc=$?
    else
        echo "nvidia-smi: not found" >"$smi"
    fi
    timeout 60 "$PY" benchmarks/gpu/results.py env "$OUT_DIR" "$smi" || rc=$?
    sed 's/^/   | /' "$smi"
    rm -f "$smi"
    echo "== env: rc=$rc"
    record env "$rc" "$(($(date +%s) - t0))" 80 "" nvidia-smi and results.py env
fi

# 3. the CUDA tests (tests/test_cuda.py); exit 5 (none selected) is recorded, not fatal
run_step cuda-tests 170 INT "$PY" -m pytest -q -m cuda -p no:cacheprovider \
    -o faulthandler_timeout=100 --junitxml "$OUT_DIR/cuda-tests.xml" tests

# 4-6. training-step timings at the issue's size (or tiny ones for a CPU dry run)
if [[ $TINY == 1 ]]; then
    SIZE=(--batch 4 --steps 2 --image-size 64 --profile-steps 2
          --model '{"enc_widths": [8, 8, 16, 16, 16, 16, 32, 32]}')
else
    SIZE=(--batch 128 --steps 10 --image-size 128 --profile-steps 3)
fi
TS=("$PY" benchmarks/train_step.py --device "$DEVICE" "${SIZE[@]}")
ORD=("${TS[@]}" --no-diagnostics)  # ordinary steps (a real run diagnoses one in 50)
run_step fp32_nodiag 75 TERM "${ORD[@]}" --json "$OUT_DIR/train_step_fp32_nodiag.json" \
    --sync-debug "$OUT_DIR/sync_points.json"
run_step bf16_nodiag 75 TERM "${ORD[@]}" --bf16 \
    --json "$OUT_DIR/train_step_bf16_nodiag.json" --profile "$OUT_DIR/profile_bf16.json"
# 6a. the same steps replayed from a CUDA graph (--cuda-graphs), bf16 and fp32
run_step bf16_graphs 75 TERM "${ORD[@]}" --bf16 --cuda-graphs --runs d2ca \
    --json "$OUT_DIR/train_step_bf16_graphs.json" --profile "$OUT_DIR/profile_bf16_graphs.json"
run_step fp32_graphs 60 TERM "${ORD[@]}" --cuda-graphs --runs d2ca \
    --json "$OUT_DIR/train_step_fp32_graphs.json"
# 6h. E_au and the decoder over 2 and 4 inputs: separate calls against one stacked call
# (what the step does since the stacked passes), bf16, eager and replayed from a graph
SP=(--batch 128); [[ $TINY == 1 ]] && SP=(--batch 4 --image-size 64)
run_step stacked_passes 40 TERM "$PY" benchmarks/stacked_passes.py --device "$DEVICE" \
    "${SP[@]}" --bf16 --reps 20 --json "$OUT_DIR/stacked_passes.json"
# 6b. the decoder's resize of d: F.interpolate against the matrices it now uses
RB=128; [[ $TINY == 1 ]] && RB=8
run_step resize 40 TERM bash -c "$PY benchmarks/decoder_resize.py --device $DEVICE --batch $RB \
    --json $OUT_DIR/resize_fp32.json && $PY benchmarks/decoder_resize.py --device $DEVICE \
    --batch $RB --bf16 --json $OUT_DIR/resize_bf16.json"

# 6c. a real `d2ca train` run (issue 17, part 5): SynthAU lab-b -> lab-a rendered on every
# core, D2CA at the paper's batch with bf16; its metrics.jsonl gives the loop's steps/s
# (data path, logging, diagnostics every 50 steps, evaluation) against the bare step's above
run_step train_run 120 TERM bash benchmarks/gpu/train_run.sh "$OUT_DIR" "$DEVICE" "$TINY"

# 6d. video on the GPU (issue 19, parts 1 and 3): the realistic 640x360 video per frame and
# tracked against bare MTCNN, a corpus with --out-dir, and the time to the first row
if [[ $TINY == 1 ]]; then VF=(--frames 24 --repeats 1); CF=(--videos 2 --frames 12)
else VF=(--frames 472 --repeats 2); CF=(--videos 8 --frames 120); fi
run_step detect_video 90 TERM "$PY" benchmarks/detect_video.py --device "$DEVICE" "${VF[@]}" \
    --keyframe-intervals 5 --bare-batches 8 32 --no-memory --no-landmarks \
    --save-video "$OUT_DIR/realistic.mp4" --json "$OUT_DIR/detect_video_realistic.json"
MF=96; [[ $TINY == 1 ]] && MF=8
run_step mtcnn_stages 40 TERM "$PY" benchmarks/mtcnn_stages.py --device "$DEVICE" --frames $MF \
    --repeats 3 --json "$OUT_DIR/mtcnn_stages.json"
run_step corpus 25 TERM "$PY" benchmarks/corpus.py --device "$DEVICE" "${CF[@]}" --workers 1 \
    --json "$OUT_DIR/corpus.json"
run_step detect_phases 60 TERM "$PY" benchmarks/detect_phases.py --device "$DEVICE" \
    --video-file "$OUT_DIR/realistic.mp4" --starts 1 --profile-frames 32 \
    --json "$OUT_DIR/detect_phases.json"
rm -f "$OUT_DIR/realistic.mp4"

# 7. the whole suite but the CUDA tests, in 8 processes (too slow on a small CPU: not tiny)
if [[ $TINY == 1 ]]; then
    want suite && record suite "" "" "" "skipped: tiny mode" pytest -n 8
elif ! "$PY" -c "import xdist" >/dev/null 2>&1; then
    want suite && record suite "" "" "" "skipped: pytest-xdist missing" pytest -n 8
else
    run_step suite 120 INT env OMP_NUM_THREADS=2 "$PY" -m pytest -q -n 8 -m "not cuda" -p no:cacheprovider \
        -o faulthandler_timeout=120 --junitxml "$OUT_DIR/suite.xml" tests
fi

# 8-9. torch.compile, the longest steps, last; ordinary steps, the D2CA run only: with
# CUDA graphs (the step is bound by its 5,700 small kernels once graphed, and compiling
# fuses them), then alone
run_step bf16_compile_graphs 230 TERM "${ORD[@]}" --bf16 --compile --cuda-graphs --runs d2ca \
    --warmup 6 --json "$OUT_DIR/train_step_bf16_compile_graphs.json"
run_step bf16_compile 180 TERM "${ORD[@]}" --bf16 --compile --runs d2ca \
    --warmup 2 --json "$OUT_DIR/train_step_bf16_compile_nodiag.json"

# 10. the summary, and one tar of everything
"$PY" benchmarks/gpu/results.py summary "$OUT_DIR" || echo "warning: no summary" >&2
(
    cd "$OUT_DIR" || exit 1
    shopt -s nullglob
    files=(*.json *.jsonl *.xml *.log summary.txt)
    tar -czf gpu-results.tar.gz "${files[@]}" && echo "packed ${#files[@]} files into" \
        "$OUT_DIR/gpu-results.tar.gz ($(($(date +%s) - START)) s in all)"
    if [[ -n ${OUT:-} && $(pwd) == "$(cd "$OUT" 2>/dev/null && pwd)" ]]; then
        for f in "${files[@]}"; do
            [[ $f == steps.json || $f == summary.txt ]] || rm -f -- "$f"
        done
    fi
    rm -f .steps.tsv
)
exit 0
