#!/bin/bash
# Stand-in for gpubench, olmolab, nvidia-smi, compute-sanitizer and python3
# in gpu-check.sh's dry run (gpucheck_test.go): canned lines in the real
# programs' formats, every call logged with the environment it saw, and the
# failures a scenario asks for (STUB_* variables). A comparison script on
# python3's stdin runs on the real python3.
me=$(basename "$0")
# arg NAME ARGS...: the value after NAME in ARGS
arg() {
  local k=$1
  shift
  while [ $# -gt 1 ]; do
    [ "$1" = "$k" ] && echo "$2" && return
    shift
  done
}
# stubplan B T: a plan as Plan.String says it, the same for bench and plan
stubplan() { echo "bf16, $1×$2 per step in passes of 1×$2, 21 of 32 layers resident, 1728 logit rows per chunk, 139.06 GiB"; }
echo "$me $* | ATTN=${OLMOLAB_GPU_ATTN-} CUDNN=${OLMOLAB_CUDNN-} FUSE=${OLMOLAB_GPU_FUSE-}" >>"$STUB_DIR/calls.log"
# STUB_FUSE_FAIL: the fused norm backward faults: every engine run on it fails
if [ -n "${STUB_FUSE_FAIL:-}" ] && [ "${OLMOLAB_GPU_FUSE:-1}" != 0 ] && [ "$me" != python3 ] && [ "$me" != nvidia-smi ] &&
  [ "${1:-}" != info ] && [ "${1:-}" != plan ] && [ "${1:-}" != attn ]; then
  echo "gpubench: gpu: launch rms_bwd_dw_act_bf16: CUDA_ERROR_ILLEGAL_ADDRESS (stub)"
  exit 1
fi
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
    echo "preset=olmo2_1B_v2 seq=4096 batch=8 tokens_per_s=62885 step_ms=521.1 mfu=0.591 peak_mem_gib=75.7 compiled=True loss=10.9"
    [ -z "${STUB_TORCH_190M_FAIL:-}" ] && echo "preset=olmo2_190M seq=4096 batch=8 tokens_per_s=293325 step_ms=111.7 mfu=0.473 peak_mem_gib=28.2 compiled=True loss=10.9"
  elif [ "$1" = - ]; then # a script on stdin (the checks' comparisons): the real python3
    IFS=: read -ra dirs <<<"$PATH"
    for d in "${dirs[@]}"; do
      [ "$d" != "$(dirname "$0")" ] && [ -x "$d/python3" ] && exec "$d/python3" "$@"
    done
  fi ;;
olmolab)
  case "$1" in
  train)
    # a checkpoint of cpu_l only: cpu_s's eval part stays skipped (TestDryRun)
    if [[ " $* " == *" cpu_l "* ]]; then
      out="$*"
      out=${out##*--out }
      mkdir -p "${out%% *}" && echo '{}' >"${out%% *}/config.json"
    fi
    echo "saved (stub)" ;;
  eval)
    json="$*"
    json=${json##*--json }
    d=0
    if [ "${OLMOLAB_GPU_ATTN:-}" = cudnn ]; then
      [ -n "${STUB_EVAL_DIFF:-}" ] && d=0.5
      echo "2026/11/29 08:00:00 gpu: attention cudnn: cuDNN 9.13.0 (stub), B=16 T=256 NH=8 NKV=8 HS=64: engine 8" >&2
      echo "2026/11/29 08:00:00 gpu: attention cudnn cannot take a scorer of 72-token rows (stub): it runs mma instead" >&2
    fi
    printf '{"scores": [{"task": "fact_qa_seen", "metrics": {"bits_per_byte_corr": 1.77}}, {"task": "val/qa", "metrics": {"ce_loss": %s}}]}\n' \
      "$(awk "BEGIN{print 7.7 + $d}")" >"${json%% *}"
    echo "140 requests in 2 forwards of 56x72 to 256x16 on cuda (stub)" ;;
  *) echo "97 tensors compared in float32${2:+ on $(arg --backend "$@")}: 97 within tolerance, 0 outside" ;; # olmolab verify's line
  esac ;;
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
    echo "parity cuda vs cpu (stub): largest relative loss difference 1.0e-04 (tolerance 3e-02)"
    steps=$(arg --steps "$@")
    if [ -n "$(arg --calibrate "$@")" ]; then
      echo "RESULT {\"check\": \"parity\", \"steps\": $steps, \"max_rel_loss_diff\": 0.0043, \"cpu_f32_drift\": 0.0052, \"backend_drift\": 0.0041, \"drift_ratio\": 0.79, \"calibrate\": 3}"
    else
      echo "RESULT {\"check\": \"parity\", \"steps\": $steps, \"max_rel_loss_diff\": 0.0001, \"tol\": 0.03}"
    fi ;;
  verify)
    if [ -n "${STUB_VERIFY_FAIL:-}" ] && [[ "$*" == *olmo2-gqa* ]]; then
      echo "$(arg --case "$@"): 91 tensors, 1 outside tolerance (fwd 3e-02, bwd 6e-02) on cuda"
      echo 'RESULT {"check": "verify", "tensors": 91, "failed": 1, "worst": "step1.q_proj", "worst_rel": 0.071}'
      exit 1
    fi
    echo "$(arg --case "$@"): 65 tensors, 0 outside tolerance (fwd 3e-02, bwd 6e-02) on cuda"
    echo 'RESULT {"check": "verify", "tensors": 65, "failed": 0, "worst": "step1.v_proj", "worst_rel": 0.035}' ;;
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
    echo "$5: plan $(stubplan "$7" "$9"), attention ${OLMOLAB_GPU_ATTN:-mma}"
    [ "${OLMOLAB_GPU_ATTN:-}" = auto ] && echo "olmo2_1B_v2: attention auto chose mma (stub)"
    echo "preset=$5 backend=cuda attn=${OLMOLAB_GPU_ATTN:-mma} seq=$9 batch=$7 tokens_per_s=35157 mfu=0.330 used_mem_gib=77.8"
    echo "RESULT {\"check\": \"bench\", \"preset\": \"$5\", \"attention\": \"${OLMOLAB_GPU_ATTN:-mma}\", \"seq\": $9, \"batch\": $7, \"tokens_per_s\": 35157, \"mfu\": 0.33, \"used_mem_gib\": 77.8}" ;;
  plan)
    echo "environment: ${OLMOLAB_GPU_ATTN:+OLMOLAB_GPU_ATTN=$OLMOLAB_GPU_ATTN} (attention ${OLMOLAB_GPU_ATTN:-mma})"
    [ "${OLMOLAB_GPU_ATTN:-}" = auto ] && echo "cuDNN: this GPU's cuDNN 9.13.0 (stub) takes $7-token rows: its workspace reserved in the plan"
    p=$(stubplan "$5" "$7")
    [ -n "${STUB_PLAN_DIFF:-}" ] && [ "$3" = olmo2_7B ] && p=${p/21 of/22 of}
    echo "plan with 139.20 GiB free: $p" ;;
  *) echo "gpubench $1 (stub)" ;;
  esac ;;
esac
exit 0
