package lab

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/olmolab/olmolab/lab/data"
	"github.com/olmolab/olmolab/lab/jsonfield"
	"github.com/olmolab/olmolab/model"
	"github.com/olmolab/olmolab/model/safetensors"
	"github.com/olmolab/olmolab/model/tempfile"
)

// A run directory (DESIGN.md): recipe.yaml (resolved), metrics.jsonl (a line per
// step), events.jsonl, evals.jsonl, checkpoints/step-N/ (config.json,
// model.safetensors, the tokenizer's Hugging Face files (writeHFTokenizer),
// optim.safetensors, state.json). JSONL files are appended as
// the run goes; checkpoints are written under a temporary name and renamed.
const (
	RecipeFile  = "recipe.yaml"
	MetricsFile = "metrics.jsonl"
	EventsFile  = "events.jsonl"
	EvalsFile   = "evals.jsonl"
	CkptDir     = "checkpoints"
	StateFile   = "state.json"
	OptimFile   = "optim.safetensors"
	SummaryFile = "summary.json"
	LockFile    = "olmolab.pid" // present while a process trains the run (RunLock)
)

// CheckpointState is state.json: everything besides the weights and moments
// that a resumed run needs to continue exactly.
type CheckpointState struct {
	Run          string  `json:"run"`
	Step         int64   `json:"step"`
	Tokens       int64   `json:"tokens"`
	TotalTokens  int64   `json:"total_tokens"` // where the run ends
	Phase        string  `json:"phase"`
	LR           float64 `json:"lr"` // the last step's LR (an anneal from here starts at it)
	AnnealStart  int64   `json:"anneal_start,omitempty"`
	AnnealTokens int64   `json:"anneal_tokens,omitempty"`
	AnnealLR0    float64 `json:"anneal_lr0,omitempty"`
	AutoAnnealed bool    `json:"auto_annealed,omitempty"`
	// MixSwitches counts the recipe's mix_schedule switches made (or skipped
	// in an anneal): a resume past one trains on Mix, the switched mix, and
	// makes only those after it.
	MixSwitches int               `json:"mix_switches,omitempty"`
	Mix         []data.SourceSpec `json:"mix"`
	Loader      data.LoaderState  `json:"loader"`
	SpikesLoss  SpikeState        `json:"spikes_loss"`
	SpikesGrad  SpikeState        `json:"spikes_grad"`
	Skipped     int64             `json:"skipped"`
	OptStep     int               `json:"opt_step"`
	Backend     string            `json:"backend"`
	Time        time.Time         `json:"time"`
	// Seconds is the wall-clock time the run had taken up to this checkpoint, in
	// all the processes that trained it; StepSeconds and StepTokens are the time
	// and tokens of its training steps (tokens/s). A resumed run's summary
	// counts on from them, so it covers the whole run.
	Seconds     float64 `json:"seconds,omitempty"`
	StepSeconds float64 `json:"step_seconds,omitempty"`
	StepTokens  int64   `json:"step_tokens,omitempty"`
	// Checksums is the CRC-32C of every tensor's data as it was written:
	// the weights by their HF names, the Adam moments as adam_m and
	// adam_v. A resume checks them (loadedCheckpoint.verify): a flipped
	// bit in the weights otherwise parses, loads and trains on. None in a
	// checkpoint written before they were recorded.
	Checksums map[string]uint32 `json:"crc32c,omitempty"`
	// KeptBeforeSpikes are the checkpoints checkpoint.keep does not remove:
	// each the latest written before a flagged spike (keptBeforeSpike), a
	// place to rewind to (Fork).
	KeptBeforeSpikes []int64 `json:"kept_before_spikes,omitempty"`
}

// check refuses a state.json a run cannot continue from (hand-edited or
// damaged): a resumed run would otherwise train on in a phase or at a step
// that cannot exist. dir is the checkpoint directory's name (step-N).
func (st *CheckpointState) check(dir string) error {
	switch {
	case st.Step < 0:
		return fmt.Errorf("field step: %d is negative", st.Step)
	case strings.HasPrefix(dir, "step-") && dir != checkpointName(st.Step):
		return fmt.Errorf("field step: %d, but the directory is %s", st.Step, dir)
	case st.Phase != "stage1" && st.Phase != "anneal" && st.Phase != "soup":
		return fmt.Errorf("field phase: %q is not a phase (stage1, anneal, soup)", st.Phase)
	case st.Tokens < 0 || st.TotalTokens <= 0 || st.Tokens > st.TotalTokens:
		return fmt.Errorf("fields tokens and total_tokens: %d of %d", st.Tokens, st.TotalTokens)
	case !finite(st.LR) || st.LR < 0 || !finite(st.AnnealLR0) || st.AnnealLR0 < 0:
		return fmt.Errorf("fields lr and anneal_lr0: %v and %v", st.LR, st.AnnealLR0)
	case st.AnnealStart < 0 || st.AnnealTokens < 0 || st.Skipped < 0 || st.OptStep < 0:
		return fmt.Errorf("fields anneal_start, anneal_tokens, skipped and opt_step must not be negative: %d, %d, %d, %d",
			st.AnnealStart, st.AnnealTokens, st.Skipped, st.OptStep)
	case st.Phase == "anneal" && st.AnnealTokens == 0:
		return errors.New("field anneal_tokens: 0 in phase anneal")
	case len(st.Mix) == 0:
		return errors.New("field mix: empty")
	}
	for i, m := range st.Mix {
		if !finite(m.TargetRatio) || m.TargetRatio < 0 {
			return fmt.Errorf("field mix[%d].target_ratio: %v", i, m.TargetRatio)
		}
	}
	for name, sp := range map[string]SpikeState{"spikes_loss": st.SpikesLoss, "spikes_grad": st.SpikesGrad} {
		if sp.N < 0 || sp.Spikes < 0 || sp.Spikes > sp.N {
			return fmt.Errorf("field %s: %d spikes in %d values", name, sp.Spikes, sp.N)
		}
		for _, v := range sp.Window {
			if !finite(v) {
				return fmt.Errorf("field %s.window: %v", name, v)
			}
		}
	}
	return nil
}

// checkpointName is the directory of step n.
func checkpointName(step int64) string { return fmt.Sprintf("step-%d", step) }

// writeCheckpoint writes dir/checkpoints/step-N atomically: everything goes into a
// temporary directory that is renamed into place once complete, then old
// checkpoints beyond keep are pruned. The weights and both Adam moments
// stream from the backend into their files, model.StreamChunk values at a
// time, so the host holds one 4 MiB buffer, not copies of the model (20
// bytes per parameter before: olmo2_7B's 7.3B took 145 GB of host memory to
// save). st.OptStep is set from the backend.
// tok's Hugging Face files go beside config.json (none for a nil tok).
func writeCheckpoint(runDir string, b model.Backend, st CheckpointState, dtype string, keep int, tok data.Tokenizer) (string, error) {
	root := filepath.Join(runDir, CkptDir)
	// Mkdir, not MkdirAll: a run directory removed while the run trained
	// is not made again, holding checkpoints and nothing else
	if err := os.Mkdir(root, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return "", fmt.Errorf("checkpoint: %w", err)
	}
	final := filepath.Join(root, checkpointName(st.Step))
	tmp := filepath.Join(root, fmt.Sprintf(".tmp-%s-%d", checkpointName(st.Step), os.Getpid()))
	// A process killed while it wrote a checkpoint (kill -9, a node lost, Slurm's
	// SIGKILL after KillWait) leaves its temporary directory: a model's worth of
	// disk that no one else would remove. The run lock makes this process the
	// run's only writer, so every temporary directory here is such a leftover.
	removeLeftovers(root)
	// tracked, so that a quit at once removes it (tempfile.Abandon)
	if err := tempfile.Track(tmp, func() error { return os.MkdirAll(tmp, 0o755) }); err != nil {
		return "", fmt.Errorf("checkpoint %s: %w", final, err)
	}
	defer tempfile.Untrack(tmp)
	fail := func(err error) (string, error) {
		os.RemoveAll(tmp)
		return "", fmt.Errorf("checkpoint %s: %w", final, err)
	}
	n := model.NewLayout(b.Config()).Size()
	buf := model.NewStreamBuf(n)
	sums, err := model.SaveHFFromSums(tmp, b, buf, safetensors.DType(dtype), 0)
	if err != nil {
		return fail(err)
	}
	if err := writeHFTokenizer(tmp, tok, b.Config()); err != nil {
		return fail(err)
	}
	st.OptStep = b.ReadOptStateAt(nil, nil, 0)
	if err := writeOptim(filepath.Join(tmp, OptimFile), b, buf, st.OptStep, sums); err != nil {
		return fail(err)
	}
	st.Checksums = sums
	js, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fail(err)
	}
	if err := model.WriteFileAtomic(filepath.Join(tmp, StateFile), append(js, '\n')); err != nil {
		return fail(err)
	}
	tempfile.SyncDir(tmp)
	if _, err := os.Stat(final); err == nil {
		// Rewriting a step whose state changed since its checkpoint (an
		// anneal or a mix switch asked for there). The old one was removed
		// first: a kill before the rename left the run without this step's
		// checkpoint, and with keep: 1 without any. The new one takes its
		// place in one step where the file system can; elsewhere the old
		// one is moved aside (a temporary name, removed by the next write)
		// just before.
		if !exchangeDirs(tmp, final) {
			old := tmp + ".replaced"
			if err := os.Rename(final, old); err != nil {
				return fail(err)
			}
			if err := os.Rename(tmp, final); err != nil {
				os.Rename(old, final)
				return fail(err)
			}
		}
		os.RemoveAll(tmp) // the old one, exchanged
		os.RemoveAll(tmp + ".replaced")
	} else if err := tempfile.Rename(tmp, final); err != nil {
		return fail(err)
	}
	tempfile.SyncDir(root)
	pruneCheckpoints(runDir, keep, st.KeptBeforeSpikes)
	return final, nil
}

