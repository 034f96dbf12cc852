package sweep

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/olmolab/olmolab/lab"
	"github.com/olmolab/olmolab/lab/plural"
	"github.com/olmolab/olmolab/model"
)

// A sweep's files sit in its runs directory beside the run directories, named
// so that neither the lab's run list (directories holding recipe.yaml) nor
// `olmolab snr DIR` or `DIR/PREFIX-*` takes them for runs.
func ManifestPath(runsDir, prefix string) string {
	return filepath.Join(runsDir, prefix+".sweep.json")
}

// ScriptPath is the sbatch array script of the sweep named prefix.
func ScriptPath(runsDir, prefix string) string { return filepath.Join(runsDir, prefix+".sbatch") }

// LogDir holds the sweep's logs: one file per Slurm task (JOBID_TASK.out), or
// per run for a local sweep (NAME.log).
func LogDir(runsDir, prefix string) string { return filepath.Join(runsDir, prefix+".logs") }

// Manifest is PREFIX.sweep.json: everything needed to run, resume or inspect
// the sweep without the command line that made it.
type Manifest struct {
	Prefix  string    `json:"prefix"`
	Recipe  string    `json:"recipe"`   // an absolute file path, or a shipped recipe's name
	WorkDir string    `json:"work_dir"` // where the runs start, so relative paths in the recipe mean what they meant here
	RunsDir string    `json:"runs_dir"` // absolute
	Olmolab string    `json:"olmolab"`  // the binary every run executes, absolute
	Set     []string  `json:"set,omitempty"`
	Vary    []Axis    `json:"vary"`
	Runs    []Run     `json:"runs"`
	Created time.Time `json:"created"`
}

// RunDir is the run directory of r.
func (m *Manifest) RunDir(r Run) string { return filepath.Join(m.RunsDir, r.Name) }

// StartArgs are the arguments (after the binary) that start run r:
// `--batch RECIPE --set ... --runs DIR --name NAME`, the sweep's --set first.
func (m *Manifest) StartArgs(r Run) []string {
	args := []string{"--batch", m.Recipe}
	for _, s := range append(append([]string(nil), m.Set...), r.Overrides...) {
		args = append(args, "--set", s)
	}
	return append(args, "--runs", m.RunsDir, "--name", r.Name)
}

// ResumeArgs continue run r from its newest checkpoint.
func (m *Manifest) ResumeArgs(r Run) []string {
	return []string{"--batch", "--resume", m.RunDir(r)}
}

// Overrides are the --set values of run r in the order --batch applies them.
func (m *Manifest) Overrides(r Run) []string {
	return append(append([]string(nil), m.Set...), r.Overrides...)
}

// Marshal renders the manifest as indented JSON.
func (m *Manifest) Marshal() []byte {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		panic(err) // plain strings and numbers only
	}
	return append(b, '\n')
}

// WriteFile writes b to path atomically (a temporary file renamed into place)
// with mode perm.
func WriteFile(path string, b []byte, perm os.FileMode) error {
	if err := model.WriteFileAtomic(path, b); err != nil {
		return err
	}
	return os.Chmod(path, perm)
}

// manifestHint is what to do about a manifest that cannot be read.
const manifestHint = "olmolab sweep writes NAME.sweep.json beside its runs: the same sweep command again rewrites it (its runs are kept), or move the file out of the runs directory"

// ReadManifest reads PREFIX.sweep.json.
func ReadManifest(path string) (*Manifest, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: not a sweep manifest (malformed JSON: %v); HINT: %s", path, err, manifestHint)
	}
	if m.Prefix == "" || m.RunsDir == "" {
		return nil, fmt.Errorf("%s: not a sweep manifest (no prefix or runs_dir); HINT: %s", path, manifestHint)
	}
	for i, r := range m.Runs {
		// a run lives beside the manifest: a name that is a path would send
		// --status (and the Slurm script) elsewhere
		if r.Name == "" || r.Name != filepath.Base(r.Name) || r.Name == "." || r.Name == ".." {
			return nil, fmt.Errorf("%s: runs[%d].name %q is not a run directory's name", path, i, r.Name)
		}
	}
	return &m, nil
}

// FindManifests returns the manifests in a runs directory, by prefix.
func FindManifests(runsDir string) ([]string, error) {
	paths, err := filepath.Glob(filepath.Join(runsDir, "*.sweep.json"))
	if err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		if _, err := os.Stat(runsDir); err != nil {
			return nil, err
		}
		return nil, errors.New(runsDir + ": no sweep here (no *.sweep.json)")
	}
	sort.Strings(paths)
	return paths, nil
}

