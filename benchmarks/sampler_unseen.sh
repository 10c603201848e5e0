#!/usr/bin/env bash
# Issue 18, part 6: D2CA's source-validation F1 against Source only's at the same step, on a
# small rendered pair that no other run has seen (lab-b -> lab-a rendered with seeds 301 and
# 302, 40 subjects x 30 frames, 64x64), the SynthAU grid's narrow network, 400 steps, batch 16,
# one thread a run: Source only, D2CA with 8 subjects x 2 faces (the default since
# 2026-12-04) and with 4 x 4 (the default before). Runs are skipped when their model exists;
# the summary goes to docs/training/sampler_unseen.json.
#   bash benchmarks/sampler_unseen.sh [WORK] [SEEDS]     # defaults: /tmp/d2ca-sampler-unseen, "0 1 2"
set -eu
W=${1:-/tmp/d2ca-sampler-unseen}
SEEDS=${2:-0 1 2}
[[ -f $W/data/lab-b/manifest.csv ]] ||
    d2ca synth "$W/data/lab-b" --preset lab-b --subjects 40 --frames 30 --size 64 --seed 301
[[ -f $W/data/lab-a/manifest.csv ]] ||
    d2ca synth "$W/data/lab-a" --preset lab-a --subjects 40 --frames 30 --size 64 --seed 302
NET=(--image-size 64 --set 'enc_widths=[12,16,24,32,48,48,64,64]'
     --set 'dec_widths=[32,24,16,16,8,8]' --set dec_aux_channels=4 --set 'disc_widths=[8,16,32]'
     --set proj_hidden=32 --set proj_dim=16)
for S in $SEEDS; do
    for RUN in "source-only 4" "d2ca 8" "d2ca 4"; do
        set -- $RUN
        out=$W/runs/$1-P$2-s$S
        [[ -f $out/model/config.json ]] && continue
        d2ca train --source "$W/data/lab-b" --target "$W/data/lab-a" --method "$1" \
            --subjects "$2" --batch-size 16 --steps 400 --eval-every 100 --checkpoint-every 400 \
            --threads 1 --seed "$S" --device cpu --no-progress "${NET[@]}" --out "$out" --overwrite
    done
done
python - "$W" <<'PY'
import json, sys
from pathlib import Path

runs = {}
for folder in sorted(Path(sys.argv[1], "runs").iterdir()):
    lines = [json.loads(x) for x in (folder / "metrics.jsonl").read_text().splitlines()]
    runs[folder.name] = {r["step"]: {s: round(100 * r[s]["avg_f1"], 1)
                                     for s in ("source_val", "target_test")}
                         for r in lines if r["kind"] == "eval"}
ratios = {}
for name, curve in runs.items():
    method, p, seed = name.rsplit("-", 2)
    base = runs.get(f"source-only-P4-{seed}")
    if method == "d2ca" and base and 400 in curve and 400 in base:
        ratios[name] = round(curve[400]["source_val"] / base[400]["source_val"], 2)
out = Path("docs/training/sampler_unseen.json")
out.write_text(json.dumps({"curves": runs, "ratio_to_source_only_at_400": ratios}, indent=1) + "\n")
print(json.dumps(ratios, indent=1))
PY