// writeHFTokenizer writes the files Hugging Face's AutoTokenizer and generate
// read (data.HFTokenizerFiles: tokenizer.json, tokenizer_config.json,
// special_tokens_map.json, generation_config.json) into the HF checkpoint dir
// beside its config.json, each atomically, so that the checkpoint is
// tokenized in HF exactly as it was trained. tokenizer.json is built once per
// process: 4.2 MB for dolma2, 72 KB for world, 5 KB for bytes. A nil tok
// writes nothing.
func writeHFTokenizer(dir string, tok data.Tokenizer, cfg model.Config) error {
	if tok == nil {
		return nil
	}
	files, err := data.HFTokenizerFiles(tok, cfg.MaxPositionEmbeddings)
	if err != nil {
		return err
	}
	for _, f := range files {
		if err := model.WriteFileAtomic(filepath.Join(dir, f.Name), f.Data); err != nil {
			return err
		}
	}
	return nil
}

// exchangeDirs is exchangeDirsOS; a test takes the path of a file system
// that cannot exchange.
var exchangeDirs = exchangeDirsOS

// removeLeftovers removes the temporary directories of checkpoint writes that
// never finished (.tmp-step-N-PID). A step's old checkpoint moved aside for
// its new one (.tmp-step-N-PID.replaced, where directories cannot be
// exchanged) whose new one never took its place is put back instead: it is
// the step's only copy.
func removeLeftovers(root string) {
	ents, _ := os.ReadDir(root)
	for _, e := range ents {
		old, ok := strings.CutSuffix(e.Name(), ".replaced")
		if !ok || !strings.HasPrefix(old, ".tmp-step-") {
			continue
		}
		step := strings.TrimPrefix(old, ".tmp-")
		step = step[:strings.LastIndexByte(step, '-')] // step-N
		if _, err := os.Stat(filepath.Join(root, step)); errors.Is(err, os.ErrNotExist) {
			os.Rename(filepath.Join(root, e.Name()), filepath.Join(root, step))
		}
	}
	removePrefixed(root, ".tmp-")
}

// removePrefixed removes the entries of dir whose names start with prefix.
// Each is first renamed aside (to a name that still starts with prefix), so
// that a writer still filling it, in a process about to exit, finds its
// directory gone instead of refilling one being removed.
func removePrefixed(dir, prefix string) {
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), prefix) || strings.HasSuffix(e.Name(), ".removing") {
			continue
		}
		p := filepath.Join(dir, e.Name())
		if os.Rename(p, p+".removing") == nil {
			p += ".removing"
		}
		os.RemoveAll(p)
	}
	for _, e := range ents { // a removal an earlier quit left unfinished
		if strings.HasPrefix(e.Name(), prefix) && strings.HasSuffix(e.Name(), ".removing") {
			os.RemoveAll(filepath.Join(dir, e.Name()))
		}
	}
}

// atomicTemp matches the temporary file of model.WriteFileAtomic
// (NAME.tmp-PID) and of acquireLock (.olmolab.pid.PID.tmp).
var atomicTemp = regexp.MustCompile(`^(?:.+\.tmp-(\d+)|\.` + regexp.QuoteMeta(LockFile) + `\.(\d+)\.tmp)$`)

// RemoveTemporaries removes what unfinished writes left in runDir: the
// directory of a checkpoint being written (checkpoints/.tmp-*), a soup's
// float32 copy of its starting weights (soups/.start-*), and the temporary
// file of a file being replaced (NAME.tmp-PID) of pid or of a process that
// no longer runs, and the mark of an eval --record that no longer runs. The caller holds the run's lock, so no other process
// writes the first two: a resume calls it, and a run quit at once (a
// second Ctrl-C) calls it for its own files before it exits, which left a
// first checkpoint's .tmp-step-N directory that no later checkpoint would
// remove where the run was never resumed.
func RemoveTemporaries(runDir string, pid int) {
	removeLeftovers(filepath.Join(runDir, CkptDir))
	removePrefixed(filepath.Join(runDir, "soups"), ".start-")
	ents, _ := os.ReadDir(runDir)
	for _, e := range ents {
		m := atomicTemp.FindStringSubmatch(e.Name())
		if m == nil || e.IsDir() {
			continue
		}
		n, err := strconv.Atoi(m[1] + m[2])
		if err != nil || (n != pid && PIDAlive(n)) {
			continue
		}
		os.Remove(filepath.Join(runDir, e.Name()))
	}
	for _, p := range recordingMarks(runDir) { // a killed eval --record's
		if l, ok := readLockFile(p); !ok || !l.live() {
			os.Remove(p)
		}
	}
}

// writeOptim writes optim.safetensors: the Adam moments as two flat F32
// tensors, adam_m and adam_v, in Layout order, each streamed from the
// backend through buf. Each one's CRC-32C goes into sums.
func writeOptim(path string, b model.Backend, buf []float32, optStep int, sums map[string]uint32) error {
	n := model.NewLayout(b.Config()).Size()
	headers := []safetensors.Header{{Name: "adam_m", DType: "F32", Shape: []int{int(n)}}, {Name: "adam_v", DType: "F32", Shape: []int{int(n)}}}
	meta := map[string]string{"opt_step": strconv.Itoa(optStep), "layout": "model.Layout order (HF names, flat)"}
	return safetensors.WriteFunc(path, meta, headers, func(i int, w io.Writer) error {
		h := crc32.New(crc32.MakeTable(crc32.Castagnoli))
		defer func() { sums[headers[i].Name] = h.Sum32() }()
		w = io.MultiWriter(w, h)
		for off := 0; off < int(n); off += len(buf) {
			c := buf[:min(len(buf), int(n)-off)]
			if i == 0 {
				b.ReadOptStateAt(c, nil, off)
			} else {
				b.ReadOptStateAt(nil, c, off)
			}
			if err := model.WriteFloats(w, c, "F32"); err != nil {
				return err
			}
		}
		return nil
	})
}

// listCheckpoints returns the steps of complete checkpoints, oldest first.
func listCheckpoints(runDir string) ([]int64, error) {
	ents, err := os.ReadDir(filepath.Join(runDir, CkptDir))
	if err != nil {
		return nil, err
	}
	var steps []int64
	for _, e := range ents {
		s, ok := strings.CutPrefix(e.Name(), "step-")
		if !ok || !e.IsDir() {
			continue
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			continue
		}
		if _, err := os.Stat(filepath.Join(runDir, CkptDir, e.Name(), StateFile)); err == nil {
			steps = append(steps, n)
		}
	}
	sort.Slice(steps, func(i, j int) bool { return steps[i] < steps[j] })
	return steps, nil
}

