#!/usr/bin/env bash
# One scripted GPU session for the CUDA backend (issue 14): the GPU tests against the CPU path
# and the exact references, then pp512/tg128 on a generated 2B4T-shaped model.
# Usage: device_check.sh DIR OUTDIR, DIR holding bin/ (bitnet_cli, test_cuda), lib/ (the shared
# libraries they need), fix/ (llama3-vocab.gguf, make_bitnet_gguf.py, reference/exact/).
set -uo pipefail
D=${1:?DIR}
OUT=${2:?OUTDIR}
export LD_LIBRARY_PATH="$D/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export BITNET_FIXTURES="$D/fix"
log() { echo "== $(date +%T) $*"; }

for f in "$D"/lib/*.xz; do [ -e "$f" ] && python3 -c "import lzma,sys; open(sys.argv[1][:-3],'wb').write(lzma.open(sys.argv[1]).read())" "$f"; done
log device
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.mem --format=csv
log "fixture: regenerate tiny-b158-i2s.gguf (deterministic numpy) and check its sha256"
python3 "$D/fix/make_bitnet_gguf.py" --vocab "$D/fix/llama3-vocab.gguf" --out "$D/fix/tiny-b158-i2s.gguf" \
  --weights i2s --name bitnet-b1.58-tiny-random 2>&1 | tail -1
echo "5da5afb83c5ccf86eb13c815cc27e438d3b997a44b8540e4378846d48ae66d8e  $D/fix/tiny-b158-i2s.gguf" | sha256sum -c

log "GPU tests (test_cuda; the F32-model host test needs tiny-b158-f32.gguf, not carried)"
"$D/bin/test_cuda" --gtest_filter='-CudaDevice.F32LayerMatricesAreUnsupported' 2>&1 | tee "$OUT/test_cuda.log"
log "GPU tests again with ordinary launches (BITNET_CUDA_PDL=0)"
BITNET_CUDA_PDL=0 "$D/bin/test_cuda" --gtest_filter='CudaKernels.*:CudaModel.*' 2>&1 | tail -3

log "2B4T-shaped model"
"$D/bin/bitnet_cli" gen-model --preset 2b4t -o /tmp/2b4t.gguf 2>&1 | tail -2
log "bench --device cuda (pp512, tg128)"
for pdl in 1 0 1; do  # PDL on, off, on: the spread between the two "on" runs is the noise
  echo "BITNET_CUDA_PDL=$pdl"
  BITNET_CUDA_PDL=$pdl "$D/bin/bitnet_cli" bench -m /tmp/2b4t.gguf --device cuda -p 512 -n 128 -r 5 \
    2>&1 | tee -a "$OUT/bench.log"
done
if [ "${SANITIZE:-1}" = 1 ] && command -v compute-sanitizer >/dev/null; then
  log "compute-sanitizer memcheck on the kernel test and the chunked model test"
  timeout 90 compute-sanitizer --tool memcheck --print-limit 5 "$D/bin/test_cuda" \
    --gtest_filter='CudaKernels.*:CudaModel.ChunksAndResetAgree' 2>&1 | tail -15
fi

if [ "${PROFILE:-0}" = 1 ] && command -v ncu >/dev/null; then
  log "ncu: per-kernel time of one graph-replayed decode step (2B4T, position 0)"
  timeout 150 ncu --clock-control none --metrics gpu__time_duration.sum --print-summary per-kernel \
    "$D/bin/bitnet_cli" bench -m /tmp/2b4t.gguf --device cuda -p 0 -n 1 -r 1 --no-warmup \
    > "$OUT/ncu.log" 2>&1
  grep -E "^  [a-z_].*\(|gpu__time_duration.sum|Invocations" "$OUT/ncu.log" | head -60
fi
log done
