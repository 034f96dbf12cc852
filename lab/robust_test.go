package lab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/olmolab/olmolab/lab/olmes"
	"github.com/olmolab/olmolab/model"
)

// removingDir removes the run directory when the line it writes holds at,
// as someone's rm -rf (or a cleanup script) does while the run trains; the
// write itself goes to the open, now unlinked, file and succeeds.
type removingDir struct {
	f   io.Writer
	dir string
	at  []byte
}

func (d *removingDir) Write(b []byte) (int, error) {
	if bytes.Contains(b, d.at) {
		os.RemoveAll(d.dir)
	}
	return d.f.Write(b)
}

// A run whose directory was removed while it trained wrote on into its
// unlinked files, made the directory again for its next checkpoint
// (MkdirAll) and finished, exit 0, leaving a directory of checkpoints with
// no recipe.yaml, metrics or events: no run, and nothing said. It stops,
// failed, at the step after the removal, with an error naming the
// directory, and makes nothing again.
func TestRunDirRemovedStopsTheRun(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "gone")
	rec := parseTiny(t, "max_tokens=5120", "anneal.auto_at=0", "checkpoint.interval=4")
	jsonlTestWriter = func(path string, f *os.File) io.Writer {
		if filepath.Base(path) == MetricsFile {
			return &removingDir{f: f, dir: dir, at: []byte(`"step":5,`)}
		}
		return f
	}
	defer func() { jsonlTestWriter = nil }()
	s, err := runToEnd(t, RunParams{Recipe: rec, RunsDir: root, Name: "gone"})
	jsonlTestWriter = nil
	if s.State != "failed" || err == nil || s.Steps != 5 {
		t.Fatalf("the run directory was removed at step 5: %s at step %d, err %v; want failed at step 5", s.State, s.Steps, err)
	}
	for _, w := range []string{dir, "was removed", "HINT:"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not say %q", err, w)
		}
	}
	if _, serr := os.Stat(dir); !errors.Is(serr, os.ErrNotExist) {
		t.Errorf("%s was made again after its removal (stat: %v)", dir, serr)
	}
}

// flipByte flips one bit of the byte at off from the end of path.
func flipByte(t *testing.T, path string, fromEnd int64) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[int64(len(b))-fromEnd] ^= 0x10
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// A checkpoint whose weights or Adam moments changed on the disk (one
// flipped bit) parsed, loaded and trained on: the resumed run's losses
// drifted from an uninterrupted run's, and nothing said why. state.json
// records each tensor's CRC-32C, and a resume that finds another is
// refused (exit 2) naming the file, the tensor and the checkpoint to
// resume from instead; from there the run continues exactly.
func TestResumeRefusesAFlippedBit(t *testing.T) {
	root := t.TempDir()
	rec := parseTiny(t, "max_tokens=5120", "anneal.auto_at=0", "checkpoint.interval=4", "checkpoint.keep=2")
	if _, err := runToEnd(t, RunParams{Recipe: rec, RunsDir: root, Name: "plain"}); err != nil {
		t.Fatal(err)
	}
	want := losses(t, filepath.Join(root, "plain"))
	for _, tc := range []struct{ file, tensor string }{
		{"model.safetensors", `tensor "lm_head.weight"`}, // the last tensor: the file's last bytes
		{OptimFile, `tensor "adam_v"`},
	} {
		dir := filepath.Join(root, strings.TrimSuffix(tc.file, ".safetensors"))
		stopAt(t, RunParams{Recipe: rec, RunsDir: root, Name: filepath.Base(dir)}, filepath.Base(dir), 10)
		latest := filepath.Join(dir, CkptDir, "step-10")
		flipByte(t, filepath.Join(latest, tc.file), 7)
		_, err := StartRun(context.Background(), RunParams{ResumeDir: dir})
		var ie *InputError
		if !errors.As(err, &ie) {
			t.Fatalf("resume from a checkpoint with a flipped bit in %s: %v, want an InputError", tc.file, err)
		}
		for _, w := range []string{filepath.Join(latest, tc.file), tc.tensor, "CRC-32C", "HINT: move " + latest + " out of the run directory to resume from step-8"} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q does not say %q", err, w)
			}
		}
		if err := os.Rename(latest, filepath.Join(root, "damaged-"+filepath.Base(dir))); err != nil {
			t.Fatal(err)
		}
		if s, err := runToEnd(t, RunParams{ResumeDir: dir}); err != nil || s.State != "finished" {
			t.Fatalf("resumed from step-8: %s, %v", s.State, err)
		}
		if got := losses(t, dir); !slices.Equal(got, want) {
			t.Errorf("%s: losses after the resume from step-8 %v, want %v", tc.file, got, want)
		}
	}
}

// osFullDisk fails every write as an *os.File on a full disk does: with an
// *fs.PathError naming the file.
type osFullDisk struct{ path string }

