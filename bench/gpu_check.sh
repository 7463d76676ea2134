#!/usr/bin/env bash
# The GPU path, checked and measured in one run on a machine with an NVIDIA GPU:
#   1. the CUDA tests (tests/test_cuda.py, marker `cuda`) and the device rules
#      (tests/test_cuda_rules.py), with every skip and its reason listed;
#   2. training samples/s, CPU vs GPU, for both models (bench/train_scale.py; THUCNews when
#      it is found, else 45,000 synthetic titles of the same shape);
#   3. where prediction is faster, one title and batches, CPU vs GPU (bench/predict_devices.py).
# Usage: bash bench/gpu_check.sh [STEPS]   (default 200 training steps per run)
# Results also go to $OUT (default: a temporary folder) as gpu_train_scale.json.
# Exit status: 0 all ran and passed, 1 a test or a run failed, 2 no CUDA GPU visible.
set -uo pipefail
cd "$(dirname "$0")/.."
STEPS="${1:-200}"
OUT="${OUT:-$(mktemp -d)}"

if ! python -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)"; then
  echo "gpu_check: torch $(python -c 'import torch; print(torch.__version__)') sees no CUDA GPU:" \
       "nothing was checked or measured (a +cpu torch build cannot use one; README, Install)." >&2
  exit 2
fi
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version \
  --format=csv,noheader
python -c "import torch; print('torch', torch.__version__, 'CUDA', torch.version.cuda, \
'GPUs', torch.cuda.device_count(), torch.cuda.get_device_name(0), \
'bf16', torch.cuda.is_bf16_supported())"

status=0
echo "== 1/3 CUDA tests (a skip is NOT a pass: each is listed with its reason)"
python -m pytest -q -p no:cacheprovider -rs tests/test_cuda.py tests/test_cuda_rules.py || status=1

echo "== 2/3 training samples/s, CPU vs GPU"
DATA=()
if ! python -c "import sys; from rnnviz.core.data import find_thucnews; \
sys.exit(0 if find_thucnews() else 1)"; then
  DATA=(--synthetic 45000)
fi
THREADS=$(( $(nproc) < 8 ? $(nproc) : 8 ))
python bench/train_scale.py --devices cpu cuda --layouts "1x${THREADS}" --steps "$STEPS" \
  "${DATA[@]}" --json "$OUT/gpu_train_scale.json" || status=1

echo "== 3/3 prediction, CPU vs GPU"
python bench/predict_devices.py || status=1

echo "gpu_check: done (status $status); JSON in $OUT"
exit $status
