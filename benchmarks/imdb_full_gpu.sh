#!/usr/bin/env bash
# ULMFiT on the full IMDB on one GPU (see benchmarks/imdb_full_gpu.py).
#
#   bash benchmarks/imdb_full_gpu.sh prep DATA_DIR          # CPU, here: tokenize into compact arrays (~50 MB)
#   bash benchmarks/imdb_full_gpu.sh run DATA_DIR [OUT]     # GPU: LM, classifier, small model; ~8 min
#   bash benchmarks/imdb_full_gpu.sh tiny                   # the whole thing on the CPU, tiny, to test it
#
# Extra arguments go to the Python script (e.g. --total-minutes 7 --lm-minutes 3).
# On the GPU machine nothing is installed: emberfit runs from this checkout (PYTHONPATH), with the
# torch, numpy, pandas, safetensors and tqdm already there; spaCy is not needed for `run`.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}
cmd=${1:-}
shift || true
case "$cmd" in
  prep)
    data=${1:?usage: imdb_full_gpu.sh prep DATA_DIR}; shift
    $PY benchmarks/imdb_full_gpu.py prep --data "$data" "$@"
    ;;
  run)
    data=${1:?usage: imdb_full_gpu.sh run DATA_DIR [OUT]}; shift
    out=${1:-${OUT:-imdb_gpu_out}}; shift || true
    mkdir -p "$out"
    $PY -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), torch.cuda.get_device_name() if torch.cuda.is_available() else '')"
    $PY benchmarks/imdb_full_gpu.py run --data "$data" --out "$out" "$@" 2>&1 | tee "$out/run.log"
    ;;
  tiny)
    tmp=$(mktemp -d)
    $PY benchmarks/imdb_full_gpu.py prep --data "$tmp/data" --tiny 1000 "$@"
    $PY benchmarks/imdb_full_gpu.py run --data "$tmp/data" --out "$tmp/out" --work "$tmp/work" --tiny \
      --total-minutes 2.5 --lm-minutes 0.6 --clas-minutes 0.8 --small-minutes 0.4
    ls -l "$tmp/out"
    ;;
  *)
    sed -n '2,10p' "$0"; exit 2
    ;;
esac
