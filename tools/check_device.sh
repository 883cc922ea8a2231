#!/usr/bin/env bash
# The GPU checks, for a session lent a machine with CUDA (the tool
# library's `device`): the device-marked tests, then the metric benchmark
# with the metrics on the GPU.
#
#   bash tools/check_device.sh fetch        # here: POT's wheel for the GPU
#                                           # machine's python3 (3.12)
#   bash tools/check_device.sh run [OUT]    # there, with .device_wheels
#                                           # carried; results under OUT
#
# The GPU machine's image has python3 with torch, numpy, scipy and pytest,
# no POT and no OpenMMLab; the metric core imports no OpenMMLab package, so
# POT's wheel is all these checks need. Exact OT solves on the CPU (POT's
# network simplex) whatever the device; the checks of its candidate pairs,
# the other metrics, the accumulators and Sinkhorn run on the GPU.
set -euo pipefail
WHEELS=.device_wheels
case "${1:-run}" in
fetch)
  POT=$(.venv/bin/python -c 'import ot; print(ot.__version__)')
  .venv/bin/python -m pip download "POT==$POT" --only-binary=:all: \
    --python-version 3.12 --platform manylinux_2_28_x86_64 --no-deps \
    -d "$WHEELS"
  ;;
run)
  OUT=${2:-${OUT:-device_out}}
  mkdir -p "$OUT"
  if ! python3 -c 'import ot' 2>/dev/null; then
    python3 -m pip install --quiet --no-index --no-deps \
      --target /tmp/device_deps "$WHEELS"/*.whl
    export PYTHONPATH=/tmp/device_deps${PYTHONPATH:+:$PYTHONPATH}
  fi
  # The image's jax and cupy make every `import ot` (one per benchmark
  # worker process) take seconds; the project uses POT's numpy and torch
  # backends only.
  export PYTHONUNBUFFERED=1 POT_BACKEND_DISABLE_JAX=1 \
    POT_BACKEND_DISABLE_CUPY=1 POT_BACKEND_DISABLE_TENSORFLOW=1
  nvidia-smi >"$OUT/nvidia-smi.txt" || true
  python3 -m pytest tests/test_metrics/test_device.py -q -rs \
    -p no:cacheprovider 2>&1 | tee "$OUT/device_tests.txt"
  # Rows are printed as they finish: a run stopped at its limit keeps them.
  python3 benchmarks/bench_metrics.py --quick --device cuda \
    --out "$OUT/bench_metrics_cuda.md" | tee "$OUT/bench_metrics_cuda.log"
  ;;
*)
  echo "usage: $0 fetch | run [OUT]" >&2
  exit 2
  ;;
esac