// SkippedCheckpoints says which checkpoint directories of runDir newer than
// taken (the one LatestCheckpoint chose; "" for none) were passed over for
// lacking state.json, and that taken is used instead: "" when none was. A
// checkpoint is renamed into place complete (writeCheckpoint), so such a
// directory is damage (a crash between the weights and the state on a file
// system without an atomic rename, a user's partial copy), and the steps
// after taken are lost to whoever continues from it: that is said, not
// passed over in silence.
func SkippedCheckpoints(runDir, taken string) string {
	ents, err := os.ReadDir(filepath.Join(runDir, CkptDir))
	if err != nil {
		return ""
	}
	after := int64(-1)
	if taken != "" {
		if n, err := strconv.ParseInt(strings.TrimPrefix(filepath.Base(taken), "step-"), 10, 64); err == nil {
			after = n
		}
	}
	var skipped []int64
	for _, e := range ents {
		s, ok := strings.CutPrefix(e.Name(), "step-")
		if !ok || !e.IsDir() {
			continue
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= after {
			continue
		}
		if _, err := os.Stat(filepath.Join(runDir, CkptDir, e.Name(), StateFile)); errors.Is(err, fs.ErrNotExist) {
			skipped = append(skipped, n)
		}
	}
	if len(skipped) == 0 {
		return ""
	}
	sort.Slice(skipped, func(i, j int) bool { return skipped[i] < skipped[j] })
	var names []string
	for _, n := range skipped {
		names = append(names, filepath.Join(runDir, CkptDir, checkpointName(n)))
	}
	instead := "no checkpoint is taken instead"
	if taken != "" {
		instead = fmt.Sprintf("taking %s instead, so the steps after %d are not in it", taken, after)
	}
	return fmt.Sprintf("%s: no %s (a checkpoint cut short by a crash, or a partial copy), so it is not a checkpoint; %s; HINT: copy the checkpoint again if it came from elsewhere, or move the directory out of %s", strings.Join(names, ", "), StateFile, instead, filepath.Join(runDir, CkptDir))
}

// LatestCheckpoint returns the newest complete checkpoint directory of a run.
func LatestCheckpoint(runDir string) (string, error) {
	steps, err := listCheckpoints(runDir)
	if err != nil || len(steps) == 0 {
		return "", fmt.Errorf("%s: no checkpoint to resume from", runDir)
	}
	return filepath.Join(runDir, CkptDir, checkpointName(steps[len(steps)-1])), nil
}

// loadedCheckpoint is a checkpoint directory opened and checked by
// loadCheckpoint: config.json, the safetensors headers, state.json and the
// optimizer file's header, with no tensor read yet. load streams it into a
// backend. Close it when done.
type loadedCheckpoint struct {
	Dir     string
	Config  model.Config
	State   *CheckpointState // nil for a plain HF checkpoint
	weights *model.HFSource
	optim   *safetensors.File // nil for a plain HF checkpoint
	m, v    *safetensors.Tensor
}

// loadCheckpoint opens an HF checkpoint dir, one of ours (with optimizer and
// state), or a run directory (its latest checkpoint), and checks everything a
// load could find wrong before reading any tensor: the weights' names, shapes
// and dtypes against config.json, state.json's fields, and the Adam moments'
// names and sizes. Its errors name the file and the field or tensor.
func loadCheckpoint(path string) (lc *loadedCheckpoint, err error) {
	if _, err := os.Stat(filepath.Join(path, CkptDir)); err == nil {
		latest, err := LatestCheckpoint(path)
		if err != nil {
			return nil, err
		}
		path = latest
	}
	w, err := model.OpenHF(path)
	if err != nil {
		return nil, err
	}
	lc = &loadedCheckpoint{Dir: path, Config: w.Config, weights: w}
	defer func() {
		if err != nil {
			lc.Close()
			lc = nil
		}
	}()
	sb, err := os.ReadFile(filepath.Join(path, StateFile))
	if errors.Is(err, os.ErrNotExist) {
		return lc, nil // a plain HF checkpoint: weights only
	}
	if err != nil {
		return nil, err
	}
	var st CheckpointState
	if err := json.Unmarshal(sb, &st); err != nil {
		// Go's bare "unexpected end of JSON input" did not say the file was damaged
		return nil, fmt.Errorf("%s: not valid JSON (%v): the file was cut short or damaged", filepath.Join(path, StateFile), err)
	}
	if err := st.check(filepath.Base(path)); err != nil {
		return nil, fmt.Errorf("%s: %w; HINT: the checkpoint is damaged: resume from an earlier one (move this directory away)", filepath.Join(path, StateFile), err)
	}
	lc.State = &st
	// The moments are streamed from the file into the backend by load,
	// after its header is checked here.
	if lc.optim, err = safetensors.Open(filepath.Join(path, OptimFile)); err != nil {
		return nil, err
	}
	n := w.Layout.Size()
	for _, x := range []struct {
		name string
		dst  **safetensors.Tensor
	}{{"adam_m", &lc.m}, {"adam_v", &lc.v}} {
		t, ok := lc.optim.Get(x.name)
		if !ok {
			return nil, fmt.Errorf("%s: tensor %q is missing", lc.optim.Path, x.name)
		}
		if int64(t.NumElements()) != n {
			return nil, fmt.Errorf("%s: tensor %q has %d values, the model has %d parameters", lc.optim.Path, x.name, t.NumElements(), n)
		}
		*x.dst = t
	}
	return lc, nil
}

// verify reads every tensor of the checkpoint, weights and Adam moments,
// and checks its data against the CRC-32C state.json recorded when it was
// written. A flipped bit on the disk, or a copy damaged on its way, leaves
// files that parse and load: the run trained on from weights no one wrote,
// without a word. A checkpoint written before checksums were recorded is
// taken as it is. It costs one more pass over the files, CRC-32C at 2-4
// GB/s a core: 0.07-0.22 s for a cpu_l checkpoint (334 MB) against the
// load's 0.18-0.82 s, page cache warm, on this project's shared 2-core
// machine (load average 10); the write computes the sums as the bytes go.
// The tensors are read on every core (checkSums): 65-168 ms on one, 58-207
// ms on two (BenchmarkVerify, alternating, load average 6.5-13), up to
// 1.5x faster when the second core is free, no faster when it is not.
func (lc *loadedCheckpoint) verify() error {
	if lc.State == nil { // a soup, an ingredient (SumsFile), a plain HF checkpoint
		if sums, path := weightSums(lc.Dir); sums != nil {
			return checkWeightSums(lc.weights, sums, path)
		}
		return nil
	}
	if len(lc.State.Checksums) == 0 {
		return nil
	}
	checks := weightChecks(lc.weights)
	if lc.optim != nil {
		checks = append(checks, sumCheck{lc.m, lc.optim.Path}, sumCheck{lc.v, lc.optim.Path})
	}
	return checkSums(checks, lc.State.Checksums, filepath.Join(lc.Dir, StateFile))
}

// sumCheck is a tensor to check and the file it is read from.
type sumCheck struct {
	t    *safetensors.Tensor
	file string
}

// weightChecks lists src's weights for checkSums.
func weightChecks(src *model.HFSource) []sumCheck {
	out := make([]sumCheck, 0, len(src.Layout.Tensors))
	for _, lt := range src.Layout.Tensors {
		t, file, _ := src.Tensor(lt.Name)
		out = append(out, sumCheck{t, file})
	}
	return out
}

// checkWeightSums checks every weight of src against sums, state.json's
// crc32c (statePath).
func checkWeightSums(src *model.HFSource, sums map[string]uint32, statePath string) error {
	return checkSums(weightChecks(src), sums, statePath)
}

// verifyWorkers is how many tensors checkSums reads at once: a 7B
// checkpoint (87 GB) is 20-45 s of CRC-32C on one core. A variable so that
// a test and a measurement can set it.
var verifyWorkers = runtime.GOMAXPROCS(0)

// sumChecking runs as checkSums starts a tensor: a test sees them overlap.
var sumChecking = func(name string) {}

// checkSums checks each tensor against its sum (checkSum), verifyWorkers
// tensors at a time, each read in safetensors' pooled chunks, so the
// memory is a chunk per worker whatever the tensors' sizes. Its error is
// the first failing tensor's in the order given, as a check one tensor
// after the other finds: tensors are taken in order and none is taken
// after a failure, so every one before it is checked.
func checkSums(checks []sumCheck, sums map[string]uint32, statePath string) error {
	errs := make([]error, len(checks))
	var next atomic.Int64
	var failed atomic.Bool
	var wg sync.WaitGroup
	for range max(1, min(verifyWorkers, len(checks))) {
		wg.Go(func() {
			for !failed.Load() {
				i := int(next.Add(1)) - 1
				if i >= len(checks) {
					return
				}
				sumChecking(checks[i].t.Name)
				if errs[i] = checkSum(checks[i].t, checks[i].file, sums, statePath); errs[i] != nil {
					failed.Store(true)
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// checkSum checks t's data (in file) against its CRC-32C in sums.
func checkSum(t *safetensors.Tensor, file string, sums map[string]uint32, statePath string) error {
	want, ok := sums[t.Name]
	if !ok {
		return fmt.Errorf("%s: field crc32c has no checksum of tensor %q; HINT: the checkpoint is damaged: use an earlier one", statePath, t.Name)
	}
	got, err := t.CRC32C()
	if err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("%s: tensor %q: its data's CRC-32C is %08x, but %s recorded %08x when the checkpoint was written: the file changed since (a flipped bit on the disk, a damaged copy), and a model loaded from it is not the one that was trained", file, t.Name, got, statePath, want)
	}
	return nil
}

// SumsFile holds a soup's and a soup ingredient's weights' CRC-32C, as a
// checkpoint's state.json does ({"crc32c": {tensor: sum}}): they have no
// state.json.
const SumsFile = "crc32c.json"

// writeWeightSums writes sums (by tensor name) into dir's SumsFile.
func writeWeightSums(dir string, sums map[string]uint32) error {
	js, err := json.MarshalIndent(struct {
		Checksums map[string]uint32 `json:"crc32c"`
	}{sums}, "", "  ")
	if err != nil {
		return err
	}
	return model.WriteFileAtomic(filepath.Join(dir, SumsFile), append(js, '\n'))
}

// weightSums reads the weights' checksums dir's state.json (a checkpoint)
// or SumsFile (a soup, an ingredient) recorded, and the file's path; nil
// where there are none.
func weightSums(dir string) (map[string]uint32, string) {
	for _, name := range []string{StateFile, SumsFile} {
		path := filepath.Join(dir, name)
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		var st struct {
			Checksums map[string]uint32 `json:"crc32c"`
		}
		if json.Unmarshal(b, &st) == nil && len(st.Checksums) > 0 {
			return st.Checksums, path
		}
		return nil, ""
	}
	return nil, ""
}

// verifyWeights checks src's weights against the checksums its directory
// recorded (weightSums), where it has them (one of our checkpoints, soups
// or ingredients): an evaluation of weights changed on the disk scored
// weights no one trained, without a word. A plain HF checkpoint, or one
// whose sums are missing or unreadable (the weights are what is
// evaluated), is taken as it is.
func verifyWeights(src *model.HFSource) error {
	sums, path := weightSums(src.Dir)
	if sums == nil {
		return nil
	}
	if err := checkWeightSums(src, sums, path); err != nil {
		return fmt.Errorf("%w\nHINT: score another checkpoint of the run (--model RUN/checkpoints/step-N), or copy this one again from where it came", err)
	}
	return nil
}

// loadVerified is loadCheckpoint followed by verify: a checkpoint a run
// starts from (a resume's, a load_path), which the disk has held for a
// while. A soup's starting point, just written by the process, is not read
// twice.
func loadVerified(path string) (*loadedCheckpoint, error) {
	lc, err := loadCheckpoint(path)
	if err != nil {
		return nil, err
	}
	if err := lc.verify(); err != nil {
		lc.Close()
		return nil, err
	}
	return lc, nil
}

// Close closes the checkpoint's files; a nil checkpoint is fine.
func (lc *loadedCheckpoint) Close() {
	if lc == nil {
		return
	}
	lc.weights.Close()
	if lc.optim != nil {
		lc.optim.Close()
	}
}

// sameModel refuses a checkpoint whose config.json describes another model
// than cfg (the recipe's), naming config.json and every field that differs:
// every size and the attention split, since the same tensor shapes with other
// head counts load without complaint and compute another model. A resume and
// a load_path are checked alike, and a resume (whole) also compares the
// fields the shapes do not show but the model computes with, rope_theta and
// rms_norm_eps: a run's recipe.yaml edited there went on training another
// model without a word (and its next checkpoints declared the new values). A
// load_path may change them (a context extension's rope_theta).
func (lc *loadedCheckpoint) sameModel(cfg model.Config, whole bool) error {
	diffs := lc.Config.ShapeDiffs(cfg, "recipe's")
	if whole {
		for _, f := range []struct {
			key  string
			a, b float64
		}{{"rope_theta", lc.Config.RopeTheta, cfg.RopeTheta}, {"rms_norm_eps", lc.Config.RMSNormEps, cfg.RMSNormEps}} {
			if f.a != f.b {
				diffs = append(diffs, fmt.Sprintf("%s %g (the recipe's %g)", f.key, f.a, f.b))
			}
		}
	}
	if len(diffs) > 0 {
		return fmt.Errorf("%s holds another model than the recipe's: %s", filepath.Join(lc.Dir, "config.json"), strings.Join(diffs, ", "))
	}
	return nil
}

// hasOptim says whether the checkpoint holds Adam moments (one of ours).
func (lc *loadedCheckpoint) hasOptim() bool { return lc.m != nil }

// load streams the weights into b and, with opt and where the checkpoint has
// them, the Adam moments and step count, model.StreamChunk values at a
// time: the host holds a 4 MiB buffer, not the 12 bytes per parameter of
// the weights and moments. b must hold the checkpoint's model. An error here
// is a read that failed after loadCheckpoint's checks (a file truncated
// since); it names the file and tensor, and b is then partly loaded: the
// caller discards it.
func (lc *loadedCheckpoint) load(b model.Backend, opt bool) error {
	buf := model.NewStreamBuf(lc.weights.Layout.Size())
	if err := lc.weights.WriteTo(b, buf); err != nil {
		return err
	}
	if !opt || !lc.hasOptim() {
		return nil
	}
	n := int(lc.weights.Layout.Size())
	for off := 0; off < n; off += len(buf) {
		c := buf[:min(len(buf), n-off)]
		if err := lc.m.Float32sAt(c, off); err != nil {
			return err
		}
		b.WriteOptStateAt(c, nil, off, lc.State.OptStep)
		if err := lc.v.Float32sAt(c, off); err != nil {
			return err
		}
		b.WriteOptStateAt(nil, c, off, lc.State.OptStep)
	}
	b.WriteOptStateAt(nil, nil, 0, lc.State.OptStep) // a model of no parameters still gets its step
	return nil
}

// jsonlWriter appends one JSON object per line and flushes each line, so a
// killed run leaves whole lines behind. A line that fails to write (a full
// disk: part of it may have reached the file) is cut back off, and the
// writer writes nothing after it, so the file stays whole lines in order;
// the error stays in err, and the run stops on it (Run.logErr). Write
// errors were ignored: a run on a full disk trained on with its metrics
// lost, and a torn line glued to the next one after space came back, which
// no reader (nor a resume's truncation) could parse.
type jsonlWriter struct {
	f    *os.File
	w    io.Writer // f, or a test's stand-in (jsonlTestWriter)
	size int64     // the file's length after its last whole line
	err  error     // the first failed write, naming the file
}

// jsonlTestWriter, set by a test, stands between a jsonlWriter and its
// file (a disk that fills up); nil: the file itself.
var jsonlTestWriter func(path string, f *os.File) io.Writer

func openJSONL(path string) (*jsonlWriter, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	w := &jsonlWriter{f: f, w: f, size: st.Size()}
	if jsonlTestWriter != nil {
		w.w = jsonlTestWriter(path, f)
	}
	return w, nil
}

func (w *jsonlWriter) write(v any) error {
	if w.err != nil {
		return w.err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if _, err := w.w.Write(append(b, '\n')); err != nil {
		w.f.Truncate(w.size) // the part of the line that was written
		w.err = pathErr("write", w.f.Name(), err)
		return w.err
	}
	w.size += int64(len(b) + 1)
	return nil
}

func (w *jsonlWriter) close() error { return w.f.Close() }

// jsonlSync is (*os.File).Sync; a test records the calls.
var jsonlSync = (*os.File).Sync

// sync makes the lines written so far durable. A failure is the writer's
// err, as a failed write's is.
func (w *jsonlWriter) sync() error {
	if w.err != nil {
		return w.err
	}
	if err := jsonlSync(w.f); err != nil {
		w.err = pathErr("sync", w.f.Name(), err)
	}
	return w.err
}

// pathErr is err as "op path: …": an *os.File's own errors name the file
// already ("write PATH: no space left on device"), and wrapping them said
// it twice.
func pathErr(op, path string, err error) error {
	if pe, ok := err.(*fs.PathError); ok && pe.Path == path {
		return err
	}
	return fmt.Errorf("%s %s: %w", op, path, err)
}

// truncateJSONLAfter rewrites a JSONL file keeping the lines whose "step" is at
// most step (and every line without one), so that a resumed run's files read as
// if it had never been killed. It streams: the lines dropped are almost always
// the file's tail (a metrics.jsonl is in step order), which is cut off in
// place; only a file with a line to keep after one to drop is copied, line by
// line, to a temporary file renamed over it. A million-step metrics.jsonl
// (480 MB) took 8.7 s and 2.2 GB read whole; streamed, under a second and a
// 256 KiB buffer.
func truncateJSONLAfter(path string, step int64) error {
	drop := func(line []byte) bool {
		s, has, ok := lineStep(line)
		if !ok {
			var v struct {
				Step *int64 `json:"step"`
			}
			if json.Unmarshal(line, &v) != nil || v.Step == nil {
				return false
			}
			s, has = *v.Step, true
		}
		return has && s > step
	}
	return filterJSONL(path, drop)
}

// filterJSONL rewrites a JSONL file without the lines drop selects (and a torn
// last line): a truncation when they are all at the end.
func filterJSONL(path string, drop func(line []byte) bool) error {
	cut, rewrite, err := scanJSONL(path, drop)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil || cut < 0 {
		return err
	}
	if !rewrite {
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		if err = f.Truncate(cut); err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("truncate %s: %w", path, err)
		}
		return nil
	}
	return rewriteJSONL(path, drop)
}

// dropAbandonedSoup: a soup interrupted before it finished (Ctrl-C, a
// preemption) leaves soups/soup-N without soup.json, and evals.jsonl with the
// records of its evaluations at step N, the step of the checkpoint the run
// resumes from, which truncateJSONLAfter keeps. A resumed run that makes the
// recipe's soup again would then hold two of each finished ingredient's
// records and, appended in its directory, two step sequences of an
// ingredient's metrics. The abandoned attempt is removed, as an interrupted
// stretch of training is. The run's own evaluation at step N ("before
// soup") is of the weights the resumed run holds: it is kept, and the soup
// made again does not take it twice (one evaluation per step). It was
// dropped, and with it an interval's evaluation at that step that stood as
// the one before the soup, which a resume does not make again.
func dropAbandonedSoup(runDir string, step int64) error {
	dir := soupRoot(runDir, step)
	if _, err := os.Stat(dir); err != nil {
		return nil
	}
	if _, err := os.Stat(filepath.Join(dir, "soup.json")); err == nil {
		return nil // a finished soup
	}
	soupWhys := map[string]bool{"soup ingredient": true, "soup": true}
	err := filterJSONL(filepath.Join(runDir, EvalsFile), func(line []byte) bool {
		var v struct {
			Step int64  `json:"step"`
			Why  string `json:"why"`
		}
		return json.Unmarshal(line, &v) == nil && v.Step == step && soupWhys[v.Why]
	})
	if err != nil {
		return err
	}
	return os.RemoveAll(dir)
}

// removeSoupLeftovers removes the float32 copies of soups' starting weights
// (soups/.start-*, openSoupStart's, for BF16 checkpoints) that a killed
// process left behind: a model's worth of disk each, which nothing else
// removed. The run lock makes the caller the run's only writer.
func removeSoupLeftovers(runDir string) {
	left, _ := filepath.Glob(filepath.Join(runDir, "soups", ".start-*"))
	for _, d := range left {
		os.RemoveAll(d)
	}
}

// dropSoupsAfter removes the soups made from steps after step, the
// checkpoint a resume continues from (its later checkpoints moved away, as
// the HINT for a damaged one says): their records in evals.jsonl go with
// the lines after step (truncateJSONLAfter), and they are of steps the run
// trains again. Left, a soup made again from such a step was answered as
// made already, or wrote into the old one's directories.
func dropSoupsAfter(runDir string, step int64) error {
	dirs, _ := filepath.Glob(filepath.Join(runDir, "soups", "soup-*"))
	for _, d := range dirs {
		n, err := strconv.ParseInt(strings.TrimPrefix(filepath.Base(d), "soup-"), 10, 64)
		if err != nil || n <= step {
			continue
		}
		if err := os.RemoveAll(d); err != nil {
			return err
		}
	}
	return nil
}

// scanJSONL reads path's lines and returns where the first line to drop
// starts (-1: none; a torn last line, from a kill, is dropped) and whether a
// line after it is kept.
func scanJSONL(path string, drop func([]byte) bool) (cut int64, rewrite bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return -1, false, err
	}
	defer f.Close()
	cut = -1
	var off int64
	r := bufio.NewReaderSize(f, 256<<10)
	var buf []byte
	for {
		line, err := readLine(r, &buf)
		if err == io.EOF {
			if len(line) > 0 && cut < 0 { // torn
				cut = off
			}
			return cut, rewrite, nil
		}
		if err != nil {
			return -1, false, err
		}
		if drop(line) {
			if cut < 0 {
				cut = off
			}
		} else if cut >= 0 {
			rewrite = true
		}
		off += int64(len(line))
	}
}

// readLine returns the next line with its newline (valid until the next
// call), or what is left before the end with io.EOF.
func readLine(r *bufio.Reader, buf *[]byte) ([]byte, error) {
	line, err := r.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		*buf = append((*buf)[:0], line...)
		for err == bufio.ErrBufferFull {
			line, err = r.ReadSlice('\n')
			*buf = append(*buf, line...)
		}
		line = *buf
	}
	return line, err
}

// rewriteJSONL copies path's complete lines but those drop says to a
// temporary file and renames it over path (model.WriteFileAtomicFunc).
func rewriteJSONL(path string, drop func([]byte) bool) error {
	return editJSONL(path, func(line []byte) []byte {
		if drop(line) {
			return nil
		}
		return line
	})
}

// relabelEvals rewrites the evals file at path so that run's records at step
// whose why is from say to instead: the step's one evaluation, taken as an
// interval's (or on request), stands as the one the run makes there on its
// own ("before anneal", "before soup", "final"), which is not taken again.
// The file is replaced whole (model.WriteFileAtomicFunc): a writer holding
// it open must reopen it.
func relabelEvals(path, run string, step int64, from, to string) error {
	return editJSONL(path, func(line []byte) []byte {
		var rec EvalRecord
		if json.Unmarshal(line, &rec) != nil || rec.Run != run || rec.Step != step || rec.Why != from {
			return line
		}
		rec.Why = to
		b, err := json.Marshal(rec)
		if err != nil {
			return line
		}
		return append(b, '\n')
	})
}

// editJSONL copies path's complete lines, each as edit returns it (nil:
// dropped), to a temporary file and renames it over path
// (model.WriteFileAtomicFunc): a failed write leaves path as it was.
func editJSONL(path string, edit func([]byte) []byte) error {
	in, err := os.Open(path)
	if err != nil {
		return err
	}
	defer in.Close()
	return writeJSONLines(in, path, path, edit)
}

// writeJSONLines writes the complete lines read from in (the file src),
// each as edit returns it (nil: dropped), atomically to dst; what follows
// the last newline is no complete line and is left out.
func writeJSONLines(in io.Reader, src, dst string, edit func([]byte) []byte) error {
	return model.WriteFileAtomicFunc(dst, func(out io.Writer) error {
		w := bufio.NewWriterSize(out, 256<<10)
		r := bufio.NewReaderSize(in, 256<<10)
		var buf []byte
		for {
			line, err := readLine(r, &buf)
			if err == io.EOF {
				break
			}
			if err != nil {
				return fmt.Errorf("%s: %w", src, err)
			}
			if out := edit(line); out != nil {
				if _, err := w.Write(out); err != nil {
					return err
				}
			}
		}
		return w.Flush()
	})
}

// ReadSummary reads a run directory's summary.json, written when a process
// that trained the run ended (however it ended).
func ReadSummary(dir string) (RunSummary, bool) {
	var s RunSummary
	b, err := os.ReadFile(filepath.Join(dir, SummaryFile))
	if err != nil || json.Unmarshal(b, &s) != nil {
		return s, false
	}
	return s, true
}

// finishedAt says whether the run in dir finished, its summary.json says so,
// with no checkpoint beyond its last step (ckpt: the newest checkpoint's
// step; one beyond is a resume's since), and returns that summary: such a
// run has nothing to resume (ErrFinished).
func finishedAt(dir string, ckpt int64) (RunSummary, bool) {
	s, ok := ReadSummary(dir)
	return s, ok && s.State == "finished" && ckpt <= s.Steps
}

// Damage is where a JSONL file holds lines that are not JSON records
// before its last: the first such line (1-based; 0 for none) and how many
// more. A torn last line is what a killed writer leaves, and a reader
// passes over it in silence; a bad line with lines after it is damage (a
// disk error, an edit gone wrong), whose records are lost to the reader.
type Damage struct{ Line, More int }

// Warning says where path is damaged and that its bad lines are passed
// over; "" for none.
func (d Damage) Warning(path string) string {
	if d.Line == 0 {
		return ""
	}
	more := ""
	if d.More > 0 {
		more = fmt.Sprintf(" (and %d more after it)", d.More)
	}
	return fmt.Sprintf("%s: line %d%s is not a JSON record and is passed over: the file is damaged (a disk error, an edit), and what the line held is missing from what is read of it", path, d.Line, more)
}

// readStepLosses returns the loss of every step record in a metrics file, in
// order: a resumed run's history before the checkpoint it continues from.
func readStepLosses(path string) ([]float64, Damage, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, Damage{}, nil
	}
	if err != nil {
		return nil, Damage{}, err
	}
	defer f.Close()
	return stepLosses(f)
}

// stepLosses is readStepLosses on the file's content.
func stepLosses(r io.Reader) (out []float64, dmg Damage, err error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	line, pending := 0, 0 // pending: a bad line not yet known to be the last
	for sc.Scan() {
		line++
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		if pending > 0 { // lines follow it: damage, not a torn end
			if dmg.Line == 0 {
				dmg.Line = pending
			} else {
				dmg.More++
			}
			pending = 0
		}
		// the fields taken apart by jsonfield.Each, encoding/json where it cannot
		// (a million steps: 3.5 s with encoding/json alone)
		var step, hasLoss, bad bool
		var loss float64
		ok := jsonfield.Each(sc.Bytes(), func(k, v []byte) {
			switch string(k) {
			case "type":
				// a string; anything else is encoding/json's type error, which drops the line
				step, bad = string(v) == `"step"`, bad || bytes.IndexByte(v, '\\') >= 0 || v[0] != '"'
			case "loss":
				var err error
				loss, err = strconv.ParseFloat(string(v), 64)
				hasLoss, bad = err == nil, bad || (err != nil && string(v) != "null")
			default:
				// encoding/json matches keys case-insensitively: let it decide
				bad = bad || bytes.EqualFold(k, []byte("type")) || bytes.EqualFold(k, []byte("loss"))
			}
		})
		if !ok || bad {
			var m struct {
				Type EventKind `json:"type"`
				Loss *float64  `json:"loss"`
			}
			if json.Unmarshal(sc.Bytes(), &m) != nil {
				pending = line
				continue
			}
			if m.Loss == nil {
				continue
			}
			step, hasLoss, loss = m.Type == EvStep, true, *m.Loss
		}
		if step && hasLoss {
			out = append(out, loss)
		}
	}
	return out, dmg, sc.Err()
}

// ResolveCheckpoint turns a run directory into the weights the run ended with:
// its latest checkpoint or, for a run that ended with its recipe's soup
// (EndedWithSoup), the soup (RUN/soups/soup-N/soup), which the run's final
// evaluation scored and its latest checkpoint, the soup's starting point, is
// not. Any other path is returned as it is (an HF or olmolab checkpoint
// directory).
func ResolveCheckpoint(path string) (string, error) {
	if _, err := os.Stat(filepath.Join(path, CkptDir)); err == nil {
		if from, ok := EndedWithSoup(path); ok {
			// the run's directory, not the report's dirs: a run directory may move
			soup := SoupDir(path, from)
			if _, err := os.Stat(filepath.Join(soup, "config.json")); err != nil {
				return "", fmt.Errorf("%s ended with a soup, whose weights are missing: %w", path, err)
			}
			return soup, nil
		}
		return LatestCheckpoint(path)
	}
	st, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("%s: no such checkpoint or run directory", path)
	}
	if !st.IsDir() { // a checkpoint's file (model.safetensors, config.json), not its directory
		return "", fmt.Errorf("%s: a file, not a checkpoint or run directory; HINT: give the directory that holds the checkpoint's config.json", path)
	}
	if _, err := os.Stat(filepath.Join(path, "config.json")); st.IsDir() && errors.Is(err, fs.ErrNotExist) {
		// say what the directory is rather than that config.json is missing
		if _, err := os.Stat(filepath.Join(path, RecipeFile)); err == nil {
			return "", fmt.Errorf("%s: a run directory without a checkpoint yet: nothing to evaluate", path)
		}
		msg := fmt.Sprintf("%s: not a checkpoint (no config.json) or a run directory (no checkpoints/)", path)
		ents, _ := os.ReadDir(path)
		for _, e := range ents {
			if _, err := os.Stat(filepath.Join(path, e.Name(), CkptDir)); e.IsDir() && err == nil {
				msg += "; HINT: it holds runs: give one, e.g. " + filepath.Join(path, e.Name())
				break
			}
		}
		return "", errors.New(msg)
	}
	return path, nil
}

// OpenWeights opens the weights ResolveCheckpoint names for path (a run
// directory, a checkpoint's, an HF one's) and returns them with the
// directory they are read from. A run that trains while it is read writes
// checkpoints and prunes the old ones (checkpoint.keep): the latest named
// can be removed between its naming and its opening. Once open, its files
// stay readable to the end, removed or not (open files outlive their
// removal), so the opening is the only step at risk. When the checkpoint
// went there (its files no longer exist), the run's weights are named again,
// once, and warn says which checkpoint is read instead, and why.
func OpenWeights(path string, warn func(string)) (*model.HFSource, string, error) {
	dir, err := ResolveCheckpoint(path)
	if err != nil {
		return nil, "", err
	}
	if filepath.Dir(dir) == filepath.Join(path, CkptDir) { // a run's latest checkpoint
		if w := SkippedCheckpoints(path, dir); w != "" {
			warn(w)
		}
	}
	beforeOpenWeights(dir)
	src, err := model.OpenHF(dir)
	if err == nil {
		if err := verifyWeights(src); err != nil {
			src.Close()
			return nil, "", err
		}
		return src, dir, nil
	}
	if !gone(dir, err) {
		return nil, "", err
	}
	again, rerr := ResolveCheckpoint(path)
	if rerr != nil || again == dir {
		return nil, "", fmt.Errorf("%s: its weights %s were removed while being opened (a run that trains prunes its old checkpoints, checkpoint.keep), and no other is there: %w", path, dir, err)
	}
	warn(fmt.Sprintf("%s was removed as it was opened (the run trains and keeps its newest checkpoints, checkpoint.keep); reading %s, now the run's latest", dir, again))
	beforeOpenWeights(again)
	src, err = model.OpenHF(again)
	if err != nil {
		if gone(again, err) {
			return nil, "", fmt.Errorf("%s: its weights %s, then %s, were removed while being opened (a run that trains prunes its old checkpoints, checkpoint.keep): try again, or set checkpoint.keep higher: %w", path, dir, again, err)
		}
		return nil, "", err
	}
	if err := verifyWeights(src); err != nil {
		src.Close()
		return nil, "", err
	}
	return src, again, nil
}

// beforeOpenWeights runs between OpenWeights's naming of a checkpoint and
// its opening: a test removes it there, as a run's pruning can.
var beforeOpenWeights = func(dir string) {}

// gone says whether err, from opening the checkpoint dir, is its files
// having been removed.
func gone(dir string, err error) bool {
	if errors.Is(err, fs.ErrNotExist) {
		return true
	}
	_, serr := os.Stat(dir)
	return errors.Is(serr, fs.ErrNotExist)
}

// soupTraining is what the finished soups of the run in runDir made from
// its steps up to step trained: every ingredient's steps and tokens (an
// ingredient is an anneal of the soup's tokens per ingredient from the
// soup's checkpoint), read from their reports (soup.json), so that a run
// resumed after a soup counts it too. gb (global_batch_size) makes steps of
// a report written before it counted them.
func soupTraining(runDir string, step int64, gb int) (steps, tokens int64) {
	reports, _ := filepath.Glob(filepath.Join(runDir, "soups", "soup-*", "soup.json"))
	for _, p := range reports {
		b, err := os.ReadFile(p)
		var rep SoupReport
		if err != nil || json.Unmarshal(b, &rep) != nil || rep.FromStep > step || rep.Tokens <= 0 {
			continue
		}
		per := rep.Steps
		if per == 0 && gb > 0 {
			per = rep.Tokens / int64(gb)
		}
		k := int64(len(rep.Ingredients))
		steps += k * per
		tokens += k * rep.Tokens
		for _, c := range rep.Dropped { // diverged: trained up to there
			if c.Diverged != nil {
				steps += c.Diverged.Steps
				tokens += c.Diverged.Tokens
			}
		}
	}
	return steps, tokens
}

// SoupDir is where the run in runDir keeps the weights of the soup made from
// its step fromStep.
func SoupDir(runDir string, fromStep int64) string {
	return filepath.Join(soupRoot(runDir, fromStep), "soup")
}

// soupRoot is the directory of the soup made from step: its ingredients, the
// soup and its report (soup.json).
func soupRoot(runDir string, step int64) string {
	return filepath.Join(runDir, "soups", fmt.Sprintf("soup-%d", step))
}

// EndedWithSoup says whether the run in runDir finished with the weights of
// a soup, and the step the soup was made from (SoupDir): a soup its recipe
// planned (soup.ingredients with anneal.auto_at, at max_tokens, or a stage-2
// recipe) is the run's last act, and the run's final model is the soup, not
// its latest checkpoint. A soup made on request is a side job after which the
// run goes on with its own weights.
//
// summary.json's soup says "final" since that flag was added. Runs written
// before it say nothing, and are read from what they did: a soup made at the
// run's last step ended it unless the soup's "soup done" event in
// events.jsonl says the run went on with its own weights (a side soup at the
// last step). Before soups on request became side jobs every soup left the
// run on the soup's weights, so a soup at the last step ended it too.
func EndedWithSoup(runDir string) (fromStep int64, ok bool) {
	b, err := os.ReadFile(filepath.Join(runDir, SummaryFile))
	if err != nil {
		return 0, false
	}
	var s struct {
		State string `json:"state"`
		Steps int64  `json:"steps"`
		Soup  *struct {
			FromStep int64 `json:"from_step"`
			Final    *bool `json:"final"`
		} `json:"soup"`
	}
	if json.Unmarshal(b, &s) != nil || s.State != "finished" || s.Soup == nil {
		return 0, false
	}
	if s.Soup.Final != nil {
		return s.Soup.FromStep, *s.Soup.Final
	}
	if s.Soup.FromStep != s.Steps {
		return 0, false // the run trained on after it
	}
	return s.Soup.FromStep, !soupWentOn(filepath.Join(runDir, EventsFile), s.Soup.FromStep)
}

// RunsEndedWithSoup names the runs among paths (run directories,
// directories of runs, evals.jsonl files, as olmolab snr takes them) that
// ended with their recipe's soup (EndedWithSoup), by the name their
// evaluation records carry: olmes.SNROptions.SoupFinal.
func RunsEndedWithSoup(paths ...string) map[string]bool {
	out := map[string]bool{}
	check := func(dir string) {
		if _, ok := EndedWithSoup(dir); ok {
			name := filepath.Base(dir)
			if s, ok := ReadSummary(dir); ok && s.Run != "" {
				name = s.Run
			}
			out[name] = true
		}
	}
	for _, p := range paths {
		st, err := os.Stat(p)
		switch {
		case err != nil:
		case !st.IsDir():
			check(filepath.Dir(p))
		case isFile(filepath.Join(p, EvalsFile)):
			check(p)
		default:
			subs, _ := filepath.Glob(filepath.Join(p, "*", EvalsFile))
			for _, f := range subs {
				check(filepath.Dir(f))
			}
		}
	}
	return out
}

func isFile(path string) bool {
	st, err := os.Stat(path)
	return err == nil && !st.IsDir()
}

// soupWentOn says whether the last "soup done" event of the soup made from
// step fromStep in the events file says the run went on with its own weights,
// as a side soup's does (Event.SideSoup: its soup_kind, or in runs written
// before it "…; stage1 goes on from step N with the run's own weights").
func soupWentOn(events string, fromStep int64) bool {
	f, err := os.Open(events)
	if err != nil {
		return false
	}
	defer f.Close()
	wentOn := false
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for sc.Scan() {
		if !bytes.Contains(sc.Bytes(), []byte(`"soup"`)) {
			continue
		}
		var e Event
		if json.Unmarshal(sc.Bytes(), &e) != nil || e.Kind() != ChangeSoupDone || e.Soup == nil || e.Soup.FromStep != fromStep {
			continue
		}
		wentOn = e.SideSoup()
	}
	return wentOn
}

// soupGoesOn is the words a side soup's "soup done" message holds (runSoup
// writes them; Event.SideSoup reads them in runs written before soup_kind).
const soupGoesOn = " goes on from step "

// Lock modes: where the process that trains a run came from.
const (
	LockTUI      = "tui"      // trained inside an interactive olmolab session
	LockHeadless = "headless" // olmolab --batch, started by hand or by a session that detached the run
	LockEval     = "eval"     // olmolab eval --record, while it writes the run's evals.jsonl (RecordEvals)
	// LockRecording is the mode of a record's mark (StartRecording), not
	// of the run's lock: eval --record scores the run's checkpoints
	LockRecording = "recording"
)

// A lock's heartbeat is its file's mtime, which the process holding it
// refreshes every LockHeartbeat. Only a lock written on another host needs
// it: there the pid cannot be asked, so a lock whose heartbeat is older than
// LockStaleAfter is taken as left by a dead node (a Slurm job killed and
// requeued elsewhere). Six missed beats leave room for a file system's
// attribute cache (NFS: up to 60 s) and some clock skew between hosts.
const (
	LockHeartbeat  = 30 * time.Second
	LockStaleAfter = 3 * time.Minute
)

// lockHeartbeat and lockStaleAfter are the ones in use; tests shorten them.
var lockHeartbeat, lockStaleAfter = LockHeartbeat, LockStaleAfter

// RunLock is LockFile's content. The lab writes it when a run starts or
// resumes and removes it when the run ends, however it ends; a process killed
// outright leaves it behind, and a lock whose process is gone is stale:
// LiveLock ignores it and a resume replaces it.
type RunLock struct {
	PID     int       `json:"pid"`
	Mode    string    `json:"mode"` // LockTUI, LockHeadless, LockEval (or LockRecording in a record's mark)
	Host    string    `json:"host"`
	Started time.Time `json:"started"`
	// SlurmJob is $SLURM_JOB_ID of the process, under Slurm: a sweep's
	// requeued task takes a lock of its own job for its previous attempt's,
	// which has ended, where another's lock on another node is live while
	// its heartbeat is fresh
	SlurmJob  string    `json:"slurm_job,omitempty"`
	Heartbeat time.Time `json:"-"` // the file's mtime: when its process last refreshed it
}

// Remote says whether the lock was written on another host, where its pid
// means nothing here.
func (l RunLock) Remote() bool {
	host, _ := os.Hostname()
	return l.Host != "" && l.Host != host
}

// Holder says who holds the lock, for messages: pid, mode, host, start and
// how long ago its heartbeat was.
func (l RunLock) Holder() string {
	return fmt.Sprintf("pid %d (%s, on %s since %s, heartbeat %s ago)", l.PID, l.Mode, l.Host,
		l.Started.Format(time.DateTime), HumanDuration(max(time.Since(l.Heartbeat), 0)))
}

func marshalLock(pid int, mode string) []byte {
	host, _ := os.Hostname()
	b, _ := json.Marshal(RunLock{PID: pid, Mode: mode, Host: host, Started: time.Now(), SlurmJob: os.Getenv("SLURM_JOB_ID")})
	return append(b, '\n')
}

// WriteLock marks dir as trained by pid, replacing any lock there (a session
// that detaches a run writes its headless process's lock this way).
func WriteLock(dir string, pid int, mode string) error {
	return model.WriteFileAtomic(filepath.Join(dir, LockFile), marshalLock(pid, mode))
}

// RemoveLock deletes dir's lock if it is pid's.
func RemoveLock(dir string, pid int) {
	if l, ok := ReadLock(dir); ok && l.PID == pid {
		os.Remove(filepath.Join(dir, LockFile))
	}
}

// ReadLock returns dir's lock, live or stale.
func ReadLock(dir string) (RunLock, bool) { return readLockFile(filepath.Join(dir, LockFile)) }

// readLockFile reads a RunLock from path (a run's lock, or a record's mark).
func readLockFile(path string) (RunLock, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return RunLock{}, false
	}
	var l RunLock
	if json.Unmarshal(b, &l) != nil || l.PID <= 0 {
		return RunLock{}, false
	}
	if fi, err := os.Stat(path); err == nil {
		l.Heartbeat = fi.ModTime()
	}
	return l, true
}

// heartbeat refreshes dir's lock every lockHeartbeat while it is pid's, by
// setting its mtime: a stat, no write, so training never waits on it. stop
// ends it and returns once it has ended, so no beat follows the lock's
// removal.
func heartbeat(dir string, pid int) (stop func()) {
	return heartbeatFile(filepath.Join(dir, LockFile), pid)
}

// heartbeatFile is heartbeat for the lock (or mark) at path.
func heartbeatFile(path string, pid int) (stop func()) {
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(lockHeartbeat)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				// a lock that is gone or another's is left alone
				if l, ok := readLockFile(path); ok && l.PID == pid {
					now := time.Now()
					os.Chtimes(path, now, now)
				}
			}
		}
	}()
	return func() { close(quit); <-done }
}

