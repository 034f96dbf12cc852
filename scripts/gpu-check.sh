#!/usr/bin/env bash
# The CUDA engine's check on a GPU machine (issue 8), in one call of a few
# minutes. Run it from the repository root ON THE GPU, with the binaries built
# here by scripts/gpu-build.sh (no Go is needed there):
#
#   device run:  bash scripts/gpu-check.sh   carry: [".device/bin", ".device/ref"]   timeout_s: 600
#
# The device tool sends the checkout the session was started in, also when a
# helper calls from its own worktree: build .device there (or copy it there).
# Parts, most important first, each under `timeout`, each continuing after a
# failure; a part that would start past the time budget (BUDGET seconds,
# default 540) is skipped and reported as such. A part may run 10 s past the
# budget (timeout's kill grace) and the summary takes a few more: keep BUDGET
# at least 45 s under the call's limit (the device tool's limit_s is
# timeout_s, or less where less device time is left: read status's
# budget_left_s first; the machine's start counts too). The last run
# (2026-11-28, parts 1-7 of the older order) filled a 480 s budget, so the
# order puts what issue 8 must show in one call first:
#   1. machine: GPU, driver, libcuda and cuBLAS (searched for if the engine's
#      own search misses it)
#   0. the fused norm backward (OLMOLAB_GPU_FUSE): a bf16 golden verify and
#      a short loss parity; where either fails, the parts below run with
#      OLMOLAB_GPU_FUSE=0 (the kernels before it), said in the summary
#   A. the v2 attention kernels (gpu/kernels/attention_v2.cu; never run on a
#      GPU before this check): loss parity at head sizes 64 and 128 with GQA.
#      Where both hold, the benchmarks run with OLMOLAB_GPU_ATTN=auto (the
#      engine times mma and the v2 layouts on its own shape at start, keeps
#      the fastest that agrees with mma, and reports its choice); else with
#      the default kernels. V2=v2:F/Q/K picks another v2 layout for parity.
#      Then cuDNN's fused attention (OLMOLAB_GPU_ATTN=cudnn, never run on a
#      GPU before this check) against mma at olmo2_1B_v2's attention shape
#      (gpubench attn: outputs compared, a bit-for-bit repeat, ms); auto
#      considers it too, and where v2 failed but cudnn passed the benchmarks
#      use cudnn.
#   B. olmo2_1B_v2 at 8×4096 (tokens/s, MFU), then PyTorch's OLMo 2 on the
#      same GPU (scripts/torch_gpu_bench.py --compile, olmo2_1B_v2 and
#      olmo2_190M), then olmo2_190M at 8×4096 and five steps of olmo2_7B at
#      4×4096 (tokens/s, MFU, memory)
#   C. golden checks: olmolab verify --backend cuda-fp32 (CPU tolerances) and
#      gpubench verify --backend cuda (bf16 tolerances) on both golden sets;
#      loss parity with the CPU engine over 50 steps of cpu_s (fp32 judged
#      against the float64 engine, bf16)
#   then packed scoring (gpubench packed: a question's choices in one row,
#      as olmolab eval scores them) against plain rows, bf16 and fp32
#   D. for the next round of speed work: olmo2_1B_v2 with the default (mma)
#      kernels, the attention kernels alone (gpubench attn: mma against the v2
#      layouts, ms and TFLOP/s per kernel, outputs compared, a bit-for-bit
#      repeat) and a profile (device time per operation, CUDA events)
#   E. compute-sanitizer memcheck, racecheck and synccheck of the v2 kernels;
#      parity of the mma kernels at head sizes 64 and 128; olmolab train
#      --backend cuda against the CPU run carried in .device/ref, then
#      olmolab eval of its checkpoint on the GPU's forward-only engine
#      against the CPU's scores
#   F. gpubench plan against the plan each benchmark's engine reported, under
#      the same environment; cuDNN's attention in scoring (olmolab eval of a
#      cpu_l checkpoint, head size 64, with OLMOLAB_GPU_ATTN=cudnn and mma:
#      which rows cuDNN ran, which it refused, the scores compared; ~15 s,
#      skipped whole when under 60 s of the budget are left)
# Before the parts: the binaries' source stamp (.device/bin/sources.sha256,
# written by gpu-build.sh) is checked against this tree, and files that
# changed since the build are named in the summary (the run goes on).
# The summary ends with issue 8's figures, one PASS/FAIL/MISSING line each
# (the golden sets on both verifies, GPU vs CPU loss over 50 steps,
# olmo2_190M and olmo2_1B_v2 at 4096 against PyTorch in the same call,
# olmo2_7B's steps: tokens/s, MFU, memory), for docs/gpu-results.md.
# Results (at most five files, as the device tool returns at most eight):
# $OUT/summary.txt (also printed), $OUT/results.jsonl (the RESULT lines),
# $OUT/check.log (every part's output, at most 1 MiB a part), $OUT/logs.tar.gz
# (one log per part, rewritten after each part so a killed run still returns
# what it did) and, only when the call is killed inside a part, that part's
# output so far in $OUT/running.log.
set -u
cd "$(dirname "$0")/.." || exit 1
OUT=${OUT:-$PWD/.device/out}
mkdir -p "$OUT"
LOGROOT=$(mktemp -d)
mkdir -p "$LOGROOT/logs"
LOGS=$LOGROOT/logs
BIN=${BIN:-$PWD/.device/bin}
BUDGET=${BUDGET:-540}
T0=$(date +%s)
SUMMARY=$OUT/summary.txt
RESULTS=$OUT/results.jsonl
: >"$SUMMARY"
: >"$RESULTS"
: >"$OUT/check.log"
export PYTHONUNBUFFERED=1

