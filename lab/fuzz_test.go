package lab

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/olmolab/olmolab/experiments"
	"github.com/olmolab/olmolab/lab/data"
)

// FuzzParseRecipe: any bytes, with any --set, either parse into a recipe whose
// numbers the lab can use or give an error that names the file; never a panic.
func FuzzParseRecipe(f *testing.F) {
	f.Add([]byte(tinyRecipe), "seed=3")
	f.Add([]byte(tinyRecipe), "dataset.sources.0.target_ratio=0.5")
	f.Add([]byte(tinyRecipe), "dataset.sources.target_ratio=[0.2, 0.8]")
	f.Add([]byte("name: x\nmodel: {preset: cpu_xs}\n"), "")
	f.Add([]byte("{"), "x=")
	f.Add([]byte(tinyRecipe+"mixes: {qa: [{name: qa, target_ratio: 1, paths: [\"builtin:qa\"]}]}\nmix_schedule: [{at_tokens: 1K, mix: qa}]\n"), "mix_schedule.0.at_tokens=2K")
	f.Add([]byte(tinyRecipe+"mix_schedule: [{at_tokens: 1K, mix: [1]}, 3]\n"), "mix_schedule=x")
	f.Add([]byte("max_tokens: 1.7M\nschedule: {name: wsd}\n"), "optimizer.lr=[1]")
	for _, r := range experiments.All() {
		f.Add(r.YAML, "max_tokens=1M")
	}
	f.Fuzz(func(t *testing.T, b []byte, set string) {
		var sets []string
		if set != "" {
			sets = []string{set}
		}
		r, err := ParseRecipe("fuzz.yaml", b, sets)
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.yaml") && !strings.Contains(err.Error(), "--set") {
				t.Errorf("error names neither the file nor the --set: %v", err)
			}
			return
		}
		if r.SequenceLength <= 0 || r.GlobalBatchSize <= 0 || r.MaxTokens <= 0 {
			t.Errorf("parsed recipe with unusable sizes: seq %d, batch %d, tokens %d", r.SequenceLength, r.GlobalBatchSize, r.MaxTokens)
		}
	})
}