// lockSlack allows for /proc's whole-second boot time when a process's start
// is compared with its lock's.
const lockSlack = 5 * time.Second

// LiveLock returns dir's lock when its process is still alive. A lock from
// another host is live while its heartbeat is younger than LockStaleAfter. A
// pid is reused once its process has gone, so on Linux the process must also
// have started before the lock was written.
func LiveLock(dir string) (RunLock, bool) {
	l, ok := ReadLock(dir)
	if !ok {
		return l, false
	}
	return l, l.live()
}

// live says whether the lock's process still runs (LiveLock).
func (l RunLock) live() bool {
	if l.Remote() {
		return time.Since(l.Heartbeat) < lockStaleAfter
	}
	if !PIDAlive(l.PID) {
		return false
	}
	if start, ok := processStart(l.PID); ok && !l.Started.IsZero() && start.After(l.Started.Add(lockSlack)) {
		return false // the pid now belongs to a younger process
	}
	return true
}

// PIDAlive says whether a process with this pid exists and has not exited.
// A process killed (SIGKILL) is a zombie until its parent reaps it, which
// kill(pid, 0) still finds: on Linux its /proc state (Z, or X while it goes)
// says it is dead, so a resume straight after the kill is not refused.
func PIDAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	if err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	s := procState(pid)
	return s != 'Z' && s != 'X'
}

