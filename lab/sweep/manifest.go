package sweep

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
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

// CheckSbatchOpt refuses an --sbatch-opt the script cannot take as it is.
func CheckSbatchOpt(opt string) error {
	switch {
	case !strings.HasPrefix(opt, "-"):
		return fmt.Errorf("--sbatch-opt %q: want an sbatch option, e.g. --sbatch-opt=--time=04:00:00", opt)
	case strings.ContainsAny(opt, "\n\r"):
		return fmt.Errorf("--sbatch-opt %q: one option per line", opt)
	case optName(opt) == "array":
		return fmt.Errorf("--sbatch-opt %q: the sweep sets --array itself (0 to runs-1); limit tasks at once with --parallel K", opt)
	}
	return nil
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

# Slurm starts a requeued task only once its previous attempt has ended; a
# lock that attempt left behind (a node failure, a kill) is stale.
if [ "${SLURM_RESTART_COUNT:-0}" -gt 0 ]; then
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
# The JSONL events on stdout repeat metrics.jsonl and events.jsonl in the run
# directory; this log keeps the progress lines and the summary (stderr).
if compgen -G "$RUN/checkpoints/step-*/state.json" >/dev/null; then
  exec "$OLMOLAB" --batch --resume "$RUN" --wait-record "$RECORD_WAIT" >/dev/null
fi
# lock_live: the run's lock names a process that still runs. One written on
# another node cannot be asked from here: it is live while its heartbeat (the
# file's mtime, refreshed every %d s by its process) is under %d s old, as in
# the lab.
lock_live() {
  local pid host beat
  [ -e "$RUN/olmolab.pid" ] || return 1
  pid=$(sed -n 's/.*"pid": *\([0-9]*\).*/\1/p' "$RUN/olmolab.pid")
  host=$(sed -n 's/.*"host": *"\([^"]*\)".*/\1/p' "$RUN/olmolab.pid")
  [ -n "$pid" ] || return 1
  if [ -n "$host" ] && [ "$host" != "$(hostname)" ]; then
    beat=$(stat -c %%Y "$RUN/olmolab.pid" 2>/dev/null) || return 1
    [ $(( $(date +%%s) - beat )) -lt %d ]
    return
  fi
  kill -0 "$pid" 2>/dev/null
}
if [ -d "$RUN" ] && ! lock_live; then
  # a start that never wrote a checkpoint (and whose process is gone): start over
  rm -f "$RUN/olmolab.pid" "$RUN/metrics.jsonl" "$RUN/events.jsonl" "$RUN/evals.jsonl" "$RUN/summary.json"
fi
exec "${START[@]}" >/dev/null
`, m.Prefix, n-1, m.Prefix, int(lab.LockHeartbeat.Seconds()), stale, stale)
	return []byte(b.String())
}

// shellQuote quotes s for bash when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-.,/:=+@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
