#!/usr/bin/env bash
# Build olmolab and gpubench with the CUDA engine (-tags cuda) into
# .device/bin/ (git-ignored), plus the CPU reference outputs that
# scripts/gpu-check.sh compares with on the GPU machine (.device/ref/).
#
# Needs cuda.h and libcuda.so (scripts/setup-cuda.sh installs them); no GPU,
# no nvcc (the kernels' PTX is committed). The binaries need only libcuda.so.1
# (the driver) and libc on the GPU machine; cuBLAS is found at run time.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${CGO_CFLAGS:-}" ]; then
  for d in /usr/include /opt/olmolab-cuda/usr/include /usr/local/cuda/include; do
    if [ -s "$d/cuda.h" ]; then export CGO_CFLAGS="-I$d"; break; fi
  done
fi
if [ -z "${CGO_CFLAGS:-}" ]; then
  echo "gpu-build.sh: cuda.h not found; run scripts/setup-cuda.sh first" >&2
  exit 1
fi
export CGO_ENABLED=1
mkdir -p .device/bin .device/ref
go build -tags cuda -trimpath -o .device/bin/olmolab .
go build -tags cuda -trimpath -o .device/bin/gpubench ./gpu/cmd/gpubench
for b in .device/bin/olmolab .device/bin/gpubench; do
  size=$(stat -c %s "$b")
  if [ "$size" -gt $((64 << 20)) ]; then echo "gpu-build.sh: $b is $size bytes, over 64 MiB" >&2; exit 1; fi
  needed=$(objdump -p "$b" 2>/dev/null | awk '/NEEDED/{print $2}' | tr '\n' ' ')
  echo "$b: $((size >> 20)) MiB, needs: ${needed:-?}"
done
# The CPU engine's run that gpu-check.sh repeats with --backend cuda.
go run . train --preset cpu_s --steps 50 --batch 8 --seq 64 --seed 1 > .device/ref/cpu_s_train.txt
echo "reference: .device/ref/cpu_s_train.txt ($(tail -1 .device/ref/cpu_s_train.txt))"
