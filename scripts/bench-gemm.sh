#!/usr/bin/env bash
# bench-gemm.sh: olmolab's pure-Go Sgemm (model/gemm) against OpenBLAS, side by
# side, plus this machine's measured FP32 FMA peak.
#
#   scripts/bench-gemm.sh [SIZES] [THREADS] [ROUNDS]     defaults: "512 1024 2048" "1 2" 3
#
# For each size and thread count it alternates OpenBLAS (OPENBLAS_NUM_THREADS=t)
# and ours (GOMAXPROCS=t), ROUNDS times; each run prints the median of 3 samples
# of ≥ 5 GFLOP each, and the table shows the median over the rounds. Shared
# machines are noisy: every run first waits (up to IDLE_MAX s, default 30) for
# 2 s of < 5% CPU use by anything else, and each run's line on stderr gives the
# share of the machine that other processes used meanwhile ("foreign"), so a
# slow run can be told from a slow program.
# NICE=-10 (as root) runs every measurement at raised priority, so that other
# work on a shared machine takes less of it; both sides get the same treatment.
# OPENBLAS_CORETYPE is unset so OpenBLAS picks its kernel for this CPU itself
# (KEEP_CORETYPE=1 keeps it); if its detection falls back to a pre-AVX2 core on
# an AVX-512 machine (seen in some VMs: "Prescott"), SkylakeX is forced, since
# comparing against an SSE3 kernel would flatter us. Installs libopenblas-dev
# and gcc if missing.
set -euo pipefail
cd "$(dirname "$0")/.."

SIZES=${1:-"512 1024 2048"}
THREADS=${2:-"1 2"}
ROUNDS=${3:-3}
IDLE_MAX=${IDLE_MAX:-30}
LAYOUT=${LAYOUT:-NN}
NICE=${NICE:-0}
[ "${KEEP_CORETYPE:-0}" = 1 ] || unset OPENBLAS_CORETYPE

if ! command -v gcc >/dev/null || [ ! -e /usr/include/x86_64-linux-gnu/cblas.h ] && [ ! -e /usr/include/cblas.h ]; then
	echo "installing gcc and libopenblas-dev" >&2
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc libopenblas-dev >/dev/null
fi

bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
gcc -O2 -o "$bin/fma_peak" scripts/bench-gemm/fma_peak.c -lpthread
gcc -O2 -o "$bin/sgemm_openblas" scripts/bench-gemm/sgemm_openblas.c -lopenblas
go build -o "$bin/sgemm_go" ./scripts/bench-gemm/sgemm_go

# idle_wait: wait until the machine has been < 5% busy for 2 s, at most IDLE_MAX s.
idle_wait() {
	local t0 u n s i w x y z b1 a1 b2 a2
	t0=$(date +%s)
	while :; do
		read -r _ u n s i w x y z _ </proc/stat
		b1=$((u + n + s + x + y + z)) a1=$((u + n + s + i + w + x + y + z))
		sleep 2
		read -r _ u n s i w x y z _ </proc/stat
		b2=$((u + n + s + x + y + z)) a2=$((u + n + s + i + w + x + y + z))
		[ $((100 * (b2 - b1) / (a2 - a1 + 1))) -lt 5 ] && return 0
		if [ $(($(date +%s) - t0)) -ge "$IDLE_MAX" ]; then
			echo "  (machine still busy after ${IDLE_MAX}s; measuring anyway)" >&2
			return 0
		fi
	done
}

# timed CMD...: runs CMD, prints its stdout followed by "(foreign N%)": the share
# of all CPUs that processes other than CMD used while it ran.
timed() {
	local u n s i w x y z b1 b2 t0 t1 out cpu
	read -r _ u n s i w x y z _ </proc/stat
	b1=$((u + n + s + x + y + z))
	t0=$(date +%s%N)
	out=$({ TIMEFORMAT='%U %S'; time nice -n "$NICE" "$@" 2>/dev/null; } 2>"$bin/time")
	t1=$(date +%s%N)
	read -r _ u n s i w x y z _ </proc/stat
	b2=$((u + n + s + x + y + z))
	cpu=$(awk '{print $1 + $2}' "$bin/time")
	awk -v o="$out" -v b="$((b2 - b1))" -v c="$cpu" -v e="$((t1 - t0))" -v p="$(nproc)" -v hz="$(getconf CLK_TCK)" \
		'BEGIN {f = (b / hz - c) / (e / 1e9 * p); if (f < 0) f = 0; printf "%s(foreign %.0f%%)\n", o, 100 * f}'
}

# median of the numbers in a line of "value(foreign N%)" entries.
median() { sed 's/([^)]*)//g' | tr ' ' '\n' | grep -v '^$' | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(nproc) CPUs"
core=$("$bin/sgemm_openblas" 64 1 2>&1 >/dev/null)
if grep -qw avx512f /proc/cpuinfo && [ -z "${OPENBLAS_CORETYPE:-}" ] && echo "$core" | grep -qE 'core (Prescott|Core2|Penryn|Dunnington|Nehalem|Sandybridge|Katmai|Atom)'; then
	echo "openblas: detection chose a pre-AVX2 core ($core); forcing OPENBLAS_CORETYPE=SkylakeX"
	export OPENBLAS_CORETYPE=SkylakeX
	core=$("$bin/sgemm_openblas" 64 1 2>&1 >/dev/null)
fi
echo "openblas: $core"
echo "ours: kernel $(GOMAXPROCS=1 "$bin/sgemm_go" 64 1 2>&1 >/dev/null | sed 's/kernel //')"

declare -A peak
for t in $THREADS; do
	vals=""
	for _ in $(seq "$ROUNDS"); do
		idle_wait
		vals+=" $(timed "$bin/fma_peak" "$t" 200000000 512)"
	done
	peak[$t]=$(echo "$vals" | median)
	ymm=$("$bin/fma_peak" "$t" 200000000 256)
	echo "FMA peak, $t thread(s): zmm $(echo "$vals" | median) GFLOP/s (runs:$vals), ymm $ymm"
done

printf '\n%-6s %-4s %-7s %10s %10s %8s %10s %10s\n' size thr layout OpenBLAS ours ours/OB "OB %peak" "ours %peak"
for n in $SIZES; do
	for t in $THREADS; do
		ob="" go=""
		for _ in $(seq "$ROUNDS"); do
			idle_wait
			ob+=" $(OPENBLAS_NUM_THREADS=$t timed "$bin/sgemm_openblas" "$n" 3 "$LAYOUT")"
			idle_wait
			go+=" $(GOMAXPROCS=$t timed "$bin/sgemm_go" "$n" 3 "$LAYOUT")"
		done
		mo=$(echo "$ob" | median) mg=$(echo "$go" | median)
		awk -v n="$n" -v t="$t" -v l="$LAYOUT" -v o="$mo" -v g="$mg" -v p="${peak[$t]}" \
			'BEGIN {printf "%-6s %-4s %-7s %10.1f %10.1f %7.0f%% %9.0f%% %9.0f%%\n", n, t, l, o, g, 100*g/o, 100*o/p, 100*g/p}'
		echo "       runs: OpenBLAS$ob | ours$go" >&2
	done
done