say() { echo "$*" | tee -a "$SUMMARY"; }

# part NAME LIMIT CMD...: runs CMD under timeout (at most LIMIT seconds and
# what is left of the budget), logs it, records its status and RESULT lines.
part() {
  local name=$1 limit=$2
  shift 2
  local left=$((BUDGET - ($(date +%s) - T0)))
  if [ "$left" -lt 15 ]; then
    say "$(printf '%-28s %-8s %s' "$name" SKIPPED "no time left in the ${BUDGET}s budget")"
    return 0
  fi
  [ "$limit" -gt "$left" ] && limit=$left
  local log=$LOGS/$name.log start rc
  start=$(($(date +%s) - T0))
  # into $OUT while it runs: a call killed inside the part still returns it
  echo "### $name (at ${start}s of the budget, limit ${limit}s): $*" >"$OUT/running.log"
  timeout -k 10 "$limit" "$@" >>"$OUT/running.log" 2>&1
  rc=$?
  mv "$OUT/running.log" "$log"
  if [ "$(stat -c %s "$log")" -le $((1 << 20)) ]; then
    cat "$log" >>"$OUT/check.log"
  else # a runaway log must not push check.log past what the tool returns (16 MiB)
    { head -c $((512 << 10)) "$log"; printf '\n[... %s bytes in all: logs.tar.gz has the whole log ...]\n' "$(stat -c %s "$log")"
      tail -c $((512 << 10)) "$log"; } >>"$OUT/check.log"
  fi
  grep '^RESULT ' "$log" | sed "s/^RESULT //" >>"$RESULTS"
  local status=ok took=$(($(date +%s) - T0 - start))
  # 137 is timeout's KILL after the grace, or a kill from outside (the OOM killer)
  if [ $rc -eq 124 ] || { [ $rc -eq 137 ] && [ "$took" -ge "$limit" ]; }; then
    status=TIMEOUT
  elif [ $rc -ne 0 ]; then
    status="FAIL($rc)"
  fi
  local line
  line=$(grep -E '^(preset=|parity |packed (PASS|FAIL) |.*tensors compared|.*outside tolerance|worst )' "$log" | tail -n 1)
  [ -z "$line" ] && line=$(tail -n 1 "$log")
  say "$(printf '%-28s %-8s %4ss  %s' "$name" "$status" "$took" "${line:0:200}")"
  savelogs
  return 0
}

# savelogs rewrites $OUT/logs.tar.gz whole (a call killed while it writes
# leaves the previous one).
savelogs() {
  tar -C "$LOGROOT" -czf "$OUT/logs.tmp.tar.gz" logs && mv "$OUT/logs.tmp.tar.gz" "$OUT/logs.tar.gz"
}

# ok NAME: the part NAME ran and passed; hung NAME: it ran out of time.
ok() { grep -qE "^$1 +ok " "$SUMMARY"; }
hung() { grep -qE "^$1 +TIMEOUT " "$SUMMARY"; }

say "olmolab CUDA engine check, $(date -u +%Y-%m-%dT%H:%M:%SZ), budget ${BUDGET}s"
{
  nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.max.sm --format=csv 2>&1
  ldd --version 2>&1 | head -1
  echo "binaries:"; ls -l "$BIN" 2>&1
  ldd "$BIN/olmolab" 2>&1
  echo "cuBLAS and cuDNN candidates:"
  ls /opt/*/.venv/lib/python3*/site-packages/nvidia/*/lib/libcublas.so.* /usr/local/cuda/lib64/libcublas.so.* 2>/dev/null
  ls /opt/*/.venv/lib/python3*/site-packages/nvidia/cudnn/lib/libcudnn.so.* /usr/local/lib/python3*/dist-packages/nvidia/cudnn/lib/libcudnn.so.* 2>/dev/null
  ldconfig -p 2>/dev/null | grep -E 'libcuda\.so|libcublas|libcudnn\.so' | head
  command -v compute-sanitizer python3 nvcc tar sha256sum
} >"$LOGS/machine.log" 2>&1
cat "$LOGS/machine.log" >>"$OUT/check.log"
say "$(head -2 "$LOGS/machine.log" | tail -1)"

if [ ! -x "$BIN/olmolab" ] || [ ! -x "$BIN/gpubench" ]; then
  say "no binaries in $BIN: run scripts/gpu-build.sh on the build machine and carry .device/bin and .device/ref"
  exit 1
fi
# Were the binaries built from this tree? gpu-build.sh stamps the sources
# that go into them; what changed since is named (the run goes on: the
# figures are then those of the stamped build).
if [ -f "$BIN/sources.sha256" ]; then
  stale=$(sha256sum -c --quiet "$BIN/sources.sha256" 2>&1 | grep -v '^sha256sum:' | cut -d: -f1 | head -20 | tr '\n' ' ')
  if [ -n "$stale" ]; then
    say "WARNING: the binaries were built from other sources than this tree (rerun scripts/gpu-build.sh): ${stale:0:400}"
  else
    say "binaries: built from this tree's sources ($(wc -l <"$BIN/sources.sha256") files stamped)"
  fi
