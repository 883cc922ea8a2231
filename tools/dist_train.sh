#!/usr/bin/env bash
# Distributed training: tools/dist_train.sh CONFIG GPUS [train.py options]
exec "$(dirname "$0")/dist_launch.sh" "$2" train.py "$1" "${@:3}"
