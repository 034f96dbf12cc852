package lab

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/olmolab/olmolab/lab/data"
	"github.com/olmolab/olmolab/model"
	"github.com/olmolab/olmolab/model/tempfile"
)

// ForkFile is fork.json in a run directory made by Fork: the run it was
// forked from, at which checkpoint, and the data it skipped (ForkInfo).
const ForkFile = "fork.json"

// ForkParams asks Fork for a new run that continues Parent from one of its
// checkpoints (a rewind past a loss spike).
type ForkParams struct {
	Parent string // the run directory forked
	Step   int64  // its checkpoint step-Step
	// SkipSteps: the fork leaves out the parent's next SkipSteps batches
	// and starts at step Step+SkipSteps, on the batch the parent trained
	// there; SkipTokens, the same in tokens, rounded up to whole steps.
	// At most one of the two.
	SkipSteps  int64
	SkipTokens int64
	Dir        string // the fork's run directory: must not exist
}

// ForkInfo is fork.json.
type ForkInfo struct {
	Parent    string `json:"parent"`     // the parent's directory, absolute
	ParentRun string `json:"parent_run"` // its name
	Step      int64  `json:"step"`       // the parent's checkpoint forked from
	Tokens    int64  `json:"tokens"`     // its tokens
	// SkipSteps batches (SkipTokens tokens) of the parent's data order left
	// out: the fork's first checkpoint is at step Step+SkipSteps.
	SkipSteps  int64 `json:"skip_steps,omitempty"`
	SkipTokens int64 `json:"skip_tokens,omitempty"`
	// Linked: the checkpoint's weights and moments are hard links to the
	// parent's files (no copy); false where the file system cannot link.
	Linked bool      `json:"linked"`
	Time   time.Time `json:"time"`
}

// ForkError is bad input to Fork: Field is what was wrong ("step", "skip",
// "dir"), so that a front end names its own flag or dialog field.
type ForkError struct {
	Field string
	Err   error
}

func (e *ForkError) Error() string { return e.Err.Error() }
func (e *ForkError) Unwrap() error { return e.Err }

// ReadFork reads dir's fork.json; ok is false for a run that is no fork.
func ReadFork(dir string) (ForkInfo, bool) {
	var fi ForkInfo
	b, err := os.ReadFile(filepath.Join(dir, ForkFile))
	if err != nil || json.Unmarshal(b, &fi) != nil {
		return ForkInfo{}, false
	}
	return fi, true
}

// ParseCheckpointStep reads a checkpoint named as a person would: "step-N",
// "N" or a path ending in step-N.
func ParseCheckpointStep(s string) (int64, error) {
	n := strings.TrimPrefix(filepath.Base(filepath.Clean(s)), "step-")
	v, err := strconv.ParseInt(n, 10, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("%q is not a checkpoint: want step-N or N", s)
	}
	return v, nil
}