// procState is pid's state letter from /proc/PID/stat (field 3: R, S, D, Z,
// …), 0 where there is no /proc or no such process.
func procState(pid int) byte {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	i := bytes.LastIndexByte(b, ')') // the command name may hold spaces and parentheses
	if i < 0 || i+2 >= len(b) {
		return 0
	}
	return b[i+2]
}

// processStart is when pid started, from /proc/PID/stat (field 22, clock ticks
// after boot, USER_HZ = 100) and /proc/stat's btime; false where there is no
// /proc.
func processStart(pid int) (time.Time, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return time.Time{}, false
	}
	i := bytes.LastIndexByte(b, ')') // the command name may hold spaces and parentheses
	if i < 0 {
		return time.Time{}, false
	}
	f := strings.Fields(string(b[i+1:])) // f[0] is field 3
	if len(f) < 20 {
		return time.Time{}, false
	}
	ticks, err := strconv.ParseInt(f[19], 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	st, err := os.ReadFile("/proc/stat")
	if err != nil {
		return time.Time{}, false
	}
	for _, line := range strings.Split(string(st), "\n") {
		if v, ok := strings.CutPrefix(line, "btime "); ok {
			boot, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return time.Time{}, false
			}
			return time.Unix(boot, 0).Add(time.Duration(ticks) * 10 * time.Millisecond), true
		}
	}
	return time.Time{}, false
}

