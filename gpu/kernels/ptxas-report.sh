#!/bin/sh
# ptxas-report.sh [PATTERN]: registers, spills and static shared memory per
# kernel, as ptxas (CUDA 11.8, scripts/setup-cuda.sh --toolkit) compiles the
# committed PTX for sm_80 and sm_90; PATTERN (an awk regular expression,
# default attn_) selects kernels. The driver's JIT on the GPU may allocate
# differently: gpubench attn prints what it did there.
set -e
cd "$(dirname "$0")"
pat=${1:-attn_}
for arch in 80 90; do
  echo "sm_$arch:"
  ptxas -v -arch=sm_$arch olmo_sm$arch.ptx -o /dev/null 2>&1 | awk -v pat="$pat" '
    /Compiling entry function/ { n = $0; sub(/.*function .?/, "", n); sub(/.? for .*/, "", n) }
    /spill stores/ { st = $5; ld = $9 }
    /Used [0-9]+ registers/ {
      if (n !~ pat) next
      r = $0; sub(/.*Used /, "", r); sub(/ registers.*/, "", r)
      sm = 0; if ($0 ~ /bytes smem/) { sm = $0; sub(/ bytes smem.*/, "", sm); sub(/.*, /, "", sm) }
      printf "  %-24s %3d registers, spills %s/%s bytes (store/load), %6d bytes static shared\n", n, r, st, ld, sm
    }'
done