else
  say "WARNING: no source stamp in $BIN (built before gpu-build.sh wrote one): whether they match this tree is not known"
fi
# The binaries need libcuda.so.1 from the driver; help the loader if it misses it.
if ldd "$BIN/gpubench" 2>/dev/null | grep -q 'libcuda.so.1 => not found'; then
  d=$(timeout 30 find /usr/local/nvidia /usr/lib /usr/lib64 /usr/local -name libcuda.so.1 2>/dev/null | head -1)
  [ -n "$d" ] && d=$(dirname "$d") && export LD_LIBRARY_PATH="$d${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" && say "libcuda.so.1 from $d"
fi
# Open the GPU and cuBLAS once; if cuBLAS is not where the engine looks, find one.
if ! timeout 120 "$BIN/gpubench" info >"$LOGS/info.log" 2>&1; then
  if grep -q 'no usable cuBLAS' "$LOGS/info.log"; then
    lib=$(timeout 30 find / -xdev -name 'libcublas.so.1[0-9]' 2>/dev/null | sort -r | head -1)
    [ -n "$lib" ] && export OLMOLAB_CUBLAS=$lib && say "OLMOLAB_CUBLAS=$lib"
    timeout 60 "$BIN/gpubench" info >>"$LOGS/info.log" 2>&1
  fi
fi
# cuDNN likewise (gpubench info says "cuDNN: none usable" when its search misses it)
if grep -q '^cuDNN: none' "$LOGS/info.log"; then
  lib=$(timeout 30 find / -xdev -name 'libcudnn.so.9' 2>/dev/null | sort | head -1)
  [ -n "$lib" ] && export OLMOLAB_CUDNN=$lib && say "OLMOLAB_CUDNN=$lib" && timeout 60 "$BIN/gpubench" info >>"$LOGS/info.log" 2>&1
fi
cat "$LOGS/info.log" >>"$OUT/check.log"
say "$(grep '^cuDNN' "$LOGS/info.log" | tail -1)"
say "device: $(tail -1 "$LOGS/info.log")"

G=model/testdata/golden
# 0. the fused norm backward (rows.cu rms_bwd_dw and rms_dw_reduce8, the
# default since 2026-11-29; never run on a GPU before this check): a bf16
# verify of the GQA golden set (every gradient against float64) and 20 steps
# of loss parity with the CPU engine, synchronised after every launch so that
# a fault names its kernel. Where either fails or runs out of time, every
# later part runs the kernels before it (OLMOLAB_GPU_FUSE=0, exported), and
# the summary says so.
part fuse-verify-bf16 60 env OLMOLAB_GPU_SYNC=1 "$BIN/gpubench" verify --backend cuda --model $G/olmo2-gqa --case $G/olmo2-gqa/case.safetensors --fwd 3e-2 --bwd 6e-2
part fuse-parity-cpu_s 120 env OLMOLAB_GPU_SYNC=1 "$BIN/gpubench" parity --backend cuda --preset cpu_s --heads 2 --steps 20 --batch 4 --seq 160
if ok fuse-verify-bf16 && ok fuse-parity-cpu_s; then
  say "fused norm backward passed its check: the parts below run it (the default)"
else
  export OLMOLAB_GPU_FUSE=0
  say "fused norm backward FAILED its check: the parts below run the unfused kernels (OLMOLAB_GPU_FUSE=0)"
fi

# A. the v2 attention. OLMOLAB_GPU_SYNC=1 in the parity runs names a faulting
# kernel. The sanitizer and attn runs launch only the attention kernels, on
# T=200 (not a multiple of the tiles) with both warp counts of each kernel.
V2=${V2:-v2}
ATTN_SMALL=(--batch 2 --seq 200 --iters 1 --variants v2:8/4/8,v2:4/8/4)
# A v2 kernel that hangs (a parity part that runs out of time: these take
# seconds) would hang every later v2 part as long, taking the budget of the
# parts after them: once one has, the other v2 parts are skipped.
V2_HUNG=
v2hung() { hung "$1" && V2_HUNG=$1 && say "v2 hung in $1: the other v2 parts are skipped (they would hang as long)"; }
part parity-v2-hs64 120 env OLMOLAB_GPU_SYNC=1 OLMOLAB_GPU_ATTN="$V2" "$BIN/gpubench" parity --backend cuda --preset cpu_s --heads 2 --steps 20 --batch 4 --seq 160
v2hung parity-v2-hs64
[ -z "$V2_HUNG" ] && part parity-v2-hs128-gqa 150 env OLMOLAB_GPU_SYNC=1 OLMOLAB_GPU_ATTN="$V2" "$BIN/gpubench" parity --backend cuda --preset cpu_m --heads 2 --kv-heads 1 --steps 20 --batch 4 --seq 160
v2hung parity-v2-hs128-gqa
# cuDNN's attention against mma at olmo2_1B_v2's attention shape (the first
# call builds its graphs: runtime-compiled kernels, seconds)
part attn-cudnn-olmo2_1B_v2 120 env OLMOLAB_GPU_SYNC=1 "$BIN/gpubench" attn --preset olmo2_1B_v2 --batch 8 --seq 4096 --iters 5 --variants mma,cudnn
# auto tries cuDNN too where it loads: one that failed (or faulted, or hung)
# here is kept out of auto's trial, which would otherwise fail the
# benchmark's start and lose v2's figures with it
AUTOENV=()
if ! ok attn-cudnn-olmo2_1B_v2; then
  AUTOENV=(OLMOLAB_CUDNN=none)