// Fork makes p.Dir a new run that continues p.Parent from its checkpoint
// step-p.Step, and leaves the parent untouched: recipe.yaml, the parent's
// metrics, events and its own evaluations up to that step (its step and
// token axis, so that charts, summaries and snr see the whole run), and
// checkpoints/step-M (M = Step+SkipSteps) whose weights and Adam moments
// are hard links to the parent's files (a copy where the file system
// cannot link) and whose state.json is the parent's at Step, renamed and,
// with a skip, moved on by SkipSteps batches: the data loader drew them
// (the data order from there on is the parent's from step M), the step and
// token counts and the LR schedule count them, and the weights, the Adam
// moments and their step count are untouched, as for a step the optimizer
// skips. The fork then trains like any run (olmolab --batch --resume).
// Everything is written into a temporary directory renamed to p.Dir at the
// end: on an error nothing is left. Bad input is a *ForkError.
func Fork(p ForkParams) (ForkInfo, error) {
	bad := func(field string, format string, a ...any) (ForkInfo, error) {
		return ForkInfo{}, &ForkError{field, fmt.Errorf(format, a...)}
	}
	if err := checkRunDir(p.Parent); err != nil {
		return ForkInfo{}, &ForkError{"parent", err}
	}
	if p.SkipSteps < 0 || p.SkipTokens < 0 {
		return bad("skip", "a skip of %d is negative", min(p.SkipSteps, p.SkipTokens))
	}
	if p.SkipSteps > 0 && p.SkipTokens > 0 {
		return bad("skip", "skip steps or tokens, not both")
	}
	if _, err := os.Lstat(p.Dir); err == nil {
		return bad("dir", "%s exists already: a fork is a new run directory; choose another name", p.Dir)
	}
	steps, err := listCheckpoints(p.Parent)
	if err != nil || !containsStep(steps, p.Step) {
		have := "none"
		if len(steps) > 0 {
			var names []string
			for _, s := range steps {
				names = append(names, checkpointName(s))
			}
			have = strings.Join(names, ", ")
		}
		return bad("step", "%s has no checkpoint %s (it has: %s)", p.Parent, checkpointName(p.Step), have)
	}
	rec, err := LoadRecipe(filepath.Join(p.Parent, RecipeFile), nil)
	if err != nil {
		return ForkInfo{}, &ForkError{"parent", err}
	}
	src := filepath.Join(p.Parent, CkptDir, checkpointName(p.Step))
	lc, err := loadCheckpoint(src)
	if err != nil {
		return ForkInfo{}, &ForkError{"step", err}
	}
	lc.Close() // checked; the files are linked, not read
	if lc.State == nil {
		return bad("step", "%s: not an olmolab checkpoint (no %s)", src, StateFile)
	}
	st := *lc.State
	if end := resumedState(st, rec).TotalTokens; st.Tokens >= end && !(st.Phase == "stage1" && rec.Soup.Ingredients > 0) {
		return bad("step", "%s is where the run ends (%s tokens): nothing is left to train after it; fork from an earlier checkpoint", checkpointName(p.Step), HumanCount(end))
	}
	gb := int64(rec.GlobalBatchSize)
	k := p.SkipSteps
	if p.SkipTokens > 0 {
		k = (p.SkipTokens + gb - 1) / gb
	}
	if k > 0 {
		if st, err = skipState(rec, st, k); err != nil {
			return ForkInfo{}, &ForkError{"skip", fmt.Errorf("%s: %w", src, err)}
		}
	}

	parentAbs, err := filepath.Abs(p.Parent)
	if err != nil {
		return ForkInfo{}, err
	}
	root := filepath.Dir(filepath.Clean(p.Dir))
	if err := os.MkdirAll(root, 0o755); err != nil {
		return bad("dir", "%s: %v", root, err)
	}
	tmp, err := os.MkdirTemp(root, ".fork-"+filepath.Base(p.Dir)+"-")
	if err != nil {
		return bad("dir", "%s: %v", root, err)
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(tmp)
		}
	}()
	name := filepath.Base(filepath.Clean(p.Dir))
	info := ForkInfo{Parent: parentAbs, ParentRun: filepath.Base(parentAbs), Step: lc.State.Step, Tokens: lc.State.Tokens,
		SkipSteps: k, SkipTokens: k * gb, Time: time.Now().UTC()}
	if err := copyFile(filepath.Join(p.Parent, RecipeFile), filepath.Join(tmp, RecipeFile)); err != nil {
		return ForkInfo{}, err
	}
	// The parent's history up to the checkpoint: the fork's metrics
	// continue its step and token axis. Its evaluations of other runs (a
	// soup's ingredients) stay with it; its own are the fork's too.
	keep := func(line []byte) []byte {
		if s, has, ok := stepOf(line); !ok || (has && s > info.Step) {
			return nil
		}
		return line
	}
	for _, f := range []string{MetricsFile, EventsFile} {
		if err := copyJSONL(filepath.Join(p.Parent, f), filepath.Join(tmp, f), keep); err != nil {
			return ForkInfo{}, err
		}
	}
	parentRun := lc.State.Run
	if parentRun == "" {
		parentRun = info.ParentRun
	}
	if err := copyJSONL(filepath.Join(p.Parent, EvalsFile), filepath.Join(tmp, EvalsFile), func(line []byte) []byte {
		if keep(line) == nil {
			return nil
		}
		// every field kept (an OLMES record's instances among them), the
		// run renamed
		var e map[string]json.RawMessage
		var run string
		if json.Unmarshal(line, &e) != nil || json.Unmarshal(e["run"], &run) != nil || run != parentRun {
			return nil
		}
		e["run"], _ = json.Marshal(name)
		b, err := json.Marshal(e)
		if err != nil {
			return nil
		}
		return append(b, '\n')
	}); err != nil {
		return ForkInfo{}, err
	}

	dst := filepath.Join(tmp, CkptDir, checkpointName(st.Step))
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return ForkInfo{}, err
	}
	linked, err := linkTree(src, dst, StateFile)
	if err != nil {
		return bad("step", "%s: %v (was it removed meanwhile by checkpoint.keep?)", src, err)
	}
	info.Linked = linked
	st.Run = name
	// the parent's: steps the fork may write again, which it need not keep
	st.KeptBeforeSpikes = nil
	js, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return ForkInfo{}, err
	}
	if err := model.WriteFileAtomic(filepath.Join(dst, StateFile), append(js, '\n')); err != nil {
		return ForkInfo{}, err
	}
	fj, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return ForkInfo{}, err
	}
	if err := model.WriteFileAtomic(filepath.Join(tmp, ForkFile), append(fj, '\n')); err != nil {
		return ForkInfo{}, err
	}
	tempfile.SyncDir(dst)
	tempfile.SyncDir(tmp)
	// a directory made meanwhile is not replaced: Rename onto an empty one
	// would succeed
	if _, err := os.Lstat(p.Dir); err == nil {
		return bad("dir", "%s exists already: a fork is a new run directory; choose another name", p.Dir)
	}
	if err := os.Rename(tmp, p.Dir); err != nil {
		return bad("dir", "%v", err)
	}
	tempfile.SyncDir(root)
	ok = true
	return info, nil
}