func (d osFullDisk) Write(b []byte) (int, error) {
	return 0, &fs.PathError{Op: "write", Path: d.path, Err: syscall.ENOSPC}
}

// A full disk's error named the file twice: "write PATH: write PATH: no
// space left on device", the jsonlWriter's wrapping of the file's own
// error; and a file written atomically said "write PATH: write
// PATH.tmp-PID: …".
func TestWriteErrorsNameTheFileOnce(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, MetricsFile)
	jsonlTestWriter = func(path string, f *os.File) io.Writer { return osFullDisk{path} }
	w, err := openJSONL(path)
	jsonlTestWriter = nil
	if err != nil {
		t.Fatal(err)
	}
	defer w.close()
	err = w.write(map[string]int{"step": 1})
	if want := "write " + path + ": no space left on device"; err == nil || err.Error() != want || !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("jsonl: %v, want %q (ENOSPC)", err, want)
	}
	sum := filepath.Join(dir, SummaryFile)
	err = model.WriteFileAtomicFunc(sum, func(w io.Writer) error {
		return &fs.PathError{Op: "write", Path: fmt.Sprintf("%s.tmp-%d", sum, os.Getpid()), Err: syscall.ENOSPC}
	})
	if want := "write " + sum + ": no space left on device"; err == nil || err.Error() != want || !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("atomic: %v, want %q (ENOSPC)", err, want)
	}
}

// A file system that turned read-only under the run (a disk error remounts
// ext4 so) stopped it with the bare "read-only file system" and no word of
// what to do; a resume on one said "open DIR/.olmolab.pid.N.tmp: read-only
// file system". Both now say what the run needs and what to do.
func TestReadOnlyFileSystemHints(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, CkptDir, checkpointName(8)), 0o755)
	os.WriteFile(filepath.Join(dir, CkptDir, checkpointName(8), StateFile), []byte("{}"), 0o644)
	ro := &fs.PathError{Op: "write", Path: filepath.Join(dir, MetricsFile), Err: syscall.EROFS}
	err := explainWriteError(ro, dir)
	for _, w := range []string{"HINT: make the file system of " + dir + " writable again", "--resume " + dir + " continues the run from its latest checkpoint, step-8"} {
		if !errors.Is(err, syscall.EROFS) || !strings.Contains(err.Error(), w) {
			t.Errorf("a write on a read-only file system: %v; want it to say %q", err, w)
		}
	}
	lock := &fs.PathError{Op: "open", Path: filepath.Join(dir, ".olmolab.pid.7.tmp"), Err: syscall.EROFS}
	if err := explainLockError(dir, lock); !errors.Is(err, syscall.EROFS) || !strings.Contains(err.Error(), dir+": the run directory is on a read-only file system") || !strings.Contains(err.Error(), "HINT: remount it read-write") {
		t.Errorf("a lock on a read-only file system: %v", err)
	}
}

// onFullDisk makes path's atomic write (model.WriteFileAtomic's
// PATH.tmp-PID) land on /dev/full, whose writes fail with ENOSPC as a full
// disk's do: a real full disk, without root or a mount.
func onFullDisk(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full")
	}
	if err := os.Symlink("/dev/full", fmt.Sprintf("%s.tmp-%d", path, os.Getpid())); err != nil {
		t.Fatal(err)
	}
}

// eval --record on a full disk failed, exit 1, with only "write PATH: no
// space left on device" (for evals.jsonl, under "PATH: " again): nothing
// said what to do or that nothing was recorded. Its mark and its write now
// give the HINT, and evals.jsonl is as it was.
func TestRecordOnAFullDisk(t *testing.T) {
	dir := t.TempDir()
	onFullDisk(t, recordingMark(dir))
	_, err := StartRecording(dir)
	if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), "HINT: free space on the disk of "+dir+", then run the command again (nothing was scored yet)") {
		t.Errorf("the record's mark on a full disk: %v", err)
	}
	path := filepath.Join(dir, EvalsFile)
	own := `{"run":"r","step":2,"tokens":64,"phase":"stage1","why":"interval","task":"arith","formulation":"rc","metric":"acc_raw","value":0.5,"time":"2026-11-01T00:00:00Z"}` + "\n"
	if err := os.WriteFile(path, []byte(own), 0o644); err != nil {
		t.Fatal(err)
	}
	onFullDisk(t, path)
	_, err = RecordEvals(dir, []olmes.EvalRecord{recorded("r", "arc_easy", 1, 0.2)})
	want := "write " + path + ": no space left on device\nHINT: free space on the disk of " + dir + ", then run the command again: nothing was recorded, and evals.jsonl is as it was"
	if !errors.Is(err, syscall.ENOSPC) || err.Error() != want {
		t.Errorf("the record's write on a full disk:\n%v\nwant\n%s", err, want)
	}
	if b, _ := os.ReadFile(path); string(b) != own {
		t.Errorf("evals.jsonl after the failed record: %q, want it as it was", b)
	}
}