fi
ATTN=mma
if ok parity-v2-hs64 && ok parity-v2-hs128-gqa; then
  ATTN=auto
  [ ${#AUTOENV[@]} -gt 0 ] && say "cudnn failed its check above: auto runs without it (OLMOLAB_CUDNN=none)"
elif ok attn-cudnn-olmo2_1B_v2; then
  ATTN=cudnn
  say "v2 parity failed or did not run, cudnn agrees with mma: the benchmarks use cudnn"
else
  say "v2 parity failed or did not run: the benchmarks use the default (mma) kernels"
fi

# B. throughput against PyTorch in the same call, then 190M and 7B
part "bench-olmo2_1B_v2-$ATTN" 180 env OLMOLAB_GPU_ATTN=$ATTN "${AUTOENV[@]}" "$BIN/gpubench" bench --backend cuda --preset olmo2_1B_v2 --batch 8 --seq 4096 --steps 10 --warmup 2
if [ "$ATTN" != mma ]; then
  [ "$ATTN" = auto ] && say "  $(grep -m1 -h 'attention auto chose' "$LOGS/bench-olmo2_1B_v2-auto.log" 2>/dev/null || echo 'auto: no choice reported')"
  # a v2 kernel or cuDNN graph that failed at full scale must not take the other benchmarks down
  if ! ok "bench-olmo2_1B_v2-$ATTN"; then
    say "$ATTN failed at olmo2_1B_v2: the benchmarks below use mma"
    ATTN=mma
    part bench-olmo2_1B_v2-mma 180 env OLMOLAB_GPU_ATTN=mma "$BIN/gpubench" bench --backend cuda --preset olmo2_1B_v2 --batch 8 --seq 4096 --steps 10 --warmup 2
  fi
fi
part torch-bench 360 python3 scripts/torch_gpu_bench.py --preset olmo2_1B_v2 --batch 8 --preset olmo2_190M --batch 8 --compile
part "bench-olmo2_190M-$ATTN" 120 env OLMOLAB_GPU_ATTN=$ATTN "${AUTOENV[@]}" "$BIN/gpubench" bench --backend cuda --preset olmo2_190M --batch 8 --seq 4096 --steps 10 --warmup 2
part "bench-olmo2_7B-$ATTN" 240 env OLMOLAB_GPU_ATTN=$ATTN "${AUTOENV[@]}" "$BIN/gpubench" bench --backend cuda --preset olmo2_7B --batch 4 --seq 4096 --steps 5 --warmup 1

# C. golden sets; OLMOLAB_GPU_SYNC=1 synchronises after every launch so a
# faulting kernel is named by the error (these models are tiny).
for set in olmo2-tiny olmo2-gqa; do
  part "verify-fp32-$set" 120 env OLMOLAB_GPU_SYNC=1 "$BIN/olmolab" verify --backend cuda-fp32 --model $G/$set --case $G/$set/case.safetensors
done
for set in olmo2-tiny olmo2-gqa; do
  part "verify-bf16-$set" 60 env OLMOLAB_GPU_SYNC=1 "$BIN/gpubench" verify --backend cuda --model $G/$set --case $G/$set/case.safetensors --fwd 3e-2 --bwd 6e-2
done
# parity with the CPU engine (which runs on this machine's CPUs). fp32 is
# judged against float32 rounding itself: the float64 CPU engine trains
# alongside, and the GPU's drift from it may be at most 3× the float32 CPU
# engine's (on the Debian machine the CPU's own drift over these 50 steps is
# 5.2e-3).
part parity-fp32-cpu_s 180 "$BIN/gpubench" parity --backend cuda-fp32 --preset cpu_s --steps 50 --batch 8 --seq 64 --calibrate 3
part parity-bf16-cpu_s 120 "$BIN/gpubench" parity --backend cuda --preset cpu_s --steps 50 --batch 8 --seq 64

# Packed scoring (Engine.LogProbsPacked: olmolab eval scores a question's
# choices in one row, the context once; its kernels never ran on a GPU
# before this check): gpubench packed scores the same requests packed and
# plain, PASS/FAIL on the largest |Δ log p| and the time of both. About
# 15 s (olmo2_1B_v2's weights, forwards of 32×1056 packed and 128×1032
# plain rows, four of each), then the fp32 engine's packed kernel on cpu_s
# (seconds). A failure is recorded; the parts after run as ever. After B and C:
# issue 8 asks for those in one call; this one it does not.
part packed-scoring-bf16 60 "$BIN/gpubench" packed --backend cuda --preset olmo2_1B_v2
part packed-scoring-fp32 40 "$BIN/gpubench" packed --backend cuda-fp32 --preset cpu_s --questions 8 --context 200 --cont 6

# D. where the time goes, for the next round of speed work
grep -qE '^bench-olmo2_1B_v2-mma ' "$SUMMARY" || part bench-olmo2_1B_v2-mma 180 env OLMOLAB_GPU_ATTN=mma "$BIN/gpubench" bench --backend cuda --preset olmo2_1B_v2 --batch 8 --seq 4096 --steps 10 --warmup 2
ATTN_VARIANTS=mma,v2:8/4/4,v2:4/8/8
case "$V2" in v2 | v2:8/4/4 | v2:4/8/8) ;; *) ATTN_VARIANTS+=",$V2" ;; esac
[ -n "$V2_HUNG" ] && ATTN_VARIANTS=mma # mma's per-kernel times still
part attn-olmo2_1B_v2 120 "$BIN/gpubench" attn --preset olmo2_1B_v2 --batch 8 --seq 4096 --iters 10 --variants "$ATTN_VARIANTS"
part "profile-olmo2_1B_v2-$ATTN" 120 env OLMOLAB_GPU_ATTN=$ATTN "${AUTOENV[@]}" "$BIN/gpubench" bench --backend cuda --preset olmo2_1B_v2 --batch 8 --seq 4096 --steps 3 --warmup 1 --profile