// skipState is st moved on by k batches that are not trained: the loader
// draws them (the data order after is the parent's from step st.Step+k),
// the step and token counts and the LR count them, the weights and the
// Adam moments and step are untouched. A skip that reaches the run's end,
// or passes where the run switches its mix or starts its anneal or soup,
// is refused: the parent drew from another mix, or did something else,
// there.
func skipState(rec *Recipe, st CheckpointState, k int64) (CheckpointState, error) {
	gb := int64(rec.GlobalBatchSize)
	planned := resumedState(st, rec).TotalTokens
	to := st.Tokens + k*gb
	if to >= planned {
		return st, fmt.Errorf("a skip of %d steps (%s tokens) from step %d reaches step %d, %s tokens, and the run ends at %s tokens (step %d): nothing would be left to train",
			k, HumanCount(k*gb), st.Step, st.Step+k, HumanCount(to), HumanCount(planned), planned/gb)
	}
	// the last position where the run acts before drawing a skipped batch
	last := st.Tokens + (k-1)*gb
	switch st.Phase {
	case "stage1":
		if sched := rec.MixSchedule; st.MixSwitches < len(sched) && sched[st.MixSwitches].AtTokens <= last {
			s := sched[st.MixSwitches]
			return st, fmt.Errorf("a skip of %d steps passes mix_schedule's switch to %s at %s tokens: skip at most %d steps, or fork from a checkpoint after the switch",
				k, s.Mix, HumanCount(s.AtTokens), max((s.AtTokens-st.Tokens+gb-1)/gb, 0))
		}
		if a := rec.Anneal.AutoAt; a > 0 && a <= last && (rec.Soup.Ingredients > 0 || !st.AutoAnnealed) {
			return st, fmt.Errorf("a skip of %d steps passes anneal.auto_at (%s tokens), where the run starts its anneal or soup: skip at most %d steps",
				k, HumanCount(a), max((a-st.Tokens+gb-1)/gb, 0))
		}
	case "anneal":
	default:
		return st, fmt.Errorf("phase %s: a skip goes with stage 1 or an anneal", st.Phase)
	}
	tok, err := data.NewTokenizer(rec.Tokenizer)
	if err != nil {
		return st, err
	}
	l, err := data.NewLoader(data.LoaderParams{Sources: st.Mix, Tokenizer: tok, SeqLen: rec.SequenceLength, Seed: rec.Seed,
		Strict: rec.StrictData, DType: rec.DataDType, World: rec.World.KB()})
	if err != nil {
		return st, fmt.Errorf("mix: %w", err)
	}
	defer l.Close()
	if err := l.Restore(st.Loader); err != nil {
		return st, fmt.Errorf("data position: %w", err)
	}
	ids := make([]int32, gb)
	for range k {
		if err := l.Next(ids); err != nil {
			return st, err
		}
	}
	st.Loader = l.State()
	st.Step += k
	st.Tokens = to
	if st.Phase == "anneal" {
		st.LR = AnnealLR(st.AnnealLR0, to-st.AnnealStart, st.AnnealTokens)
	} else {
		st.LR = rec.Schedule.LR(rec.Optimizer.LR, to, rec.MaxTokens)
	}
	return st, nil
}

