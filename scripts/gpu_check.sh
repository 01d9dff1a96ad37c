#!/usr/bin/env bash
# The GPU benchmarks as one prepared run (four commands, each capped by timeout, 590 s in all), from the repo root:
#   bash scripts/gpu_check.sh            # logs in $OUT when set, else ./gpu_check_out
# Uses the machine's own torch, lightning, torchmetrics, pyarrow and h5py (it needs no pysam);
# the zoo runs from this checkout. zoo-predict end to end, the short inference-path check and the
# targets come first, so a run cut short still has them. DEVICE, BATCHES, RECORDS and PYTHON override
# the defaults (a smoke test on CPU: DEVICE=cpu BATCHES="4 8" RECORDS=256 PYTHON=.venv/bin/python).
set -uo pipefail
out=${OUT:-gpu_check_out}
device=${DEVICE:-cuda}
batches=${BATCHES:-2048}
py=${PYTHON:-python3}
mkdir -p "$out"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 | tee "$out/gpu.txt"
$py -c "import torch, lightning; print('torch', torch.__version__, 'lightning', lightning.__version__)" \
    2>&1 | tee -a "$out/gpu.txt"
# 0. zoo-predict end to end (FASTA in, 919-column Parquet out, DeepSEA bf16) against the model alone.
timeout 180 $py scripts/bench_pipeline.py --device "$device" --records "${RECORDS:-400000}" --batch-size 2048 \
    2>&1 | tee "$out/pipeline.log"
# 1. The inference paths: the plain model against the channels-last steps, fp32 (TF32 on/off), bf16
#    and bf16 compiled (Beluga, the slowest to time, is left to the grid).
# shellcheck disable=SC2086  # $batches is a list of numbers
timeout 120 $py scripts/bench_cuda_paths.py --device "$device" --models deepsea basset --batches 256 $batches \
    --compiled --calls 10 2>&1 | tee "$out/paths.log"
# 2. The targets: DeepSEA in bf16, eager and compiled, inference and training (a plain step,
#    and the Lightning task with precision=bf16-mixed, eager and compile=True).
# shellcheck disable=SC2086
timeout 210 $py scripts/bench.py --device "$device" --models deepsea --batches $batches --precisions bf16 \
    --modes eager compiled --compile-train --lightning --lightning-steps 10 --h2h-rounds 0 \
    2>&1 | tee "$out/targets.log"
# 3. The grid: every model at batch 64 and 256, fp32 and bf16, eager.
timeout 80 $py scripts/bench.py --device "$device" --modes eager --h2h-rounds 0 2>&1 | tee "$out/grid.log"