# E. sanitizers, the mma kernels' parity, the olmolab binary's own loop.
# compute-sanitizer: on the PATH, else where CUDA installs it.
SAN=$(command -v compute-sanitizer)
for f in /usr/local/cuda*/bin/compute-sanitizer /usr/local/cuda*/compute-sanitizer/compute-sanitizer; do
  [ -z "$SAN" ] && [ -x "$f" ] && SAN=$f
done
if [ -z "$SAN" ]; then
  say "compute-sanitizer not found: the sanitizer parts are skipped"
elif [ -n "$V2_HUNG" ]; then
  say "v2 hung in $V2_HUNG: its sanitizer parts are skipped"
else
  part memcheck-v2-hs64 90 "$SAN" --tool memcheck --error-exitcode 9 "$BIN/gpubench" attn "${ATTN_SMALL[@]}" --heads 4 --kv-heads 2 --head-size 64
  part memcheck-v2-hs128 90 "$SAN" --tool memcheck --error-exitcode 9 "$BIN/gpubench" attn "${ATTN_SMALL[@]}" --heads 4 --kv-heads 2 --head-size 128
  part racecheck-v2-hs128 120 "$SAN" --tool racecheck --error-exitcode 9 "$BIN/gpubench" attn "${ATTN_SMALL[@]}" --heads 4 --kv-heads 2 --head-size 128
  part synccheck-v2-hs64 60 "$SAN" --tool synccheck --error-exitcode 9 "$BIN/gpubench" attn "${ATTN_SMALL[@]}" --heads 4 --kv-heads 2 --head-size 64
fi
part parity-mma-hs64 120 "$BIN/gpubench" parity --backend cuda --preset cpu_s --heads 2 --steps 20 --batch 4 --seq 160
part parity-mma-hs128-gqa 150 "$BIN/gpubench" parity --backend cuda --preset cpu_m --heads 2 --kv-heads 1 --steps 20 --batch 4 --seq 160
CK=$LOGROOT/ck-cpu_s
part train-cuda-cpu_s 90 "$BIN/olmolab" train --backend cuda --preset cpu_s --steps 50 --batch 8 --seq 64 --seed 1 --out "$CK"
if [ ! -f .device/ref/cpu_s_train.txt ]; then
  say "no .device/ref/cpu_s_train.txt (carry .device/ref): the CUDA run's losses are not compared"
elif grep -q '^step' "$LOGS/train-cuda-cpu_s.log" 2>/dev/null; then
  say "train cpu_s, loss at steps 1/20/40/50:"
  say "  cpu  $(awk '/^step/{printf "%s ", $4}' .device/ref/cpu_s_train.txt)"
  say "  cuda $(awk '/^step/{printf "%s ", $4}' "$LOGS/train-cuda-cpu_s.log")"
elif [ -f "$LOGS/train-cuda-cpu_s.log" ]; then
  say "train cpu_s: no losses from the CUDA run (train-cuda-cpu_s's log)"
fi
# forward-only scoring (gpu.NewScoring, never run on a GPU before this check)
# and its Scorer at the requests' rows, on the checkpoint just trained,
# against the CPU engine's scores of the same checkpoint (seconds each)
if [ -f "$CK/config.json" ]; then
  for be in cuda cpu; do
    part "eval-$be-cpu_s" 60 "$BIN/olmolab" eval --backend $be --model "$CK" --tasks builtin --limit 50 --seq 256 --json "$LOGS/eval-$be.json"
  done
  python3 - "$LOGS/eval-cpu.json" "$LOGS/eval-cuda.json" <<'PY' 2>&1 | tee -a "$SUMMARY"
import json, sys
try:
    c, g = (json.load(open(f)) for f in sys.argv[1:3])
except Exception as e:
    sys.exit(f"eval cpu vs cuda: no comparison ({e})")
