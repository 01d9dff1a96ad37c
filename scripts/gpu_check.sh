#!/usr/bin/env bash
# The GPU benchmarks as one prepared run (nine sections, each capped by timeout, 565 s in all), from the repo root:
#   bash scripts/gpu_check.sh            # logs in $OUT when set, else ./gpu_check_out
# Uses the machine's own torch, lightning, torchmetrics, pyarrow and h5py (it needs no pysam);
# the zoo runs from this checkout. The sections most wanted come first, so a run cut short still
# has them: Sei alone, zoo-predict end to end (DeepSEA, then Sei), multi-process scoring under
# torchrun, Sei ISM, then the DeepSEA targets, the inference paths and the grid. DEVICE, BATCHES,
# RECORDS, SEI_RECORDS and PYTHON override the defaults (a smoke test on CPU: DEVICE=cpu
# BATCHES="4 8" RECORDS=256 SEI_RECORDS=64 SEI_BATCH=2 PYTHON=.venv/bin/python).
set -uo pipefail
out=${OUT:-gpu_check_out}
device=${DEVICE:-cuda}
batches=${BATCHES:-2048}
sei_batch=${SEI_BATCH:-64}
py=${PYTHON:-python3}
mkdir -p "$out"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 | tee "$out/gpu.txt"
$py -c "import torch, lightning; print('torch', torch.__version__, 'lightning', lightning.__version__)" \
    2>&1 | tee -a "$out/gpu.txt"
# 0. Sei alone (paper size): the channels-last path in bf16 and fp32 (TF32), and the plain model in
#    bf16, each as a share of the matmul peak timed in the same rounds; then compiled.
timeout 70 $py scripts/bench_sei.py --device "$device" --batch "$sei_batch" --rounds 3 --plain \
    2>&1 | tee "$out/sei.log"
timeout 50 $py scripts/bench_sei.py --device "$device" --batch "$sei_batch" --rounds 2 --precisions bf16 \
    --compile 2>&1 | tee "$out/sei_compiled.log"
# 1. zoo-predict end to end (FASTA in, 919-column Parquet out, DeepSEA bf16) against the model alone.
timeout 100 $py scripts/bench_pipeline.py --device "$device" --records "${RECORDS:-200000}" --batch-size 2048 \
    2>&1 | tee "$out/pipeline.log"
# 2. The same for Sei (4096 bp, 21,907 columns), without the scoring loops: the model alone, the stages,
#    the command on a quarter of the records and on all (its steady state), the model alone again.
timeout 80 $py scripts/bench_pipeline.py --device "$device" --model sei --records "${SEI_RECORDS:-4096}" \
    --command-only --batch-size "$sei_batch" 2>&1 | tee "$out/pipeline_sei.log"
# 3. Multi-process scoring: zoo-predict under torchrun (one process on this one GPU) against the
#    plain command on the same file, DeepSEA bf16.
timeout 45 bash scripts/gpu_check_torchrun.sh "$py" "$device" "${RECORDS:-200000}" "$out/torchrun" \
    2>&1 | tee "$out/torchrun.log"
# 4. Sei ISM over 32 positions mid-sequence: zoo.interpret.ism's default method against naive ISM.
timeout 40 $py scripts/bench_sei.py --device "$device" --batch 1 --rounds 1 --precisions bf16 \
    --ism-window 32 2>&1 | tee "$out/sei_ism.log"
# 5. The targets: DeepSEA in bf16, eager and compiled, inference and training (a plain step,
#    and the Lightning task with precision=bf16-mixed, eager and compile=True).
# shellcheck disable=SC2086  # $batches is a list of numbers
timeout 100 $py scripts/bench.py --device "$device" --models deepsea --batches $batches --precisions bf16 \
    --modes eager compiled --compile-train --lightning --lightning-steps 10 --h2h-rounds 0 \
    2>&1 | tee "$out/targets.log"
# 6. The inference paths: the plain model against the channels-last steps, fp32 (TF32 on/off), bf16
#    and bf16 compiled (Beluga, the slowest to time, is left to the grid).
# shellcheck disable=SC2086
timeout 45 $py scripts/bench_cuda_paths.py --device "$device" --models deepsea basset --batches 256 $batches \
    --compiled --calls 10 2>&1 | tee "$out/paths.log"
# 7. The grid: every model at batch 64 and 256, fp32 and bf16, eager.
timeout 35 $py scripts/bench.py --device "$device" --modes eager --h2h-rounds 0 2>&1 | tee "$out/grid.log"