// acquireLock marks dir as trained by this process. A live lock of another
// process refuses; a stale one, or one already naming this process (written
// by the session that started it), is replaced, by one process at a time
// (takeOver). Creating the lock by a hard link makes the common case, no
// lock at all, exclusive.
func acquireLock(dir, mode string) error { return acquireLockAs(dir, mode, os.Getpid()) }

// lockRaceHook, set by a test, runs where another process may act between
// finding a lock stale and replacing it.
var lockRaceHook func()

// acquireLockAs is acquireLock for the process pid.
func acquireLockAs(dir, mode string, pid int) error {
	path := filepath.Join(dir, LockFile)
	tmp := filepath.Join(dir, fmt.Sprintf(".%s.%d.tmp", LockFile, pid))
	defer os.Remove(tmp) // also a write that failed part way (a full disk)
	if err := os.WriteFile(tmp, marshalLock(pid, mode), 0o644); err != nil {
		return err
	}
	err := os.Link(tmp, path)
	if err == nil {
		return nil
	}
	if !errors.Is(err, fs.ErrExist) {
		return os.Rename(tmp, path) // a file system without hard links
	}
	if err := refuseLive(dir, pid); err != nil {
		return err
	}
	if lockRaceHook != nil {
		lockRaceHook()
	}
	return takeOver(dir, tmp, pid)
}

