#!/usr/bin/env bash
# Source scoring on Slurm:
#   tools/slurm_score_sources.sh PARTITION JOB_NAME TARGET --sources S.yaml [score_sources.py options]
exec "$(dirname "$0")/slurm_launch.sh" "$1" "$2" score_sources.py "${@:3}"