// A checkpoint is synced to the disk, the JSONL lines before it were not:
// after a power loss the checkpoint survived and the last steps' lines
// did not, and the resume went on from it with a gap in metrics.jsonl.
// Each checkpoint of step k now follows a sync of metrics.jsonl holding
// its k lines (and of events.jsonl).
func TestCheckpointSyncsTheLinesBeforeIt(t *testing.T) {
	root := t.TempDir()
	rec := parseTiny(t, "max_tokens=5120", "anneal.auto_at=0", "checkpoint.interval=4")
	synced := map[string][]int{} // file: lines it held at each sync
	jsonlSync = func(f *os.File) error {
		b, err := os.ReadFile(f.Name())
		if err != nil {
			return err
		}
		name := filepath.Base(f.Name())
		synced[name] = append(synced[name], bytes.Count(b, []byte("\n")))
		return f.Sync()
	}
	defer func() { jsonlSync = (*os.File).Sync }()
	if _, err := runToEnd(t, RunParams{Recipe: rec, RunsDir: root, Name: "sync"}); err != nil {
		t.Fatal(err)
	}
	for _, k := range []int{4, 8, 12, 16, 20} {
		if !slices.Contains(synced[MetricsFile], k) {
			t.Errorf("step-%d's checkpoint: metrics.jsonl was not synced holding its %d lines (synced at %v lines)", k, k, synced[MetricsFile])
		}
	}
	if len(synced[EventsFile]) < 5 {
		t.Errorf("events.jsonl synced %d times, want one per checkpoint (5)", len(synced[EventsFile]))
	}
}

// A run started or resumed on a full disk failed at its lock with exit 2
// (bad input) and "write DIR/.olmolab.pid.N.tmp: no space left on device",
// leaving that empty file. It is exit 1 with the HINT, and leaves nothing.
func TestLockOnAFullDisk(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, RecipeFile), parseTiny(t).YAML(), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full")
	}
	tmp := filepath.Join(dir, fmt.Sprintf(".%s.%d.tmp", LockFile, os.Getpid()))
	if err := os.Symlink("/dev/full", tmp); err != nil {
		t.Fatal(err)
	}
	_, err := StartRun(context.Background(), RunParams{ResumeDir: dir})
	var ie *InputError
	if err == nil || errors.As(err, &ie) || !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), "HINT: free space on the disk of "+dir+", then run the command again") {
		t.Errorf("a resume whose lock meets a full disk: %v (input error: %v), want ENOSPC, not bad input, with a HINT", err, errors.As(err, &ie))
	}
	if _, err := os.Lstat(tmp); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the lock's temporary file was left (%v)", err)
	}
}

// A state.json cut short said only "state.json: unexpected end of JSON
// input"; it says the file is damaged, and the resume's HINT names the
// checkpoint before it.
func TestResumeStateNotJSON(t *testing.T) {
	root := t.TempDir()
	rec := parseTiny(t, "max_tokens=5120", "anneal.auto_at=0", "checkpoint.interval=4", "checkpoint.keep=2")
	dir := filepath.Join(root, "cut")
	stopAt(t, RunParams{Recipe: rec, RunsDir: root, Name: "cut"}, "cut", 10)
	state := filepath.Join(dir, CkptDir, "step-10", StateFile)
	if err := os.WriteFile(state, []byte(`{"run": "cut", "step": 10, "tok`), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := StartRun(context.Background(), RunParams{ResumeDir: dir})
	var ie *InputError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), state+": not valid JSON (unexpected end of JSON input): the file was cut short or damaged") || !strings.Contains(err.Error(), "resume from step-8") {
		t.Errorf("resume with a state.json cut short: %v", err)
	}
}

// An evaluation of a checkpoint whose weights changed on the disk (eval
// --model, eval --record's checkpoints) scored them without a word; its
// weights are checked against state.json's sums as they are opened.
func TestEvalRefusesAFlippedBit(t *testing.T) {
	root := t.TempDir()
	rec := parseTiny(t, "max_tokens=2560", "anneal.auto_at=0", "checkpoint.interval=4", "checkpoint.keep=3")
	if _, err := runToEnd(t, RunParams{Recipe: rec, RunsDir: root, Name: "ev"}); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "ev")
	ks, err := KeptCheckpoints(dir)
	if err != nil {
		t.Fatal(err)
	}
	srcs, _, err := OpenKept(ks, func(string) {})
	if err != nil {
		t.Fatalf("intact checkpoints: %v", err)
	}
	for _, s := range srcs {
		s.Close()
	}
	latest := filepath.Join(dir, CkptDir, "step-10")
	flipByte(t, filepath.Join(latest, "model.safetensors"), 7)
	want := filepath.Join(latest, "model.safetensors") + `: tensor "lm_head.weight": its data's CRC-32C is`
	if _, _, err := OpenWeights(dir, func(string) {}); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("eval --model of a run whose latest checkpoint has a flipped bit: %v, want %q", err, want)
	}
	if _, _, err := OpenKept(ks, func(string) {}); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("eval --record of a run with a checkpoint with a flipped bit: %v, want %q", err, want)
	}
}