// refuseLive refuses dir when a live process other than pid holds its lock.
func refuseLive(dir string, pid int) error {
	l, ok := LiveLock(dir)
	if !ok || l.PID == pid {
		return nil
	}
	if l.Remote() {
		return fmt.Errorf("%s: the run is being trained on another host by %s; HINT: stop it on %s first (Ctrl-C checkpoints); if that node is dead, its lock is replaced once the heartbeat is %s old",
			dir, l.Holder(), l.Host, lockStaleAfter)
	}
	if l.Mode == LockEval {
		return fmt.Errorf("%s: olmolab eval --record is writing the run's scores into its %s (%s); HINT: try again in a moment", dir, EvalsFile, l.Holder())
	}
	return fmt.Errorf("%s: the run is being trained by %s; HINT: stop that process first (Ctrl-C checkpoints), or open olmolab and take the run over with t",
		dir, l.Holder())
}

// takeOver replaces dir's lock, found stale (or pid's own), by tmp. Two
// processes that found it stale at once (a requeued Slurm task and a
// person's resume) both replaced it, by a rename each, and both trained the
// run, into the same files. A takeover is now exclusive: the process that
// creates the guard file (a hard link) checks the lock again and replaces
// it; one that finds the guard refuses, as the lock's new holder is about
// to be live. A guard older than lockStaleAfter is a dead process's, and
// is removed.
func takeOver(dir, tmp string, pid int) error {
	path := filepath.Join(dir, LockFile)
	guard := filepath.Join(dir, "."+LockFile+".takeover")
	err := os.Link(tmp, guard)
	if errors.Is(err, fs.ErrExist) {
		if st, serr := os.Stat(guard); serr == nil && time.Since(st.ModTime()) > lockStaleAfter {
			os.Remove(guard)
			err = os.Link(tmp, guard)
		}
	}
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s: another process is taking the run over from a stale lock (%s); HINT: it trains the run: stop it first (Ctrl-C checkpoints)", dir, guard)
	}
	if err != nil {
		return os.Rename(tmp, path) // a file system without hard links
	}
	defer os.Remove(guard)
	if err := refuseLive(dir, pid); err != nil { // taken over while we looked
		return err
	}
	return os.Rename(tmp, path)
}