// SlurmOptions shape the sbatch script.
type SlurmOptions struct {
	Parallel int      // at most this many tasks at once (--array=0-N%K); 0: no limit
	Extra    []string // more #SBATCH options, e.g. --time=04:00:00, --gres=gpu:1
}

// SignalLead is how long before a task's time limit Slurm warns its batch
// shell (--signal=B:USR1@SECS), so that the run's step and checkpoint end
// before the limit: at the limit itself only KillWait (30 s by default) is
// left before SIGKILL.
const SignalLead = 5 * time.Minute

// signalOptRE is the one --signal the script can take: USR1 to the batch
// shell (B:), which passes it on to olmolab as SIGTERM and then requeues
// the task. Without B: Slurm signals the job's steps but not the batch
// shell, and the script starts no step (no srun): nobody would hear it.
var signalOptRE = regexp.MustCompile(`^B:(USR1|SIGUSR1|10)(@[0-9]+)?$`)

// CheckSbatchOpt refuses an --sbatch-opt the script cannot take as it is.
func CheckSbatchOpt(opt string) error {
	switch {
	case !strings.HasPrefix(opt, "-"):
		return fmt.Errorf("--sbatch-opt %q: want an sbatch option, e.g. --sbatch-opt=--time=04:00:00", opt)
	case strings.ContainsAny(opt, "\n\r"):
		return fmt.Errorf("--sbatch-opt %q: one option per line", opt)
	case optName(opt) == "array":
		return fmt.Errorf("--sbatch-opt %q: the sweep sets --array itself (0 to runs-1); limit tasks at once with --parallel K", opt)
	case optName(opt) == "signal" && !signalOptRE.MatchString(optValue(opt)):
		return fmt.Errorf("--sbatch-opt %q: the script takes Slurm's time-limit warning as USR1 to its batch shell (B:), which has olmolab checkpoint and then requeues the task; the sweep sets --signal=B:USR1@%d itself; HINT: for a longer lead give --sbatch-opt=--signal=B:USR1@SECONDS", opt, int(SignalLead.Seconds()))
	}
	return nil
}

// optValue is an sbatch option's value: "--signal=B:USR1@60" → "B:USR1@60", "-J x" → "x".
func optValue(opt string) string {
	s := strings.TrimLeft(opt, "-")
	if i := strings.IndexAny(s, "= "); i >= 0 {
		return strings.TrimSpace(s[i+1:])
	}
	if !strings.HasPrefix(opt, "--") && len(s) > 1 {
		return s[1:] // -Jname
	}
	return ""
}

// optName is an sbatch option's long name: "--time=1:00" → "time", "-J x" → "job-name".
func optName(opt string) string {
	s := strings.TrimLeft(opt, "-")
	if i := strings.IndexAny(s, "= "); i >= 0 {
		s = s[:i]
	}
	if !strings.HasPrefix(opt, "--") && len(s) > 1 {
		s = s[:1] // -Jname
	}
	switch s {
	case "J":
		return "job-name"
	case "o":
		return "output"
	case "a":
		return "array"
	}
	return s
}

