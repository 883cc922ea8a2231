#!/usr/bin/env bash
# Stages of bench_seed_scale.py at a git revision and at another one (by
# default the working tree), alternately in one run (the same machine, load
# and cached setup), so a redesign's cost shows side by side with the code
# it replaces.
#
#   [NEW=REV2] bash benchmarks/compare_revisions.sh REV [STAGE ...]
#
# Writes <work dir>/compare-{rev,tree}-<stage>.json and prints a table.
set -euo pipefail
REV=${1:?usage: [NEW=REV2] benchmarks/compare_revisions.sh REV [STAGE ...]}
shift
STAGES=${*:-map-leep-logits map-logme-logits map-otce-logits}
WORK=$(realpath -m "${WORK_DIR:-work_dirs/seed_scale}")
PY=${PYTHON:-$PWD/.venv/bin/python}
OLD=$(mktemp -d)/rev
TREE=$PWD
git worktree add -f --detach "$OLD" "$REV" >/dev/null
cleanup() { git worktree remove --force "$OLD"; }
if [ -n "${NEW:-}" ]; then
  TREE=$(mktemp -d)/new
  git worktree add -f --detach "$TREE" "$NEW" >/dev/null
  cleanup() { git worktree remove --force "$OLD"; git worktree remove --force "$TREE"; }
fi
trap cleanup EXIT
for stage in $STAGES; do
  for side in rev tree; do
    root=$TREE
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