// newRunDir creates a new, empty run directory root/base, or root/base-2,
// base-3, … when that name is taken, and returns the name it created.
func newRunDir(root, base string) (string, error) {
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", err
	}
	for i := 1; ; i++ {
		name := base
		if i > 1 {
			name = fmt.Sprintf("%s-%d", base, i)
		}
		err := os.Mkdir(filepath.Join(root, name), 0o755)
		if err == nil {
			return name, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return "", err
		}
	}
}

// checkNoRun refuses to start a new run in dir when dir already holds one
// (its JSONL files, summary or checkpoints): the new run would append a second
// history to the first and replace its checkpoints.
func checkNoRun(dir string) error {
	if steps, err := listCheckpoints(dir); err == nil && len(steps) > 0 {
		last := steps[len(steps)-1]
		if s, ok := finishedAt(dir, last); ok {
			// --resume would only say so: nothing to continue
			return fmt.Errorf("%s holds a run that finished at step %d (%s); HINT: choose another name, or evaluate it: olmolab eval --model %s", dir, s.Steps, SummaryFile, dir)
		}
		return fmt.Errorf("%s already holds a run (checkpoint step-%d); HINT: continue it with olmolab --batch --resume %s, or choose another name", dir, last, dir)
	}
	for _, f := range []string{MetricsFile, EventsFile, EvalsFile, SummaryFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			return fmt.Errorf("%s already holds a run (%s, no checkpoint); HINT: choose another name, or remove that directory to start it over", dir, f)
		}
	}
	// a directory of something else (a --name or --runs that names the
	// user's data or code): a run would write its recipe.yaml, logs and
	// checkpoints among, and over, what is there
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var foreign []string
	for _, e := range entries {
		switch name := e.Name(); {
		case name == RecipeFile, name == LockFile, name == CkptDir, name == "soups", // a run's own, before its first step
			// what a start that died left: WriteFileAtomic's temporary
			// files, acquireLock's (sweep.ClearPartial removes the rest)
			strings.HasPrefix(name, RecipeFile+".tmp-"), strings.HasPrefix(name, LockFile+".tmp-"),
			strings.HasPrefix(name, SummaryFile+".tmp-"), strings.HasPrefix(name, "."+LockFile+"."):
		default:
			foreign = append(foreign, name)
		}
	}
	if len(foreign) > 0 {
		list := strings.Join(foreign[:min(3, len(foreign))], ", ")
		if len(foreign) > 3 {
			list += ", …"
		}
		return fmt.Errorf("%s is not empty and holds no olmolab run (%s); HINT: a run writes recipe.yaml, metrics.jsonl and checkpoints/ into its directory: choose another --name (or --runs), or an empty directory", dir, list)
	}
	return nil
}

// CheckNewRunDir says what is wrong with dir as the directory of a run about
// to start there as new (olmolab --batch --name): nil when it does not exist
// yet or holds nothing but a run's own files from before its first step; an
// error naming dir when it is a file, holds a run, or holds someone's files.
// A sweep checks each planned run's directory with it before any run trains.
func CheckNewRunDir(dir string) error {
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return err
	case !fi.IsDir():
		return fmt.Errorf("%s is a file, not a run directory; HINT: choose another --name (or --runs), or move that file away", dir)
	}
	return checkNoRun(dir)
}

// checkRunDir says what is wrong when dir, given to --resume, is not a run
// directory.
func checkRunDir(dir string) error {
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("%s: no such run directory", dir)
	case err != nil:
		return err
	case !fi.IsDir():
		return fmt.Errorf("%s: not a run directory (a file); HINT: --resume takes a run's directory, such as runs/NAME", dir)
	}
	if _, err := os.Stat(filepath.Join(dir, RecipeFile)); errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%s: not a run directory (no %s); HINT: --resume takes a run's directory, such as runs/NAME, the one holding %s and %s/", dir, RecipeFile, RecipeFile, CkptDir)
	}
	return nil
}