func containsStep(steps []int64, s int64) bool {
	for _, x := range steps {
		if x == s {
			return true
		}
	}
	return false
}

// stepOf is a JSONL line's "step" (has false for a line without one); ok
// is false for a line that is no JSON object.
func stepOf(line []byte) (step int64, has, ok bool) {
	if s, has, ok := lineStep(line); ok {
		return s, has, true
	}
	var v struct {
		Step *int64 `json:"step"`
	}
	if json.Unmarshal(line, &v) != nil {
		return 0, false, false
	}
	if v.Step == nil {
		return 0, false, true
	}
	return *v.Step, true, true
}

// copyJSONL writes the complete lines of src, each as edit returns it (nil:
// left out), to dst; a missing src writes nothing.
func copyJSONL(src, dst string, edit func([]byte) []byte) error {
	in, err := os.Open(src)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer in.Close()
	return writeJSONLines(in, src, dst, edit)
}

// linkTree hard-links the files under src into dst (made already), but
// for skip, copying where the file system cannot link (another device);
// linked says whether every file was linked. A checkpoint's files are
// never written in place (a rewrite replaces the directory), so a link
// shares them safely: the parent's rotation removes its names, not the
// fork's.
func linkTree(src, dst, skip string) (linked bool, err error) {
	linked = true
	err = filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if rel == "." || rel == skip {
			return nil
		}
		to := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(to, 0o755)
		}
		if os.Link(path, to) == nil {
			return nil
		}
		linked = false
		return copyFile(path, to)
	})
	return linked, err
}

// copyFile copies src to dst (made atomically).
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	return model.WriteFileAtomicFunc(dst, func(out io.Writer) error {
		_, err := io.Copy(out, in)
		return err
	})
}

// ForkLine says where a fork comes from: "base at step-40, 5 steps (1.3K
// tokens) skipped".
func ForkLine(f ForkInfo) string {
	s := fmt.Sprintf("%s at %s", f.ParentRun, checkpointName(f.Step))
	if f.SkipSteps > 0 {
		s += fmt.Sprintf(", %d steps (%s tokens) skipped", f.SkipSteps, HumanCount(f.SkipTokens))
	}
	return s
}

// Checkpoints lists the steps of a run's complete checkpoints, oldest first.
func Checkpoints(runDir string) ([]int64, error) { return listCheckpoints(runDir) }
