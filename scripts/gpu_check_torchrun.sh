#!/usr/bin/env bash
# zoo-predict under torchrun (one process) against the plain command, on one FASTA file, from the
# repo root; gpu_check.sh runs it. Skipped, with a message, where zoo-predict has no multi-process
# scoring. Usage: bash scripts/gpu_check_torchrun.sh PYTHON DEVICE RECORDS FOLDER
set -uo pipefail
py=$1 device=$2 records=$3 folder=$4
if ! $py -c "import zoo.predict.running.distributed" 2>/dev/null; then
    echo "torchrun scoring: skipped, this zoo-predict has no multi-process scoring (zoo.predict.running.distributed)"
    exit 0
fi
mkdir -p "$folder"
records=$((records < 100000 ? records : 100000))
$py - "$folder" "$records" <<'PY' || exit 1
import sys
from pathlib import Path

sys.path.insert(0, "scripts")
import zoo
from bench_pipeline import write_fasta

folder, n = Path(sys.argv[1]), int(sys.argv[2])
model = zoo.create_model("deepsea").eval()
zoo.save_weights(model, folder / "model.safetensors")
write_fasta(folder / "records.fa", n, model.seq_len)
PY
args=(--weights "$folder/model.safetensors" --fasta "$folder/records.fa" --precision bf16 --device "$device"
      --batch-size 2048 --no-progress --overwrite)
if command -v zoo-predict >/dev/null; then
    launch=("$(command -v zoo-predict)")
else
    launch=(-m zoo.cli.predict)  # this checkout on PYTHONPATH, no console script installed
fi
start=$(date +%s.%N)
$py -m zoo.cli.predict "${args[@]}" --out "$folder/plain.parquet" || exit 1
plain=$(awk "BEGIN {print $(date +%s.%N) - $start}")
start=$(date +%s.%N)
$py -m torch.distributed.run --nproc-per-node=1 "${launch[@]}" "${args[@]}" --out "$folder/torchrun.parquet" || exit 1
dist=$(awk "BEGIN {print $(date +%s.%N) - $start}")
echo "zoo-predict, $records records, DeepSEA bf16: plain ${plain} s, torchrun (1 process) ${dist} s"
$py - "$folder" <<'PY'
import sys

import numpy as np
import pyarrow.parquet as pq

folder = sys.argv[1]
plain, dist = (pq.read_table(f"{folder}/{name}.parquet") for name in ("plain", "torchrun"))
numbers = [c for c in plain.column_names if plain.schema.field(c).type in ("float", "double")]
diff = max(
    float(np.abs(plain[c].to_numpy() - dist[c].to_numpy()).max()) for c in numbers
) if numbers and plain.num_rows == dist.num_rows else float("nan")
print(f"rows: plain {plain.num_rows}, torchrun {dist.num_rows}; largest |difference| {diff:.1e}")
PY
rm -f "$folder/records.fa" "$folder/model.safetensors" "$folder/plain.parquet" "$folder/torchrun.parquet"
