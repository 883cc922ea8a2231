#!/usr/bin/env bash
# Training on Slurm: tools/slurm_train.sh PARTITION JOB_NAME CONFIG [train.py options]
exec "$(dirname "$0")/slurm_launch.sh" "$1" "$2" train.py "${@:3}"