print(f"eval cpu_s, cpu vs cuda (bf16): batch {c['batch']} vs {g['batch']}")
worst = 0.0
for a, b in zip(c["scores"], g["scores"]):
    p = a["primary_metric"]
    bpb = "bits_per_byte_corr"
    d = abs(a["metrics"].get(bpb, 0) - b["metrics"].get(bpb, 0))
    worst = max(worst, d)
    print(f"  {a['task']:18s} {p} {a['metrics'][p]:.4f} vs {b['metrics'][p]:.4f}  {bpb} {a['metrics'].get(bpb, 0):.4f} vs {b['metrics'].get(bpb, 0):.4f}")
print(f"  largest {bpb} difference {worst:.4f} (bf16: expect a few 1e-3)")
PY
else
  say "eval: skipped, no checkpoint from train-cuda-cpu_s"
fi
if [ -n "$SAN" ]; then
  part memcheck-hs64 120 "$SAN" --tool memcheck --error-exitcode 9 "$BIN/gpubench" parity --backend cuda --preset cpu_s --heads 2 --steps 2 --batch 2 --seq 80
fi
# F. (gpu-host) the plans and cuDNN's scoring, each part continuing after a
# failure and the block skipped whole where the budget cannot hold it.
#
# F1. gpubench plan against the plan each benchmark's engine reported (its
# log's "<preset>: plan …" line), under the environment it ran with
# (OLMOLAB_GPU_* from its command line, OLMOLAB_CUBLAS/_CUDNN as exported
# here): gpu.PlanFor on the device must be the engine's plan (a second or
# two a preset).
# (the check's script, written to a file by plan_check)
PLAN_CHECK_SH=$(cat <<'SH'
gb=$1; shift
n=0 bad=0
for log in "$@"; do
  cmd=$(head -1 "$log"); cmd=${cmd#*: }
  preset=$(grep -o -- "--preset [^ ]*" <<<"$cmd" | cut -d" " -f2)
  batch=$(grep -o -- "--batch [^ ]*" <<<"$cmd" | cut -d" " -f2)
  seq=$(grep -o -- "--seq [^ ]*" <<<"$cmd" | cut -d" " -f2)
  envs=($(grep -o "OLMOLAB_[A-Z_]*=[^ ]*" <<<"$cmd"))
  engine=$(grep -m1 "^$preset: plan " "$log" | sed "s/^$preset: plan //; s/, attention [^,]*\$//")
  planned=$(env "${envs[@]}" "$gb" plan --preset "$preset" --batch "$batch" --seq "$seq" 2>&1)
  got=$(sed -n "s/^plan with .* GiB free: //p" <<<"$planned")
  n=$((n + 1))
  if [ -n "$got" ] && [ "$got" = "$engine" ]; then
    echo "$preset ${batch}x$seq ${envs[*]}: the same plan: $got"
    grep "^cuDNN: " <<<"$planned"
  else
    bad=$((bad + 1))
    echo "$preset ${batch}x$seq ${envs[*]}: DIFFERENT plans"
    echo "  the engine's:   $engine"
    echo "  gpubench plan:  ${got:-none}"
    sed "s/^/    /" <<<"$planned"
  fi
done
echo "plan-vs-engine: $((n - bad)) of $n plans agree with their engine's"
[ "$bad" -eq 0 ]
SH
)
plan_check() {
  local logs=() f
  for f in "$LOGS"/bench-*.log; do
    [ -f "$f" ] && grep -q '^[^ ]*: plan ' "$f" && logs+=("$f")
  done
  if [ ${#logs[@]} -eq 0 ]; then
    say "$(printf '%-28s %-8s %s' plan-vs-engine SKIPPED "no benchmark reported its engine's plan")"
    return 0
  fi
  echo "$PLAN_CHECK_SH" >"$LOGROOT/plan-check.sh"
  part plan-vs-engine 40 bash "$LOGROOT/plan-check.sh" "$BIN/gpubench" "${logs[@]}"
}

# F2. cuDNN's attention in scoring, which the eval above (cpu_s, head size
# 32: the plain kernels) never reaches: a checkpoint of cpu_l (head size 64,
# one step on the GPU) scored by olmolab eval on the builtin tasks and 512
# validation tokens a source at --seq 256, with OLMOLAB_GPU_ATTN=cudnn and
# with mma. Its forward-only engine and the 256-token Scorer take cuDNN
# (T a multiple of 128); the Scorer of the requests' 72-token rows is
# refused by cuDNN ≤ 9.15 and runs mma (gpu.cudnnRows), said in the log.
# About 15 s in all; skipped whole with less than CUDNN_EVAL_NEEDS left.
CUDNN_EVAL_NEEDS=60
cudnn_scoring_check() {
  local left=$((BUDGET - ($(date +%s) - T0))) ck=$LOGROOT/ck-cpu_l a
  if [ "$left" -lt "$CUDNN_EVAL_NEEDS" ]; then
    say "$(printf '%-28s %-8s %s' eval-cudnn-vs-mma SKIPPED "${left}s left of the ${BUDGET}s budget, the cuDNN scoring check needs ${CUDNN_EVAL_NEEDS}s")"
    return 0
  fi
  part train-cuda-cpu_l 30 "$BIN/olmolab" train --backend cuda --preset cpu_l --steps 1 --batch 2 --seq 128 --seed 1 --out "$ck"
  if [ ! -f "$ck/config.json" ]; then
    say "$(printf '%-28s %-8s %s' eval-cudnn-vs-mma SKIPPED "no checkpoint from train-cuda-cpu_l")"
    return 0
  fi
  for a in cudnn mma; do
    part "eval-$a-cpu_l" 30 env OLMOLAB_GPU_ATTN=$a "$BIN/olmolab" eval --backend cuda --model "$ck" --tasks builtin --limit 5 --seq 256 --val 512 --json "$LOGS/eval-$a-cpu_l.json"
  done
  part eval-cudnn-vs-mma 20 python3 - "$LOGS/eval-cudnn-cpu_l.json" "$LOGS/eval-mma-cpu_l.json" "$LOGS/eval-cudnn-cpu_l.log" <<'PY'
import json, re, sys
TOL = 1e-2  # relative, bits_per_byte and ce_loss: two bf16 forwards, the attention's kernels apart
try:
    c, m = (json.load(open(f)) for f in sys.argv[1:3])
except Exception as e:
    sys.exit(f"eval-cudnn-vs-mma: FAIL, no comparison ({e})")
log = open(sys.argv[3], errors="replace").read() if sys.argv[3] else ""
took = sorted({int(t) for t in re.findall(r"gpu: attention cudnn: .*?\bT=(\d+)", log)})
refused = sorted({int(t) for t in re.findall(r"attention cudnn cannot take .*? of (\d+)-token rows", log)})
print(f"eval cpu_l (head size 64) on the GPU, cudnn vs mma: cuDNN ran rows of {took or 'none'}; "
      f"refused rows of {refused or 'none (this cuDNN takes every T)'}, which ran mma")
ms = {s["task"]: s for s in m["scores"]}
worst, bad = 0.0, []
for s in c["scores"]:
    o = ms.get(s["task"])
    if o is None:
        bad.append(f"{s['task']} missing from mma's scores")
        continue
    for k in ("bits_per_byte_corr", "bits_per_byte", "ce_loss"):
        if k in s["metrics"]:
            a, b = s["metrics"][k], o["metrics"].get(k, float("nan"))
            d = abs(a - b) / max(abs(b), 1e-9)
            if not d <= TOL:
                bad.append(f"{s['task']} {k} {a:.5f} vs {b:.5f}")
            worst = max(worst, d) if d == d else float("inf")
            print(f"  {s['task']:18s} {k:18s} {a:.5f} vs {b:.5f}")
if len(c["scores"]) != len(m["scores"]):
    bad.append(f"{len(c['scores'])} scores vs {len(m['scores'])}")
if not took:
    bad.append("cuDNN ran no rows (no 'gpu: attention cudnn:' line)")
verdict = "PASS" if not bad else "FAIL"
print(f"eval-cudnn-vs-mma: {verdict}, largest relative difference {worst:.2e} (tolerance {TOL:.0e})"
      + ("; " + "; ".join(bad[:5]) if bad else ""))
sys.exit(0 if not bad else 1)
PY
}
plan_check
cudnn_scoring_check

# for the record, not a pass mark: how far bf16 lies from the CPU engine's
# fp32 tolerances (1e-4, 1e-3); FAIL here is expected
part verify-bf16-at-fp32-tol 60 "$BIN/olmolab" verify --backend cuda --model $G/olmo2-gqa --case $G/olmo2-gqa/case.safetensors

# throughput table: ours against PyTorch's, same GPU, same call
{
  echo
  echo "throughput (seq 4096; MFU = tokens/s × OLMo-core FLOPs/token / 989 TFLOP/s, the bf16 peak of an H100 SXM or H200; gpubench gives none on another GPU):"
  grep -h '^preset=' "$LOGS"/bench-*.log "$LOGS"/torch-bench.log 2>/dev/null
  for f in profile-olmo2_1B_v2-auto profile-olmo2_1B_v2-cudnn profile-olmo2_1B_v2-mma; do
    if [ -f "$LOGS/$f.log" ]; then
      echo
      echo "$f:"
      sed -n '/device time per step/,/^total/p' "$LOGS/$f.log" | head -70
    fi
  done
  for f in attn-cudnn-olmo2_1B_v2 attn-olmo2_1B_v2; do
    if [ -f "$LOGS/$f.log" ]; then
      echo
      grep -v '^RESULT ' "$LOGS/$f.log" | tail -n 20
    fi
  done
} | tee -a "$SUMMARY"
# Issue 8's figures in one place, last, for docs/gpu-results.md: each line
# PASS (the part ran and met its bound, figures given), FAIL (it ran and did
# not, or failed) or MISSING (it did not run, or gave no figure), read from
# the parts' logs and statuses above.
issue8_summary() {
  python3 - "$SUMMARY" "$LOGS" <<'PY' 2>&1 | tee -a "$SUMMARY"
import glob, json, os, re, sys
summary, logs = sys.argv[1], sys.argv[2]
status = {}
for l in open(summary, errors="replace"):
    m = re.match(r"^(\S+) +(ok|FAIL\(\d+\)|TIMEOUT|SKIPPED)(?=\s|$)", l)
    if m:
        status[m.group(1)] = m.group(2)
def log(name):
    try:
        return open(os.path.join(logs, name + ".log"), errors="replace").read()
    except OSError:
        return ""
def results(name):
    out = []
    for l in log(name).splitlines():
        if l.startswith("RESULT "):
            try:
                out.append(json.loads(l[7:]))
            except ValueError:
                pass
    return out
def verdict(name, figure):
    st = status.get(name)
    if st is None or st == "SKIPPED":
        return "MISSING", f"({name} did not run)"
    if not figure:
        return ("FAIL" if st != "ok" else "MISSING"), f"({name} {st}, no figure in its log)"
    return ("PASS" if st == "ok" else "FAIL"), figure + ("" if st == "ok" else f" ({name} {st})")
rows = []
G = ("olmo2-tiny", "olmo2-gqa")
for s in G:
    name = f"verify-fp32-{s}"
    m = re.findall(r"(\d+) tensors compared in float32[^:]*: (\d+) within tolerance, (\d+) outside", log(name))
    fig = m and f"{m[-1][1]} of {m[-1][0]} tensors within the CPU tolerances (1e-4 forward, 1e-3 backward)"
    rows.append((f"verify cuda-fp32 {s}",) + verdict(name, fig))
for s in G:
    name = f"verify-bf16-{s}"
    r = results(name)
    fig = r and f"{r[-1]['tensors'] - r[-1]['failed']} of {r[-1]['tensors']} tensors within 3e-2 forward, 6e-2 backward; worst {r[-1]['worst']} {r[-1]['worst_rel']:.1e}"
    rows.append((f"verify cuda (bf16) {s}",) + verdict(name, fig))
for be, name in (("cuda-fp32", "parity-fp32-cpu_s"), ("cuda (bf16)", "parity-bf16-cpu_s")):
    r = results(name)
    fig = ""
    if r:
        r = r[-1]
        fig = f"GPU vs CPU loss over {r['steps']} steps of cpu_s: largest relative difference {r['max_rel_loss_diff']:.1e}"
        if "drift_ratio" in r:
            fig += f"; drift from the float64 engine {r['backend_drift']:.1e} vs the float32 CPU's {r['cpu_f32_drift']:.1e}, ratio {r['drift_ratio']:.2f} (allowed {r['calibrate']:.1f})"
        else:
            fig += f" (tolerance {r['tol']:.0e})"
    rows.append((f"parity {be}",) + verdict(name, fig))
torch = {}
for l in log("torch-bench").splitlines():
    m = re.match(r"preset=(\S+) seq=(\d+) batch=(\d+) tokens_per_s=(\d+) .*?mfu=([\d.]+) peak_mem_gib=([\d.]+)", l)
    if m:
        torch[m.group(1)] = (float(m.group(4)), float(m.group(5)), float(m.group(6)))
def mfu(r):
    # gpubench gives none where its GPU's peak is not known (gpu.Engine.PeakFLOPS)
    return f"MFU {100 * r['mfu']:.1f}%" if "mfu" in r else "MFU unknown (no peak for this GPU)"
def ours(preset):
    out = []
    for f in sorted(glob.glob(os.path.join(logs, f"bench-{preset}-*.log"))):
        name = os.path.basename(f)[:-4]
        r = [x for x in results(name) if x.get("check") == "bench"]
        out.append((name, r[-1] if r else None))
    return out
for preset in ("olmo2_190M", "olmo2_1B_v2"):
    runs = ours(preset) or [(f"bench-{preset}", None)]
    for name, r in runs:
        fig = ""
        if r:
            fig = f"{r['batch']}x{r['seq']} attention {r['attention']}: {r['tokens_per_s']:,.0f} tokens/s, {mfu(r)}, {r['used_mem_gib']:.1f} GiB used"
            t = torch.get(preset)
            if t:
                fig += f"; PyTorch {t[0]:,.0f} tokens/s, MFU {100 * t[1]:.1f}%, {t[2]:.1f} GiB peak: {r['tokens_per_s'] / t[0]:.2f}x PyTorch"
        v = verdict(name, fig)
        if v[0] == "PASS" and preset not in torch:
            v = ("MISSING", fig + f"; no PyTorch figure (torch-bench {status.get('torch-bench', 'did not run')})")
        rows.append((f"throughput {preset}",) + v)
for name, r in ours("olmo2_7B") or [("bench-olmo2_7B", None)]:
    steps = re.search(r"--steps (\d+)", log(name).split("\n", 1)[0])  # the part's command line
    fig = r and f"{r['batch']}x{r['seq']} attention {r['attention']}, {steps.group(1) if steps else '?'} steps: {r['tokens_per_s']:,.0f} tokens/s, {mfu(r)}, {r['used_mem_gib']:.1f} GiB used after the steps (its peak: the engine allocates nothing during a step)"
    rows.append(("olmo2_7B",) + verdict(name, fig))
print()
print("issue 8 (PASS: ran and met its bound; FAIL: did not; MISSING: did not run or gave no figure):")
for what, v, fig in rows:
    print(f"{v:8s} {what:30s} {fig}")
n = sum(v == "PASS" for _, v, _ in rows)
print(f"issue 8: {n} of {len(rows)} PASS")
PY
}
issue8_summary

say "done in $(($(date +%s) - T0))s"
savelogs
rm -rf "$LOGROOT"
