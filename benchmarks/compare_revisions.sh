#!/usr/bin/env bash
# Stages of bench_seed_scale.py at a git revision and at the working tree,
# alternately in one run (the same machine, load and cached setup), so a
# redesign's cost shows side by side with the code it replaces.
#
#   bash benchmarks/compare_revisions.sh REV [STAGE ...]
#
# Writes <work dir>/compare-{rev,tree}-<stage>.json and prints a table.
set -euo pipefail
REV=${1:?usage: benchmarks/compare_revisions.sh REV [STAGE ...]}
shift
STAGES=${*:-map-leep-logits map-logme-logits map-otce-logits}
WORK=${WORK_DIR:-work_dirs/seed_scale}
PY=${PYTHON:-.venv/bin/python}
OLD=$(mktemp -d)/rev
git worktree add -f --detach "$OLD" "$REV" >/dev/null
trap 'git worktree remove --force "$OLD"' EXIT
for stage in $STAGES; do
  for side in rev tree; do
    root=$PWD
    [ "$side" = rev ] && root=$OLD
    echo "== $stage at $side ($root)"
    PYTHONPATH=$root "$PY" "$root/benchmarks/bench_seed_scale.py" \
      --work-dir "$WORK" --stages "$stage" \
      --out "$WORK/compare-$side-$stage.json" | grep -v '^\['
  done
done
"$PY" - "$WORK" $STAGES <<'PYEOF'
import json, sys
work, stages = sys.argv[1], sys.argv[2:]
print('| stage | code | features (s) | patches (s) | peak RSS (GB) |')
print('|---|---|---|---|---|')
for stage in stages:
    for side in ('rev', 'tree'):
        r = json.load(open(f'{work}/compare-{side}-{stage}.json'))[stage]
        row = r['rows'][-1]
        print(f"| {stage} | {side} | {row['extract_s']:.1f} | "
              f"{row['score_s']:.1f} | {r['peak_rss_mb'] / 1024:.2f} |")
PYEOF
