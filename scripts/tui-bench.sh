#!/usr/bin/env bash
# Does the terminal UI slow training? Trains the same shortened quickstart
# headless (--batch) and with the UI attached (olmolab in a tmux window, the
# dashboard on screen the whole run), alternating the two so that load from
# other work on the machine falls on both, and prints each run's tokens/s and
# the medians.
#
#   scripts/tui-bench.sh [PAIRS] [alternate|together]
#
# (default 3 pairs, alternate; about a minute a run). "together" starts the
# two runs of a pair at the same moment instead, so whatever else loads the
# machine loads both alike, and compares their rates within each pair.
#
# tokens/s is the run's own figure from summary.json (tokens over the time
# spent in optimizer steps); "wall" is tokens over the run's whole duration
# (evaluations and checkpoints included); "cpu s" is the CPU time the olmolab
# process used (user + system), which on a machine shared with other work is
# steadier than any rate; "tmux s" is what the tmux server spent drawing the
# UI run's screen.
set -euo pipefail
cd "$(dirname "$0")/.."
pairs=${1:-3}
how=${2:-alternate}
overrides="max_tokens=200K anneal.auto_at=150K anneal.tokens=50K"
sets=()
for o in $overrides; do sets+=(--set "$o"); done
command -v tmux >/dev/null || { echo "tui-bench: needs tmux"; exit 1; }

work=$(mktemp -d)
# a tmux server of our own per UI run (reusing a socket right after
# kill-server races with the dying server)
sockid=0
T() { tmux -L "olmolab-tui-bench-$$-$sockid" -f /dev/null "$@"; }
killall_servers() { for sockid in $(seq 0 "$pairs"); do T kill-server 2>/dev/null || true; done; }
trap 'killall_servers; rm -f "${TMUX_TMPDIR:-/tmp}/tmux-$(id -u)"/olmolab-tui-bench-$$-*; rm -rf "$work"' EXIT
go build -o "$work/olmolab" .
cd "$work"

# figures DIR: "tokens/s wall-tokens/s" from a finished run's summary.json
figures() {
  local s="$1/summary.json"
  local tps tok sec
  tps=$(sed -n 's/.*"tokens_per_s": *\([0-9.e+]*\).*/\1/p' "$s")
  tok=$(sed -n 's/.*"tokens": *\([0-9]*\).*/\1/p' "$s" | head -1)
  sec=$(sed -n 's/.*"seconds": *\([0-9.e+]*\).*/\1/p' "$s")
  awk -v a="$tps" -v t="$tok" -v s="$sec" 'BEGIN { printf "%.0f %.0f\n", a, t / s }'
}

# cpu FILE: user+system seconds of a child from the shell's `times` output
cpu() { tail -1 "$1" | awk '{ split($1, u, /[ms]/); split($2, s, /[ms]/); printf "%.1f", u[1] * 60 + u[2] + s[1] * 60 + s[2] }'; }
# ticks PID: user+system clock ticks of a process so far
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

run_batch() {
  sh -c "./olmolab --batch quickstart ${sets[*]} --runs batch --name b$1 >/dev/null 2>batch-$1.log; times > batch-$1.cpu"
  echo "$(figures "batch/b$1") $(cpu "batch-$1.cpu") -"
}

run_ui() {
  sockid=$1
  T new-session -d -s ui -x 120 -y 40 "cd '$work' && env TERM=xterm-256color sh -c './olmolab; times > ui-$1.cpu'; sleep 600"
  local i tmuxpid t0 hz
  tmuxpid=$(T display-message -p '#{pid}')
  t0=$(ticks "$tmuxpid")
  hz=$(getconf CLK_TCK)
  for i in $(seq 100); do T capture-pane -p -t ui | grep -q '^› quickstart ' && break; sleep 0.1; done
  T send-keys -t ui Enter
  sleep 0.5
  T send-keys -t ui -l "$overrides"
  T send-keys -t ui Tab
  T send-keys -t ui -l "u$1"
  T send-keys -t ui Enter
  # together: the headless run starts the moment the UI's does
  if [ "$how" = together ]; then run_batch "$1" > "pair-$1.batch" & fi
  for i in $(seq 3000); do [ -f "runs/u$1/summary.json" ] && break; sleep 0.2; done
  [ -f "runs/u$1/summary.json" ] || { echo "tui-bench: the UI run did not finish"; T capture-pane -p -t ui; exit 1; }
  T capture-pane -p -t ui > "ui-$1.screen"
  local tm
  tm=$(awk -v a="$t0" -v b="$(ticks "$tmuxpid")" -v hz="$hz" 'BEGIN { printf "%.1f", (b - a) / hz }')
  T send-keys -t ui q
  for i in $(seq 100); do [ -s "ui-$1.cpu" ] && break; sleep 0.1; done
  T kill-server
  echo "$(figures "runs/u$1") $(cpu "ui-$1.cpu") $tm"
}

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-6s %-6s %10s %10s %8s %8s\n' pair mode tokens/s wall "cpu s" "tmux s"
: > batch.txt; : > ui.txt
for p in $(seq "$pairs"); do
  if [ "$how" = together ]; then
    run_ui "$p" > "pair-$p.ui"
    wait
    for mode in batch ui; do
      f=$(cat "pair-$p.$mode")
      echo "$f" >> "$mode.txt"
      printf '%-6s %-6s %10s %10s %8s %8s\n' "$p" "$mode" $f
    done
    continue
  fi
  # alternate which goes first
  if [ $((p % 2)) = 1 ]; then order="batch ui"; else order="ui batch"; fi
  for mode in $order; do
    f=$(run_$mode "$p")
    echo "$f" >> "$mode.txt"
    printf '%-6s %-6s %10s %10s %8s %8s\n' "$p" "$mode" $f
  done
done
median() { sort -n | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
bt=$(cut -d' ' -f1 batch.txt | median); ut=$(cut -d' ' -f1 ui.txt | median)
bw=$(cut -d' ' -f2 batch.txt | median); uw=$(cut -d' ' -f2 ui.txt | median)
bc=$(cut -d' ' -f3 batch.txt | median); uc=$(cut -d' ' -f3 ui.txt | median)
echo "median tokens/s: batch $bt, UI $ut ($(awk -v b="$bt" -v u="$ut" 'BEGIN { printf "%+.1f%%", 100 * (u - b) / b }'))"
echo "median wall tokens/s: batch $bw, UI $uw ($(awk -v b="$bw" -v u="$uw" 'BEGIN { printf "%+.1f%%", 100 * (u - b) / b }'))"
paste -d' ' batch.txt ui.txt | awk '{ print $5 / $1 }' > ratio.txt
echo "median per-pair ratio UI/batch tokens/s: $(median < ratio.txt | awk '{ printf "%.3f", $1 }')"
echo "median CPU seconds: batch $bc, UI $uc ($(awk -v b="$bc" -v u="$uc" 'BEGIN { printf "%+.1f%%", 100 * (u - b) / b }'))"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
