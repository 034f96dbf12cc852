package lab

import (
	"bufio"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/olmolab/olmolab/lab/data"
)

// stepLossMap reads a run's metrics.jsonl as step → loss, for runs whose
// steps have a gap (a fork that skipped).
func stepLossMap(t *testing.T, dir string) map[int64]float64 {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, MetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[int64]float64{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var e Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		if _, dup := out[e.Step]; dup {
			t.Fatalf("%s: step %d twice", dir, e.Step)
		}
		out[e.Step] = e.Loss
	}
	return out
}

// treeSums is every file under dir with a hash of its content and its
// inode, to show that nothing in it changed.
func treeSums(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		fi, _ := d.Info()
		out[p] = fmt.Sprintf("%x %d", sha256.Sum256(b), fi.Sys().(*syscall.Stat_t).Ino)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestForkWithoutSkipResumesExactly: a fork from step-10 trains steps
// 11..20 with exactly the losses its parent had there, its metrics hold the
// parent's steps 1..10 (one step axis), its checkpoint shares the parent's
// files, its summary names the parent, and the parent's files are as they
// were, byte for byte.
func TestForkWithoutSkipResumesExactly(t *testing.T) {
	root := t.TempDir()
	base := filepath.Join(root, "base")
	if _, err := runToEnd(t, RunParams{Recipe: parseTiny(t), RunsDir: root, Name: "base"}); err != nil {
		t.Fatal(err)
	}
	want := losses(t, base)
	before := treeSums(t, base)

	dir := filepath.Join(root, "fork")
	fi, err := Fork(ForkParams{Parent: base, Step: 10, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if !fi.Linked || fi.Step != 10 || fi.SkipSteps != 0 || fi.ParentRun != "base" {
		t.Errorf("fork.json %+v", fi)
	}
	// the weights are the parent's file, not a copy
	var a, b syscall.Stat_t
	syscall.Stat(filepath.Join(base, CkptDir, "step-10", "model.safetensors"), &a)
	syscall.Stat(filepath.Join(dir, CkptDir, "step-10", "model.safetensors"), &b)
	if a.Ino != b.Ino {
		t.Errorf("the fork's model.safetensors is inode %d, the parent's %d: copied, not linked", b.Ino, a.Ino)
	}
	if st := readState(t, filepath.Join(dir, CkptDir, "step-10")); st.Run != "fork" {
		t.Errorf("the fork's state.json names run %q", st.Run)
	}
	s, err := runToEnd(t, RunParams{ResumeDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	got := losses(t, dir) // steps 1..20 in order, or it fails
	if len(got) != len(want) {
		t.Fatalf("fork has %d steps, parent %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("step %d: fork's loss %v, parent's %v", i+1, got[i], want[i])
		}
	}
	if s.Fork == nil || s.Fork.ParentRun != "base" || s.Fork.Step != 10 || s.Steps != 20 {
		t.Errorf("fork's summary: steps %d, fork %+v", s.Steps, s.Fork)
	}
	if rs, ok := ReadSummary(dir); !ok || rs.Fork == nil || rs.Fork.Parent != base {
		t.Errorf("summary.json's fork: %+v", rs.Fork)
	}
	if after := treeSums(t, base); !reflect.DeepEqual(before, after) {
		t.Errorf("the parent's files changed:\nbefore %v\nafter  %v", before, after)
	}
}

// TestForkSkipKeepsTheDataOrder: a fork from step-5 that skips 5 steps
// starts at step 10 in exactly the parent's state there, as far as data
// and schedule go (the loader's position, tokens, LR), draws the parent's
// batches 11, 12, … in order, and its metrics go from step 5 to step 11.
func TestForkSkipKeepsTheDataOrder(t *testing.T) {
	root := t.TempDir()
	base := filepath.Join(root, "base")
	rec := parseTiny(t)
	if _, err := runToEnd(t, RunParams{Recipe: rec, RunsDir: root, Name: "base"}); err != nil {
		t.Fatal(err)
	}
	for _, skip := range []ForkParams{{SkipSteps: 5}, {SkipTokens: 4*256 + 1}} { // tokens round up to whole steps
		name := fmt.Sprintf("fork-%d-%d", skip.SkipSteps, skip.SkipTokens)
		dir := filepath.Join(root, name)
		fi, err := Fork(ForkParams{Parent: base, Step: 5, Dir: dir, SkipSteps: skip.SkipSteps, SkipTokens: skip.SkipTokens})
		if err != nil {
			t.Fatal(err)
		}
		if fi.SkipSteps != 5 || fi.SkipTokens != 5*256 {
			t.Errorf("%s: fork.json skips %d steps, %d tokens", name, fi.SkipSteps, fi.SkipTokens)
		}
		if _, err := os.Stat(filepath.Join(dir, CkptDir, "step-5")); err == nil {
			t.Errorf("%s: has step-5: its first checkpoint is step-10", name)
		}
		got := readState(t, filepath.Join(dir, CkptDir, "step-10"))
		par := readState(t, filepath.Join(base, CkptDir, "step-10"))
		if got.Step != par.Step || got.Tokens != par.Tokens || got.LR != par.LR || !reflect.DeepEqual(got.Loader, par.Loader) {
			t.Fatalf("%s: state at step 10 differs from the parent's:\nfork   step %d tokens %d lr %v loader %+v\nparent step %d tokens %d lr %v loader %+v",
				name, got.Step, got.Tokens, got.LR, got.Loader, par.Step, par.Tokens, par.LR, par.Loader)
		}
		// the weights and Adam state are step 5's: nothing was trained
		if p5 := readState(t, filepath.Join(base, CkptDir, "step-5")); got.OptStep != p5.OptStep {
			t.Errorf("%s: opt_step %d, want step 5's %d", name, got.OptStep, p5.OptStep)
		}
		// the batches after: the parent's 11, 12, 13
		draw := func(st CheckpointState) [][]int32 {
			tok, _ := data.NewTokenizer(rec.Tokenizer)
			l, err := data.NewLoader(data.LoaderParams{Sources: st.Mix, Tokenizer: tok, SeqLen: rec.SequenceLength, Seed: rec.Seed, World: rec.World.KB()})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			if err := l.Restore(st.Loader); err != nil {
				t.Fatal(err)
			}
			var out [][]int32
			for range 3 {
				ids := make([]int32, rec.GlobalBatchSize)
				if err := l.Next(ids); err != nil {
					t.Fatal(err)
				}
				out = append(out, ids)
			}
			return out
		}
		if !reflect.DeepEqual(draw(got), draw(par)) {
			t.Errorf("%s: the batches after the skip are not the parent's", name)
		}
		if _, err := runToEnd(t, RunParams{ResumeDir: dir}); err != nil {
			t.Fatal(err)
		}
		m := stepLossMap(t, dir)
		var steps []int64
		for s := range m {
			steps = append(steps, s)
		}
		slices.Sort(steps)
		wantSteps := []int64{1, 2, 3, 4, 5, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}
		if !slices.Equal(steps, wantSteps) {
			t.Errorf("%s: metrics at steps %v, want %v", name, steps, wantSteps)
		}
	}
}

// TestForkRefusesBadInput: a checkpoint the run does not have, a skip to
// or past the run's end, a directory that exists, both kinds of skip: each
// a *ForkError naming its field and value, and nothing written.
func TestForkRefusesBadInput(t *testing.T) {
	root := t.TempDir()
	base := filepath.Join(root, "base")
	if _, err := runToEnd(t, RunParams{Recipe: parseTiny(t), RunsDir: root, Name: "base"}); err != nil {
		t.Fatal(err)
	}
	os.Mkdir(filepath.Join(root, "taken"), 0o755)
	before := treeSums(t, root)
	for _, c := range []struct {
		p     ForkParams
		field string
		want  string
	}{
		{ForkParams{Step: 7}, "step", "no checkpoint step-7 (it has: step-5, step-10, step-15, step-20)"},
		{ForkParams{Step: 10, SkipSteps: 10}, "skip", "reaches step 20"},
		{ForkParams{Step: 20}, "step", "step-20 is where the run ends"},
		{ForkParams{Step: 10, SkipTokens: 100_000}, "skip", "nothing would be left to train"},
		{ForkParams{Step: 10, SkipSteps: 1, SkipTokens: 256}, "skip", "not both"},
		{ForkParams{Step: 10, SkipSteps: -1}, "skip", "negative"},
		{ForkParams{Step: 10, Dir: filepath.Join(root, "taken")}, "dir", "exists already"},
		{ForkParams{Step: 10, Dir: filepath.Join(root, "base")}, "dir", "exists already"},
	} {
		c.p.Parent = base
		if c.p.Dir == "" {
			c.p.Dir = filepath.Join(root, "new")
		}
		_, err := Fork(c.p)
		var fe *ForkError
		if !errors.As(err, &fe) || fe.Field != c.field || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v (%T), want a ForkError on %s saying %q", c.p, err, err, c.field, c.want)
		}
	}
	if after := treeSums(t, root); !reflect.DeepEqual(before, after) {
		t.Errorf("refused forks wrote or changed files:\nbefore %v\nafter  %v", before, after)
	}
	if ents, _ := os.ReadDir(root); len(ents) != 2 {
		t.Errorf("root holds %d entries, want base and taken", len(ents))
	}
}

// TestForkCopiesTheParentsOwnEvaluations: the fork's evals.jsonl holds the
// parent's own records up to the checkpoint, renamed to the fork with every
// field kept; a soup ingredient's and those after the step are left out.
func TestForkCopiesTheParentsOwnEvaluations(t *testing.T) {
	root := t.TempDir()
	base := filepath.Join(root, "base")
	if _, err := runToEnd(t, RunParams{Recipe: parseTiny(t), RunsDir: root, Name: "base"}); err != nil {
		t.Fatal(err)
	}
	lines := `{"run":"base","step":5,"task":"x","metric":"acc","value":0.5,"instances":12,"future_field":[1,2]}
{"run":"ingredient-1-seed-3","step":5,"task":"x","metric":"acc","value":0.6}
{"run":"base","step":15,"task":"x","metric":"acc","value":0.7}
`
	if err := os.WriteFile(filepath.Join(base, EvalsFile), []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "fork")
	if _, err := Fork(ForkParams{Parent: base, Step: 10, Dir: dir}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, EvalsFile))
	if err != nil {
		t.Fatal(err)
	}
	var got []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		got = append(got, m)
	}
	if len(got) != 1 || got[0]["run"] != "fork" || got[0]["step"] != 5.0 || got[0]["instances"] != 12.0 || got[0]["future_field"] == nil {
		t.Errorf("the fork's evals.jsonl:\n%s", b)
	}
}
