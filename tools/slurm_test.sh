#!/usr/bin/env bash
# Testing on Slurm: tools/slurm_test.sh PARTITION JOB_NAME CONFIG CHECKPOINT [test.py options]
exec "$(dirname "$0")/slurm_launch.sh" "$1" "$2" test.py "${@:3}"
