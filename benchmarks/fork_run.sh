#!/usr/bin/env bash
# A fork of a training run: RUN's folder copied to COPY (RUN is not written) and, given
# MODEL_JSON, those model options changed in the copy's train_config.json, so that
# `d2ca train --out COPY --resume --steps N` trains on from RUN's last checkpoint with them.
#
#     bash benchmarks/fork_run.sh RUN COPY ['{"use_au_t": false}']
set -euo pipefail
RUN=$1 COPY=$2 MODEL=${3:-}
[ -e "$COPY" ] && { echo "fork_run.sh: $COPY exists; not overwritten" >&2; exit 2; }
mkdir -p "$(dirname "$COPY")"
cp -r "$RUN" "$COPY"
if [ -n "$MODEL" ]; then
    "${PYTHON:-python}" - "$COPY/train_config.json" "$MODEL" <<'PYEOF'
import json, sys
path, change = sys.argv[1], json.loads(sys.argv[2])
config = json.load(open(path))
config["model"].update(change)
open(path, "w").write(json.dumps(config, indent=1))
PYEOF
fi