// Script renders the sbatch array script: task i trains run i, resumes it
// from its newest checkpoint when it has one (a requeued or resubmitted task),
// and leaves a finished run alone. The logic is the local sweep's, in bash.
func (m *Manifest) Script(o SlurmOptions) []byte {
	var b strings.Builder
	n := len(m.Runs)
	user := map[string]bool{}
	for _, e := range o.Extra {
		user[optName(e)] = true
	}
	stale := int(lab.LockStaleAfter.Seconds())
	b.WriteString("#!/bin/bash\n")
	// sbatch reads #SBATCH lines only before the first command; keep them together, first
	if !user["job-name"] {
		fmt.Fprintf(&b, "#SBATCH --job-name=%s\n", m.Prefix)
	}
	array := fmt.Sprintf("0-%d", n-1)
	if o.Parallel > 0 {
		array += fmt.Sprintf("%%%d", o.Parallel)
	}
	fmt.Fprintf(&b, "#SBATCH --array=%s\n", array)
	if !user["output"] {
		fmt.Fprintf(&b, "#SBATCH --output=%s\n", filepath.Join(LogDir(m.RunsDir, m.Prefix), "%A_%a.out"))
	}
	if !user["open-mode"] {
		b.WriteString("#SBATCH --open-mode=append\n")
	}
	// the task requeues itself after its time-limit checkpoint, which
	// scontrol allows only of a job that may be requeued
	if !user["requeue"] && !user["no-requeue"] {
		b.WriteString("#SBATCH --requeue\n")
	}
	if !user["signal"] {
		fmt.Fprintf(&b, "#SBATCH --signal=B:USR1@%d\n", int(SignalLead.Seconds()))
	}
	for _, e := range o.Extra {
		fmt.Fprintf(&b, "#SBATCH %s\n", e)
	}
	fmt.Fprintf(&b, `#
# olmolab sweep %s: %s of %s, one per array task.
# Manifest: %s
# Submit:   sbatch %s
# Progress: %s sweep --status %s
#
# A task trains its run with olmolab --batch. When the run has a checkpoint
# (the task was requeued, preempted or resubmitted) it resumes from it; a
# finished run is left as it is; a diverged one is not retried, since resuming
# replays the same steps. While olmolab eval --record scores the run, a resume
# waits for it to record, up to $OLMOLAB_RECORD_WAIT (default 2h; 0: do not
# wait), then resumes; a record still scoring after that fails the task
# (exit 2: resubmit it once the record has ended).

OLMOLAB=%s
RUNS=%s
RECORD_WAIT=${OLMOLAB_RECORD_WAIT:-2h}
cd %s || exit 1

case "${SLURM_ARRAY_TASK_ID:-}" in
`, m.Prefix, plural.N(n, "run"), m.Recipe, ManifestPath(m.RunsDir, m.Prefix), ScriptPath(m.RunsDir, m.Prefix),
		m.Olmolab, m.RunsDir, shellQuote(m.Olmolab), shellQuote(m.RunsDir), shellQuote(m.WorkDir))
	for _, r := range m.Runs {
		fmt.Fprintf(&b, "%d) NAME=%s\n   START=(\"$OLMOLAB\" --batch %s", r.Index, r.Name, shellQuote(m.Recipe))
		for _, s := range m.Overrides(r) {
			fmt.Fprintf(&b, " --set %s", shellQuote(s))
		}
		fmt.Fprintf(&b, " --runs \"$RUNS\" --name %s) ;;\n", r.Name)
	}
	fmt.Fprintf(&b, `*) echo "olmolab sweep %s: no run for array task '${SLURM_ARRAY_TASK_ID:-}' (tasks 0-%d; submit with sbatch)" >&2
   exit 2 ;;
esac
RUN="$RUNS/$NAME"
echo "olmolab sweep %s: task $SLURM_ARRAY_TASK_ID, run $NAME, on $(hostname), restart ${SLURM_RESTART_COUNT:-0}"

# live FILE: the run's lock (or a record's mark) FILE names a process that
# still runs. One written on another node cannot be asked from here: it is
# live while its heartbeat (the file's mtime, refreshed every %[4]d s by its
# process) is under %[5]d s old, as in the lab. One that this job's previous
# attempt wrote (the same SLURM_JOB_ID, and this is a requeue) is dead: Slurm
# starts a requeued job only once its previous attempt has ended, on a node
# that failed too.
live() {
  local pid host beat job
  [ -e "$1" ] || return 1
  pid=$(sed -n 's/.*"pid": *\([0-9]*\).*/\1/p' "$1")
  host=$(sed -n 's/.*"host": *"\([^"]*\)".*/\1/p' "$1")
  job=$(sed -n 's/.*"slurm_job": *"\([^"]*\)".*/\1/p' "$1")
  [ -n "$pid" ] || return 1
  if [ "${SLURM_RESTART_COUNT:-0}" -gt 0 ] && [ -n "$job" ] && [ "$job" = "${SLURM_JOB_ID:-}" ]; then
    return 1
  fi
  if [ -n "$host" ] && [ "$host" != "$(hostname)" ]; then
    beat=$(stat -c %%Y "$1" 2>/dev/null) || return 1
    [ $(( $(date +%%s) - beat )) -lt %[5]d ]
    return
  fi
  kill -0 "$pid" 2>/dev/null
}
lock_live() { live "$RUN/olmolab.pid"; }
# record_live: olmolab eval --record scores the run (a live mark of it,
# olmolab.recording.HOST.PID), which a resume waits for (--wait-record).
record_live() {
  local f
  for f in "$RUN"/olmolab.recording.*; do
    case "$f" in *.tmp-*) continue ;; esac
    ! live "$f" || return 0
  done
  return 1
}
# Only a dead process's lock goes: a live one is another's (olmolab eval
# --record holds it while it writes evals.jsonl), and olmolab refuses it.
if [ -e "$RUN/olmolab.pid" ] && ! lock_live; then
  rm -f "$RUN/olmolab.pid"
fi
if grep -qs '"state": "finished"' "$RUN/summary.json"; then
  echo "$NAME has finished; nothing to do"
  exit 0
fi
if grep -qs '"state": "diverged"' "$RUN/summary.json"; then
  echo "$NAME diverged; not retried (see $RUN/events.jsonl)" >&2
  exit 3
fi

# Slurm's signals. At the time limit Slurm sends SIGTERM to every process of
# the task and, KillWait later (30 s by default), SIGKILL. --signal=B:USR1@SECS
# warns this shell first: it passes SIGTERM on to olmolab, which stops after
# its step and writes a checkpoint, and once olmolab has ended it requeues the
# task (scontrol requeue; --requeue allows it), which resumes from that
# checkpoint. Preemption and scancel send SIGTERM to every process: olmolab
# checkpoints, this shell waits for it, and the task is requeued or not as
# the cluster's PreemptMode says.
WARNED=
TERMED=
CHILD=
warned() {
  WARNED=1
  echo "$NAME: the time limit is near (Slurm's USR1): olmolab stops after its step and writes a checkpoint; then the task is requeued"
  [ -z "$CHILD" ] || kill -TERM "$CHILD" 2>/dev/null
}
trap warned USR1
trap 'TERMED=1' TERM
# last_step: the step of the run's newest complete checkpoint, 0 when none.
last_step() {
  local f s best=0
  for f in "$RUN"/checkpoints/step-*/state.json; do
    s=${f%%/state.json}
    s=${s##*/step-}
    case "$s" in ''|*[!0-9]*) continue ;; esac
    [ "$s" -le "$best" ] || best=$s
  done
  echo "$best"
}
# run runs olmolab and waits for it: in the background, since bash runs a
# trap only between commands, and a wait that a trap cuts short is waited
# again. A task warned of its time limit is requeued only when this attempt
# wrote a checkpoint: else the next would end where this one did, again and
# again; or when olmolab was still waiting for olmolab eval --record to
# record (--wait-record), the run as it was: the next attempt waits again (a
# record that outlasts the wait, $RECORD_WAIT, then fails it, exit 2) or
# resumes. The messages start with the run's name, since a line starting
# "olmolab sweep " starts an attempt for sweep --status. The JSONL events on
# stdout repeat metrics.jsonl and events.jsonl in the run directory; this log
# keeps the progress lines and the summary (stderr).
run() {
  local rc r before waiting= resumes="it resumes from its checkpoint"
  if [ -n "$TERMED$WARNED" ]; then
    echo "$NAME: signalled before olmolab started; not started" >&2
    exit 143
  fi
  before=$(last_step)
  ! record_live || waiting=1 # olmolab waits for it before it resumes
  "$@" >/dev/null &
  CHILD=$!
  [ -z "$WARNED" ] || kill -TERM "$CHILD" 2>/dev/null # warned as it started
  wait "$CHILD"; rc=$?
  while kill -0 "$CHILD" 2>/dev/null; do wait "$CHILD"; rc=$?; done
  wait "$CHILD"; r=$?
  [ "$r" -eq 127 ] || rc=$r # bash keeps an ended child's status
  if [ -n "$WARNED" ] && [ "$rc" -ne 0 ] && [ "$rc" -ne 3 ]; then
    if [ "$(last_step)" -le "$before" ] && [ -n "$waiting" ] && [ "$rc" -eq 130 ]; then
      echo "$NAME: the time limit came while olmolab waited for olmolab eval --record to record the run (--wait-record), before resuming it: the run is as it was (newest checkpoint: step $before), so the task is requeued"
      resumes="it waits for the record again (up to $RECORD_WAIT), or resumes from step $before"
    elif [ "$(last_step)" -le "$before" ]; then
      echo "$NAME: no checkpoint written in this attempt (newest: step $before); not requeued, as the next attempt would end here too: give the task more --time, or checkpoint more often (checkpoint.interval)" >&2
      exit "$rc"
    fi
    if scontrol requeue "${SLURM_JOB_ID:-}"; then
      echo "$NAME: requeued (job ${SLURM_JOB_ID:-}); $resumes"
      exit 0
    else
      echo "$NAME: scontrol requeue ${SLURM_JOB_ID:-} failed; resubmit this task: sbatch --array=${SLURM_ARRAY_TASK_ID} %[6]s" >&2
    fi
  fi
  exit "$rc"
}

if compgen -G "$RUN/checkpoints/step-*/state.json" >/dev/null; then
  run "$OLMOLAB" --batch --resume "$RUN" --wait-record "$RECORD_WAIT"
fi
if [ -d "$RUN" ] && ! lock_live; then
  # a start that never wrote a checkpoint (and whose process is gone): start over
  rm -f "$RUN/olmolab.pid" "$RUN/metrics.jsonl" "$RUN/events.jsonl" "$RUN/evals.jsonl" "$RUN/summary.json"
fi
run "${START[@]}"
`, m.Prefix, n-1, m.Prefix, int(lab.LockHeartbeat.Seconds()), stale, ScriptPath(m.RunsDir, m.Prefix))
	return []byte(b.String())
}

// shellQuote quotes s for bash when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-.,/:=+@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
