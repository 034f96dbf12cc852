#!/usr/bin/env bash
# Drives the real olmolab binary in tmux and checks what it draws:
#   1. launch a tiny recipe from the recipe list, wait for the loss chart,
#      make a soup (s), anneal (a) and see the marker, let it finish, open the
#      evaluation view (3) and the runs view (2, soup grouped under its run),
#      resize the window, quit;
#   2. launch again, quit with "detach" (q, d): the run keeps training in a
#      headless `olmolab --batch --resume`; reopen olmolab, follow it to the end;
#   3. NO_COLOR: no colour sequences on screen.
# Screens are saved under $TUI_CHECK_OUT (default: a temporary directory).
# Needs tmux (installed with apt-get when missing and running as root, as CI
# does). Takes about a minute on an idle 2-core machine.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

if ! command -v tmux >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tmux >/dev/null
  else
    echo "tui-tmux-check: tmux is missing (apt-get install tmux)"; exit 1
  fi
fi

work=$(mktemp -d)
out=${TUI_CHECK_OUT:-$work/screens}
mkdir -p "$out"
# a tmux server of our own (never the user's), a fresh one per olmolab start
starts=0
sock() { echo "olmolab-tui-check-$$-$starts"; }
T() { tmux -L "$(sock)" -f /dev/null "$@"; }
sockdir="${TMUX_TMPDIR:-/tmp}/tmux-$(id -u)"
cleanup() {
  T kill-server 2>/dev/null || true
  rm -f "$sockdir"/olmolab-tui-check-$$-*
  # a headless run this script started must not outlive it
  if [ -f "$work/.headless-pid" ]; then
    pid=$(cat "$work/.headless-pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  fi
  rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/olmolab" .
cd "$work"
cat > tuicheck.yaml <<'EOF'
# a tiny recipe for the terminal UI check: trains in seconds, evaluates fast
name: tuicheck
description: cpu_xs on the built-in world for the tmux check of the terminal UI
model: cpu_xs
tokenizer: world
sequence_length: 64
global_batch_size: 1024
max_tokens: 2M
seed: 7
optimizer: {lr: 3.0e-3}
schedule: {name: cosine, warmup_tokens: 8192}
dataset:
  sources:
    - {name: web_noisy, target_ratio: 0.6, paths: ["builtin:web_noisy"]}
    - {name: web_clean, target_ratio: 0.2, paths: ["builtin:web_clean"]}
    - {name: qa, target_ratio: 0.2, paths: ["builtin:qa"]}
anneal:
  tokens: 10240
  mix:
    - {name: web_clean, target_ratio: 0.5, paths: ["builtin:web_clean"]}
    - {name: qa, target_ratio: 0.5, paths: ["builtin:qa"]}
eval: {tasks: [fact_qa_seen, arith], at_anneal: true, limit: 16}
checkpoint: {interval: 0, keep: 2}
EOF

n=0
# start ENV...: open olmolab in a fresh 80x24 window
start() {
  T kill-server 2>/dev/null || true
  starts=$((starts + 1))
  T new-session -d -s ui -x 80 -y 24 "cd '$work' && env TERM=xterm-256color $* ./olmolab; echo olmolab-exited-\$?; sleep 600"
}
screen() { T capture-pane -p -t ui; }
keys() { T send-keys -t ui "$@"; }
# expect NAME TIMEOUT REGEX...: wait until the screen matches every regex
expect() {
  local name=$1 timeout=$2; shift 2
  local deadline=$((SECONDS + timeout)) s ok re
  n=$((n + 1))
  while :; do
    s=$(screen)
    ok=1
    for re in "$@"; do
      grep -Eq -- "$re" <<<"$s" || { ok=0; break; }
    done
    if [ $ok = 1 ]; then
      printf '%s\n' "$s" > "$out/$(printf %02d $n)-$name.txt"
      echo "ok   $name"
      return 0
    fi
    if [ $SECONDS -ge $deadline ]; then
      printf '%s\n' "$s" > "$out/$(printf %02d $n)-$name.FAILED.txt"
      echo "FAIL $name: no match for /$re/ within ${timeout}s; screen:"; printf '%s\n' "$s"
      exit 1
    fi
    sleep 0.3
  done
}
# pick RECIPE: move the recipe list's cursor onto a recipe
pick() {
  local i
  for i in $(seq 40); do
    screen | grep -Eq "^› $1 " && return 0
    keys j; sleep 0.05
  done
  echo "FAIL: recipe $1 not in the list"; screen; exit 1
}

echo "== launch, soup, anneal, evaluation, runs, resize, quit"
start
expect recipes 20 '^ +Recipes' 'quickstart' 'tuicheck'
pick tuicheck
keys Enter
expect launch-dialog 5 'Launch tuicheck' '--set'
keys Enter
expect dashboard 60 'step [0-9]+/' '▸ loss' '┤' 'mix .*web_noisy'
expect chart 60 'step ([2-9][0-9]|[1-9][0-9]{2,})/'
keys s
expect soup-dialog 5 'Make a soup' 'ingredients'
keys BSpace 2 Enter
expect soup 90 'soup done'
keys a
expect anneal-dialog 5 'Anneal now' 'LR .* → 0 linearly'
keys Enter
expect anneal-marker 60 '^ {8,}[ ▲✗EMPRSA0-9+]*A[ ▲✗EMPRSA0-9+]*$' 'annealing|finished'
expect finished 90 '● finished' 'eval @'
keys 3
expect evaluation 20 'latest scores' 'fact_qa_seen' 'signal to noise'
keys 2
expect runs 20 'tuicheck-' 'soup-[0-9]+' 'ingredient-1' 'soup \(uniform average\)'
keys 1
T resize-window -t ui -x 120 -y 36
expect resized 10 '^.{100,}' 'grad norm'
T resize-window -t ui -x 80 -y 24
expect dashboard-80x24 10 '▸ loss' 'eval @'
keys q
expect quit 10 'olmolab-exited-0'

echo "== detach, reopen, follow"
start
expect recipes-again 20 'tuicheck-'
pick tuicheck
keys Enter
expect launch-dialog-2 5 'Launch tuicheck'
keys -l 'max_tokens=120K'
keys Enter
expect training 60 'step [0-9]+/' '● running'
keys q
expect quit-dialog 5 'Quit while training' 'detach'
keys d
expect detached 60 'keeps training headless' 'olmolab-exited-0'
dir=$(ls -td runs/tuicheck-* | head -1)
pid=$(sed -n 's/.*"pid":\([0-9]*\).*/\1/p' "$dir/olmolab.pid")
echo "$pid" > "$work/.headless-pid"
kill -0 "$pid" || { echo "FAIL: headless pid $pid is not running"; exit 1; }
grep -q -- "--resume" /proc/"$pid"/cmdline || { echo "FAIL: pid $pid is not olmolab --batch --resume"; exit 1; }
echo "ok   headless pid $pid"
start
keys 2
expect runs-headless 20 'headless'
keys Enter
expect follow 20 '● headless' 'step [0-9]+/'
expect followed-to-end 120 '● finished'
keys q
expect quit-2 10 'olmolab-exited-0'
grep -Eq '"state": *"finished"' "$dir/summary.json" || { echo "FAIL: headless run did not finish"; exit 1; }
echo "ok   headless run finished: $dir"

echo "== NO_COLOR"
start NO_COLOR=1
expect nocolor 20 '^ +Recipes'
if T capture-pane -p -e -t ui | grep -Eq $'\e\\[[0-9;]*(38|48);[25];'; then
  echo "FAIL: colour sequences under NO_COLOR"; exit 1
fi
echo "ok   no colour under NO_COLOR"
keys q
expect quit-3 10 'olmolab-exited-0'

echo "== --runs DIR"
# the lab on another runs directory: the finished run shows there
mv runs elsewhere
T kill-server 2>/dev/null || true
starts=$((starts + 1))
T new-session -d -s ui -x 80 -y 24 "cd '$work' && env TERM=xterm-256color ./olmolab --runs elsewhere; echo olmolab-exited-\$?; sleep 600"
keys 2
expect runs-elsewhere 20 'tuicheck-' 'finished'
keys q
expect quit-4 10 'olmolab-exited-0'
[ -e elsewhere/olmolab-tui.log ] && [ ! -e runs ] || { echo "FAIL: --runs elsewhere used another directory"; exit 1; }
echo "ok   --runs elsewhere"

if [ -z "${TUI_CHECK_OUT:-}" ]; then rm -rf "$out"; else echo "screens in $out"; fi
echo "tui-tmux-check: ok"
