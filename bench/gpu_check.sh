#!/usr/bin/env bash
# The GPU path in one short run (bench/gpu_check.py): AMP against float32, clips/s, peak memory, finite
# losses and a kill-and-resume, on the paper profile. Needs a CUDA GPU; prints its report to stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
exec "$PY" bench/gpu_check.py "$@"
