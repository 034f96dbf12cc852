#!/usr/bin/env bash
# bench-vs-torch.sh: olmolab's CPU training step against PyTorch's, side by side.
#
#   scripts/bench-vs-torch.sh [SHAPES] [ROUNDS] [THREADS]     defaults: "a b c" 3 2
#
# Shapes are issue 7's (docs/perf.md §3.3, ../shared/bench/torch_bench.py):
#   (a) vocab 256,  d 128, 4 layers, 4 heads, mlp 384,  seq 128, batch 8
#   (b) vocab 4096, d 256, 6 layers, 8 heads, mlp 768,  seq 256, batch 8
#   (c) vocab 8192, d 512, 8 layers, 8 heads, mlp 1408, seq 256, batch 4
# and, not issue 7's, the olmo2_14M proxy's (the dolma2 vocabulary, where the LM
# head is 92% of the work):
#   (p) vocab 100352, d 128, 4 layers, 8 heads, mlp 512, seq 512, batch 8
# For each shape it alternates ours (`olmolab bench --threads THREADS --stat mean`) and
# PyTorch (torch_bench.py --threads THREADS: intra-op threads and the OpenBLAS
# pool both at THREADS, OMP_WAIT_POLICY=PASSIVE, the setting perf.md found
# fastest), ROUNDS times, and prints each run's tokens/s, the medians and their
# ratio. Both print `tokens_per_s=… step_ms=… params=…` (mean step time after 3
# warm-up steps); the params must agree, which checks that the models match.
# Shared machines are noisy: every run first waits (up to IDLE_MAX s, default
# 30) for 2 s of < 5% CPU use by anything else, and each run's line gives the
# share of the machine other processes used meanwhile ("foreign"), so a slow
# run can be told from a slow program. NICE=-10 (as root) raises both sides'
# priority. TORCH_BENCH overrides the path of torch_bench.py. Installs
# python3-torch if it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

SHAPES=${1:-"a b c"}
ROUNDS=${2:-3}
THREADS=${3:-2}
IDLE_MAX=${IDLE_MAX:-30}
NICE=${NICE:-0}
TORCH_BENCH=${TORCH_BENCH:-../shared/bench/torch_bench.py}
PY=/usr/bin/python3

if ! "$PY" -c 'import torch' 2>/dev/null; then
	echo "installing python3-torch" >&2
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-torch >/dev/null
fi
[ -e "$TORCH_BENCH" ] || { echo "bench-vs-torch: $TORCH_BENCH not found (set TORCH_BENCH)" >&2; exit 2; }

bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/olmolab" .

shape_args() {
	case $1 in
	a) echo "--vocab 256 --d-model 128 --layers 4 --heads 4 --mlp 384 --seq 128 --batch 8 --steps 40" ;;
	b) echo "--vocab 4096 --d-model 256 --layers 6 --heads 8 --mlp 768 --seq 256 --batch 8 --steps 15" ;;
	c) echo "--vocab 8192 --d-model 512 --layers 8 --heads 8 --mlp 1408 --seq 256 --batch 4 --steps 10" ;;
	p) echo "--vocab 100352 --d-model 128 --layers 4 --heads 8 --mlp 512 --seq 512 --batch 8 --steps 5" ;;
	*) echo "bench-vs-torch: unknown shape $1 (a, b, c or p)" >&2; exit 2 ;;
	esac
}

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

# timed CMD...: runs CMD, prints its last stdout line followed by
# " foreign=N%": the share of all CPUs that other processes used meanwhile.
timed() {
	local u n s i w x y z b1 b2 t0 t1 out cpu
	read -r _ u n s i w x y z _ </proc/stat
	b1=$((u + n + s + x + y + z))
	t0=$(date +%s%N)
	out=$({ TIMEFORMAT='%U %S'; time nice -n "$NICE" "$@" 2>/dev/null | tail -n 1; } 2>"$bin/time")
	t1=$(date +%s%N)
	read -r _ u n s i w x y z _ </proc/stat
	b2=$((u + n + s + x + y + z))
	cpu=$(awk '{print $1 + $2}' "$bin/time")
	awk -v o="$out" -v b="$((b2 - b1))" -v c="$cpu" -v e="$((t1 - t0))" -v p="$(nproc)" -v hz="$(getconf CLK_TCK)" \
		'BEGIN {f = (b / hz - c) / (e / 1e9 * p); if (f < 0) f = 0; printf "%s foreign=%.0f%%\n", o, 100 * f}'
}

field() { sed -n "s/.*$1=\([^ ]*\).*/\1/p"; }
median() { sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(nproc) CPUs; threads $THREADS, $ROUNDS rounds"
echo "torch: $("$PY" -c 'import torch; print(torch.__version__)' 2>/dev/null); $(go version)"
summary=""
for sh in $SHAPES; do
	args=$(shape_args "$sh")
	ours="" theirs="" params_o="" params_t=""
	for r in $(seq "$ROUNDS"); do
		idle_wait
		# shellcheck disable=SC2086
		o=$(timed "$bin/olmolab" bench --gemm "" --stat mean $args --warmup 3 --threads "$THREADS")
		echo "  ($sh) round $r olmolab: $o"
		idle_wait
		# shellcheck disable=SC2086
		t=$(timed "$PY" "$TORCH_BENCH" $args --warmup 3 --threads "$THREADS")
		echo "  ($sh) round $r pytorch: $t"
		ours="$ours $(echo "$o" | field tokens_per_s)"
		theirs="$theirs $(echo "$t" | field tokens_per_s)"
		params_o=$(echo "$o" | field params) params_t=$(echo "$t" | field params)
	done
	[ "$params_o" = "$params_t" ] || echo "  WARNING ($sh): params differ: olmolab $params_o, pytorch $params_t" >&2
	mo=$(echo "$ours" | tr ' ' '\n' | grep -v '^$' | median)
	mt=$(echo "$theirs" | tr ' ' '\n' | grep -v '^$' | median)
	line=$(awk -v s="$sh" -v o="$mo" -v t="$mt" -v p="$params_o" \
		'BEGIN {printf "(%s) params %d: olmolab %.1f tokens/s, pytorch %.1f tokens/s, ratio %.2f", s, p, o, t, o / t}')
	echo "$line"
	summary="$summary$line"$'\n'
done
echo
echo "medians over $ROUNDS rounds, $THREADS threads each:"
printf '%s' "$summary"
