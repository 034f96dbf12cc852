#!/bin/bash
# Stand-in for gpubench, olmolab, nvidia-smi, compute-sanitizer and python3
# in gpu-check.sh's dry run (gpucheck_test.go): canned lines in the real
# programs' formats, every call logged with the environment it saw, and the
# failures a scenario asks for (STUB_* variables).
me=$(basename "$0")
echo "$me $* | ATTN=${OLMOLAB_GPU_ATTN-} CUDNN=${OLMOLAB_CUDNN-}" >>"$STUB_DIR/calls.log"
case "$me" in
nvidia-smi)
  echo "name, memory.total [MiB], driver_version, clocks.current.sm [MHz], clocks.max.sm [MHz]"
  echo "Stub H200, 143771 MiB, 580.159.04, 345 MHz, 1980 MHz" ;;
compute-sanitizer)
  while [ $# -gt 0 ]; do case "$1" in --tool | --error-exitcode) shift 2 ;; *) break ;; esac; done
  exec "$@" ;;
python3)
  if [ "$1" = scripts/torch_gpu_bench.py ]; then
    if [ -n "${STUB_TORCH_HANG:-}" ]; then
      echo "compiling"
      echo $$ >"$STUB_DIR/torch.pid"
      exec sleep 30
    fi
    echo "preset=olmo2_1B_v2 seq=4096 batch=8 tokens_per_s=62885"
  fi ;;
olmolab)
  echo "97 tensors compared in float32: 97 within tolerance, 0 outside" ;;
gpubench)
  case "$1" in
  info)
    echo "cuDNN: cuDNN 9.13.0 (stub)"
    echo "Stub H200: 139.2 of 139.8 GiB free" ;;
  parity)
    if [ -n "${STUB_V2_HANG:-}" ] && [ "${OLMOLAB_GPU_ATTN:-}" = v2 ]; then
      echo "step   1 ..."
      exit 124 # as timeout reports a command it stopped
    fi
    echo "parity cuda vs cpu (stub): largest relative loss difference 1.0e-04 (tolerance 3e-02)" ;;
  attn)
    if [ -n "${STUB_CUDNN_FAIL:-}" ] && [[ "$*" == *cudnn* ]]; then
      echo "gpubench: cudnn: CUDA_ERROR_ILLEGAL_ADDRESS"
      exit 1
    fi
    echo "attn (stub) fwd+bwd: all within tolerance and deterministic" ;;
  packed)
    if [ -n "${STUB_PACKED_FAIL:-}" ]; then
      echo "packed FAIL olmo2_1B_v2 on cuda, attention mma: max |Δ log p| 3.2 (stub)"
      exit 1
    fi
    echo "packed PASS $5 on $3: max |Δ log p| 0.01 (stub)" ;;
  bench)
    [ "${OLMOLAB_GPU_ATTN:-}" = auto ] && echo "olmo2_1B_v2: attention auto chose mma (stub)"
    echo "preset=$4 backend=cuda attn=${OLMOLAB_GPU_ATTN:-mma} tokens_per_s=1" ;;
  *) echo "gpubench $1 (stub)" ;;
  esac ;;
esac
exit 0