// FuzzReadStepLosses: the losses a resume reads back from metrics.jsonl with
// its fast reader (jsonfield, encoding/json where that cannot decide) are
// those encoding/json finds, line by line, for every line that is JSON: a
// line the fast path misread would give the resumed run another loss
// history. (It does not check the syntax of the values it skips, which would
// cost three times its time: a line that is not JSON may be read.)
func FuzzReadStepLosses(f *testing.F) {
	f.Add([]byte(`{"type":"step","time":"2026-11-29T00:00:00Z","run":"r","step":1,"tokens":256,"loss":7.5}` + "\n"))
	f.Add([]byte(`{"type":"step","loss":null}` + "\n" + `{"type":"eval","loss":3}` + "\n" + `{"Type":"step","loss":2}` + "\n"))
	f.Add([]byte(`{"type":"st\u0065p","loss":1e3,"LOSS":4}` + "\n" + `{"loss":1,"type":"step","loss":2}`))
	f.Add([]byte(`{"type":"step","loss":"5"}` + "\n" + `not json` + "\n" + `{"type":"step","loss":-0}`))
	f.Add([]byte(`{"type":0,"type":"step","loss":0}` + "\n" + `{"type":"step","loss":1e400}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, _, err := stepLosses(bytes.NewReader(b)); err != nil {
			return // a line past the scanner's limit: the resume refuses the file
		}
		for _, line := range bytes.Split(b, []byte("\n")) {
			line = bytes.TrimSuffix(line, []byte("\r"))
			if !json.Valid(line) {
				continue
			}
			var want []float64
			var m struct {
				Type EventKind `json:"type"`
				Loss *float64  `json:"loss"`
			}
			if json.Unmarshal(line, &m) == nil && m.Loss != nil && m.Type == EvStep {
				want = append(want, *m.Loss)
			}
			if got, _, _ := stepLosses(bytes.NewReader(line)); !slices.Equal(got, want) {
				t.Errorf("%s: readStepLosses %v, encoding/json %v", line, got, want)
			}
		}
	})
}

// FuzzEndedWithSoup: whatever a run directory's summary.json and events.jsonl
// hold (another version's, a damaged copy), EndedWithSoup answers without a
// panic, and says yes only for a finished run with a soup.
func FuzzEndedWithSoup(f *testing.F) {
	f.Add([]byte(`{"state":"finished","steps":8,"soup":{"from_step":8,"final":true}}`), []byte(""))
	f.Add([]byte(`{"state":"finished","steps":8,"soup":{"from_step":8}}`),
		[]byte(`{"type":"phase","message":"soup done: 3 ingredients averaged; stage1 goes on from step 8 with the run's own weights","soup":{"from_step":8}}`+"\n"))
	f.Add([]byte(`{"state":"finished","steps":8,"soup":{"from_step":8,"final":null}}`), []byte(`{"soup":`))
	f.Add([]byte(`{"state":"finished","soup":[]}`), []byte("\x00"))
	f.Fuzz(func(t *testing.T, summary, events []byte) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, SummaryFile), summary, 0o644)
		os.WriteFile(filepath.Join(dir, EventsFile), events, 0o644)
		from, ok := EndedWithSoup(dir)
		if !ok {
			return
		}
		s, read := ReadSummary(dir)
		if !read || s.State != "finished" || s.Soup == nil || s.Soup.FromStep != from {
			t.Errorf("EndedWithSoup = %d, true for summary %q (read %v: %+v)", from, summary, read, s)
		}
	})
}

// FuzzCheckpointState: whatever a checkpoint's state.json holds (hand-edited,
// damaged, another version's), opening the checkpoint either refuses it with
// an error naming state.json or gives a state a run can continue from
// (CheckpointState.check), never a panic.
func FuzzCheckpointState(f *testing.F) {
	golden := filepath.Join("..", "model", "testdata", "golden", "olmo2-tiny")
	good, _ := json.Marshal(CheckpointState{Run: "r", Step: 4, Tokens: 1024, TotalTokens: 4096, Phase: "stage1", LR: 3e-3,
		Mix: []data.SourceSpec{{Name: "web", TargetRatio: 1, Paths: []string{"builtin:web_clean"}}}})
	f.Add(good)
	f.Add(bytes.Replace(good, []byte(`"phase":"stage1"`), []byte(`"phase":"anneal"`), 1))
	f.Add([]byte(`{"step":4,"tokens":5,"total_tokens":4,"phase":"soup","mix":[{"target_ratio":-1}]}`))
	f.Add([]byte(`{"step":4,"phase":"stage1","lr":1e999}`))
	f.Add([]byte(`{"spikes_loss":{"n":-1}}`))
	f.Fuzz(func(t *testing.T, state []byte) {
		dir := filepath.Join(t.TempDir(), checkpointName(4))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"config.json", "model.safetensors"} {
			if err := os.Link(filepath.Join(golden, name), filepath.Join(dir, name)); err != nil {
				b, _ := os.ReadFile(filepath.Join(golden, name))
				os.WriteFile(filepath.Join(dir, name), b, 0o644)
			}
		}
		os.WriteFile(filepath.Join(dir, StateFile), state, 0o644)
		lc, err := loadCheckpoint(dir)
		if err != nil { // a bad state.json, or the missing optimizer file after a good one
			if !strings.Contains(err.Error(), StateFile) && !strings.Contains(err.Error(), OptimFile) {
				t.Errorf("state %s: error names neither %s nor %s: %v", state, StateFile, OptimFile, err)
			}
			return
		}
		defer lc.Close()
		if lc.State == nil || lc.State.check(filepath.Base(dir)) != nil {
			t.Errorf("state %s opened as %+v", state, lc.State)
		}
	})
}
