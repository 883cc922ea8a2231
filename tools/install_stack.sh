#!/usr/bin/env bash
# Install mmseg-trf and its MMSegmentation stack into a Python environment.
#
#   tools/install_stack.sh [VENV]
#
# VENV (default: .venv at the repository root) is created when missing and
# reused when it exists, so an existing virtualenv or conda env works too.
# Environment knobs:
#   PYTHON       interpreter that creates a new VENV (default: python3)
#   TORCH_SPEC   what to install when the env has no torch (default:
#                torch==2.13.0, the CPU wheel). An env that already has
#                torch keeps it, e.g. a CUDA build.
#   WHEELHOUSE   where built mmcv wheels are kept, one folder per torch
#                version (default: .cache/wheelhouse, git-ignored)
#   MAX_JOBS     parallel compile jobs for mmcv (default: number of cores)
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VENV="${1:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3}"
TORCH_SPEC="${TORCH_SPEC:-torch==2.13.0}"
WHEELHOUSE="${WHEELHOUSE:-$ROOT/.cache/wheelhouse}"
MMCV_VERSION=2.1.0
PY="$VENV/bin/python"

step() { printf '\n[mmseg-trf install %s] %s\n' "$1" "$2"; }

if [ ! -x "$PY" ]; then
    step 1/5 "creating virtual environment $VENV"
    "$PYTHON" -m venv "$VENV"
else
    step 1/5 "using environment $VENV"
fi
PIP=("$PY" -m pip --disable-pip-version-check)

step 2/5 "build tools (setuptools < 82 keeps pkg_resources for mmcv/mmengine)"
"${PIP[@]}" install -q "setuptools>=77,<82" wheel ninja psutil numpy

if "$PY" -c 'import torch' 2>/dev/null; then
    step 3/5 "keeping installed torch $("$PY" -c 'import torch; print(torch.__version__)')"
else
    step 3/5 "installing $TORCH_SPEC"
    "${PIP[@]}" install -q "$TORCH_SPEC"
fi
TORCH_VERSION="$("$PY" -c 'import torch; print(torch.__version__)')"

mmcv_ok() {
    "$PY" - <<EOF 2>/dev/null
import mmcv, mmcv.ops
assert mmcv.__version__ == '$MMCV_VERSION'
EOF
}

if mmcv_ok; then
    step 4/5 "mmcv $MMCV_VERSION with ops already installed"
else
    # The compiled ops are tied to the torch they were built against, so the
    # wheelhouse keeps one folder per torch version.
    HOUSE="$WHEELHOUSE/torch-$TORCH_VERSION"
    mkdir -p "$HOUSE"
    WHEEL="$(ls "$HOUSE"/mmcv-"$MMCV_VERSION"-*.whl 2>/dev/null | head -n 1 || true)"
    if [ -z "$WHEEL" ]; then
        step 4/5 "building mmcv $MMCV_VERSION with ops from source for torch $TORCH_VERSION"
        echo "    PyPI has no mmcv wheels. This compiles about 80 C++ units: roughly 20-35 minutes"
        echo "    on 2 CPU cores (longer with CUDA), unless pip has it cached. The wheel is kept in $HOUSE,"
        echo "    so the next install takes seconds."
        start=$(date +%s)
        MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-$(nproc)}" \
            "${PIP[@]}" wheel --no-build-isolation --no-deps \
            "mmcv==$MMCV_VERSION" -w "$HOUSE"
        echo "    mmcv built in $(( $(date +%s) - start )) s"
        WHEEL="$(ls "$HOUSE"/mmcv-"$MMCV_VERSION"-*.whl | head -n 1)"
    else
        step 4/5 "installing cached mmcv wheel $WHEEL"
    fi
    "${PIP[@]}" install -q --no-deps "$WHEEL"
fi

step 5/5 "mmsegmentation, POT and the rest; mmseg-trf in editable mode"
"${PIP[@]}" install -q -e "$ROOT[tests]"
"$PY" -c 'import mmseg_trf, mmcv.ops, mmseg.models; print("mmseg-trf", mmseg_trf.__version__, "ready")'