// A checkpoints/step-N without state.json (a crash between the weights and
// the state, a partial copy) was passed over without a word: the resume
// took the checkpoint before it and the steps between were lost unsaid.
// The resume, a load_path naming the run and an eval of the run say which
// directory was passed over and which checkpoint is taken instead.
func TestSkippedCheckpointIsSaid(t *testing.T) {
	root := t.TempDir()
	rec := parseTiny(t, "max_tokens=5120", "anneal.auto_at=0", "checkpoint.interval=4", "checkpoint.keep=2")
	dir := filepath.Join(root, "torn")
	stopAt(t, RunParams{Recipe: rec, RunsDir: root, Name: "torn"}, "torn", 10)
	torn := filepath.Join(dir, CkptDir, "step-10")
	if err := os.Remove(filepath.Join(torn, StateFile)); err != nil {
		t.Fatal(err)
	}
	taken := filepath.Join(dir, CkptDir, "step-8")
	want := []string{torn + ": no state.json", "taking " + taken + " instead", "after 8"}
	says := func(what, msg string) {
		t.Helper()
		for _, w := range want {
			if !strings.Contains(msg, w) {
				t.Errorf("%s: %q does not say %q", what, msg, w)
			}
		}
	}
	var warned []string
	src, got, err := OpenWeights(dir, func(w string) { warned = append(warned, w) })
	if err != nil {
		t.Fatal(err)
	}
	src.Close()
	if got != taken || len(warned) != 1 {
		t.Fatalf("eval of the run: read %s with warnings %q, want %s and one warning", got, warned, taken)
	}
	says("eval", warned[0])

	r, err := StartRun(context.Background(), RunParams{ResumeDir: dir, PeakFLOPS: 1e11})
	if err != nil {
		t.Fatal(err)
	}
	var msg string
	for _, e := range follow(t, r, nil) {
		if e.Type == EvWarning && strings.Contains(e.Message, torn) {
			msg = e.Message
		}
	}
	if msg == "" {
		t.Fatalf("the resume passed over %s without a warning", torn)
	}
	says("resume", msg)
}

// A soup and its ingredients carried no checksums: a flipped bit in their
// weights was evaluated (eval --model RUN, which reads the soup a run ended
// with) and started from (load_path) without a word. They record each
// tensor's CRC-32C in crc32c.json, checked as a checkpoint's state.json is.
func TestSoupRefusesAFlippedBit(t *testing.T) {
	root := t.TempDir()
	rec := parseTiny(t, "anneal.auto_at=2560", "anneal.tokens=512", "max_tokens=3072", "soup.ingredients=2", "checkpoint.interval=0")
	s, err := runToEnd(t, RunParams{Recipe: rec, RunsDir: root, Name: "soupy"})
	if err != nil || s.Soup == nil || len(s.Soup.Ingredients) != 2 {
		t.Fatalf("%+v, %v", s.Soup, err)
	}
	dir := filepath.Join(root, "soupy")
	soup, err := ResolveCheckpoint(dir)
	if err != nil || filepath.Base(soup) != "soup" {
		t.Fatalf("the run's weights: %s, %v; want its soup", soup, err)
	}
	ing := s.Soup.Ingredients[1].Dir
	for _, d := range []string{soup, ing} {
		if _, err := os.Stat(filepath.Join(d, SumsFile)); err != nil {
			t.Errorf("%s: %v", d, err)
		}
		lc, err := loadVerified(d)
		if err != nil {
			t.Fatalf("intact %s: %v", d, err)
		}
		lc.Close()
	}
	flipByte(t, filepath.Join(soup, "model.safetensors"), 7)
	flipByte(t, filepath.Join(ing, "model.safetensors"), 7)
	for _, d := range []string{soup, ing} {
		want := filepath.Join(d, "model.safetensors") + `: tensor "lm_head.weight": its data's CRC-32C is`
		if _, err := loadVerified(d); err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), filepath.Join(d, SumsFile)) {
			t.Errorf("load_path %s with a flipped bit: %v, want %q", d, err, want)
		}
	}
	want := filepath.Join(soup, "model.safetensors") + `: tensor "lm_head.weight"`
	if _, _, err := OpenWeights(dir, func(string) {}); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("eval --model of a run whose soup has a flipped bit: %v, want %q", err, want)
	}
}
