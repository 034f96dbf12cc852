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
# The sources the binaries were built from, for gpu-check.sh to check the
# tree it runs in against (what the device tool carries: tracked and
# untracked-not-ignored files; tests, testdata, docs and scripts do not go
# into the binaries).
git ls-files -z -c -o --exclude-standard |
  grep -zvE '(_test\.go$|(^|/)testdata/|\.md$|^scripts/|^docs/|^\.ci/|^\.gitignore$)' |
  xargs -0 sha256sum >.device/bin/sources.sha256
echo "stamp: .device/bin/sources.sha256 ($(wc -l <.device/bin/sources.sha256) files)"
# The device tool carries at most 64 MiB: the tree, the binaries and the reference.
total=$(( $(git ls-files -z -c -o --exclude-standard | xargs -0 stat -c %s | awk '{s += $1} END {print s + 0}') + $(du -sb .device/bin | cut -f1) ))
if [ "$total" -gt $((60 << 20)) ]; then
  echo "gpu-build.sh: the tree and .device/bin come to $((total >> 20)) MiB: the device tool carries at most 64 MiB in all" >&2
  exit 1
fi
# The CPU engine's run that gpu-check.sh repeats with --backend cuda.
go run . train --preset cpu_s --steps 50 --batch 8 --seq 64 --seed 1 > .device/ref/cpu_s_train.txt
echo "reference: .device/ref/cpu_s_train.txt ($(tail -1 .device/ref/cpu_s_train.txt))"
