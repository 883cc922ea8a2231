#!/usr/bin/env bash
# Run a tools/ script as a Slurm job step on GPUS tasks (srun, --launcher
# slurm), as MMSegmentation's slurm_train.sh does:
#   tools/slurm_launch.sh PARTITION JOB_NAME SCRIPT [script arguments]
# GPUS (tasks, default 4), GPUS_PER_NODE (default 4; 0 on a CPU-only
# cluster, which requests no GPUs), CPUS_PER_TASK (default 5), SRUN_ARGS
# (further srun options) and PYTHON (default: python on PATH) as in MMSeg.
set -x
PARTITION=$1
JOB_NAME=$2
SCRIPT=$3
GPUS=${GPUS:-4}
GPUS_PER_NODE=${GPUS_PER_NODE:-4}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
TOOLS="$(cd "$(dirname "$0")" && pwd)"
GRES=()
if [ "$GPUS_PER_NODE" -gt 0 ]; then
  GRES=(--gres="gpu:$GPUS_PER_NODE" --ntasks-per-node="$GPUS_PER_NODE")
fi
# shellcheck disable=SC2086  # SRUN_ARGS is a list of options
PYTHONPATH="$TOOLS/..":$PYTHONPATH \
exec srun --partition="$PARTITION" \
    --job-name="$JOB_NAME" \
    "${GRES[@]}" \
    --ntasks="$GPUS" \
    --cpus-per-task="$CPUS_PER_TASK" \
    --kill-on-bad-exit=1 \
    ${SRUN_ARGS:-} \
    "${PYTHON:-python}" -u "$TOOLS/$SCRIPT" "${@:4}" --launcher slurm
