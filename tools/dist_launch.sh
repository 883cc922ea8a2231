#!/usr/bin/env bash
# Launch a tools/ script on NPROC processes with torch.distributed (torchrun):
#   tools/dist_launch.sh NPROC SCRIPT [script arguments]
# NNODES, NODE_RANK, PORT, MASTER_ADDR select a multi-node run; PYTHON the
# interpreter (default: python on PATH).
NPROC=$1
SCRIPT=$2
TOOLS="$(cd "$(dirname "$0")" && pwd)"
PYTHONPATH="$TOOLS/..":$PYTHONPATH \
exec "${PYTHON:-python}" -m torch.distributed.run \
    --nnodes="${NNODES:-1}" \
    --node_rank="${NODE_RANK:-0}" \
    --master_addr="${MASTER_ADDR:-127.0.0.1}" \
    --nproc_per_node="$NPROC" \
    --master_port="${PORT:-29500}" \
    "$TOOLS/$SCRIPT" "${@:3}" --launcher pytorch
