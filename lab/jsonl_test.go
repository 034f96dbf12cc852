package lab

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// truncateReference is truncateJSONLAfter as it was: the whole file read,
// every line decoded with encoding/json.
func truncateReference(b []byte, step int64) []byte {
	var keep []byte
	for _, line := range strings.SplitAfter(string(b), "\n") {
		if !strings.HasSuffix(line, "\n") {
			continue
		}
		var s struct {
			Step *int64 `json:"step"`
		}
		if json.Unmarshal([]byte(line), &s) == nil && s.Step != nil && *s.Step > step {
			continue
		}
		keep = append(keep, line...)
	}
	return keep
}

func TestTruncateJSONLAfter(t *testing.T) {
	step := func(n int) string {
		return fmt.Sprintf(`{"type":"step","time":"2026-11-01T00:00:00Z","run":"r","step":%d,"loss":%d.5,"sources":{"a":1,"b":2},"spike_score":{"loss":0,"grad_norm":0}}`+"\n", n, n)
	}
	var tail, mixed strings.Builder
	for i := 1; i <= 30; i++ {
		tail.WriteString(step(i))
		mixed.WriteString(step(i))
		if i == 25 { // a line to keep after the cut: the file is rewritten
			mixed.WriteString(`{"type":"warning","message":"no step \"here\"","evals":[{"step":99}]}` + "\n")
			mixed.WriteString(`{"run":"r/ingredient-1","step":3}` + "\n")
		}
	}
	cases := map[string]string{
		"tail":     tail.String(),
		"torn":     tail.String() + `{"type":"step","step":31,"lo`,
		"mixed":    mixed.String(),
		"nothing":  step(1) + step(2),
		"odd":      " {\"step\" : 40 }\n{\"step\":null}\n{\"step\":1e3}\nnot json\n\n{\"Step\":50}\n" + step(3),
		"escaped":  `{"message":"a\\\"b","step":41}` + "\n" + step(4),
		"empty":    "",
		"no tail":  step(21) + step(22),
		"long":     step(1) + `{"step":50,"message":"` + strings.Repeat("x", 600<<10) + `"}` + "\n" + step(2),
		"keeplong": step(30) + `{"message":"` + strings.Repeat("y", 600<<10) + `"}` + "\n",
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "metrics.jsonl")
			os.WriteFile(path, []byte(in), 0o644)
			if err := truncateJSONLAfter(path, 20); err != nil {
				t.Fatal(err)
			}
			got, _ := os.ReadFile(path)
			if want := truncateReference([]byte(in), 20); !bytes.Equal(got, want) {
				t.Errorf("got\n%.300s\nwant\n%.300s", got, want)
			}
		})
	}
	if err := truncateJSONLAfter(filepath.Join(t.TempDir(), "missing.jsonl"), 3); err != nil {
		t.Errorf("a missing file: %v", err)
	}
}

// BenchmarkTruncateMetrics cuts the last 1000 steps off a 100K-step
// metrics.jsonl, as a resume from a checkpoint does.
func BenchmarkTruncateMetrics(b *testing.B) {
	dir := b.TempDir()
	var buf bytes.Buffer
	for i := 1; i <= 100000; i++ {
		e := Event{Type: EvStep, Run: "r", Step: int64(i), Tokens: int64(i) << 22, Phase: "stage1", Loss: 2.5, GradNorm: 0.3, LR: 3e-4,
			SpikeScore: &SpikeScores{}, Sources: map[string]int64{"web": int64(i), "code": int64(i), "math": int64(i)}, TotalTokens: 1 << 40}
		line, _ := json.Marshal(e)
		buf.Write(append(line, '\n'))
	}
	src := filepath.Join(dir, "src.jsonl")
	os.WriteFile(src, buf.Bytes(), 0o644)
	path := filepath.Join(dir, "metrics.jsonl")
	b.SetBytes(int64(buf.Len()))
	for b.Loop() {
		b.StopTimer()
		os.WriteFile(path, buf.Bytes(), 0o644)
		b.StartTimer()
		if err := truncateJSONLAfter(path, 99000); err != nil {
			b.Fatal(err)
		}
	}
}

func TestReadStepLosses(t *testing.T) {
	in := `{"type":"step","step":1,"loss":2.5,"sources":{"loss":9}}
{"type":"eval","step":1,"loss":7}
{"type":"step","step":2}
{"type":"step","step":3,"loss":null}
{"type":"st\u0065p","loss":1.25}
{"Type":"step","LOSS":3.5}
{"type":"step","loss":-1e-3}
not json
`
	path := filepath.Join(t.TempDir(), "metrics.jsonl")
	os.WriteFile(path, []byte(in), 0o644)
	got, dmg, err := readStepLosses(path)
	if want := []float64{2.5, 1.25, 3.5, -1e-3}; err != nil || fmt.Sprint(got) != fmt.Sprint(want) || dmg != (Damage{}) {
		t.Errorf("got %v, %+v (%v), want %v and no damage (the bad line is the last: torn)", got, dmg, err, want)
	}
}

// A line that is not JSON before the last (a disk error, an edit) was
// passed over as silently as a torn last line: the summary lost its steps
// without a word. It is damage, reported once with its line number; a torn
// last line, and blank lines, stay silent.
func TestStepLossesDamage(t *testing.T) {
	step := `{"type":"step","loss":1}` + "\n"
	for _, tc := range []struct {
		in   string
		want Damage
	}{
		{step + step + `{"type":"st`, Damage{}},
		{step + "\n" + step + "\n", Damage{}},
		{step + "\x00\x00\x00\n" + step, Damage{Line: 2}},
		{step + "garbage\n" + step + `{"ty` + "\n" + step + `{"type":"st`, Damage{Line: 2, More: 1}},
	} {
		_, got, err := stepLosses(strings.NewReader(tc.in))
		if err != nil || got != tc.want {
			t.Errorf("%q: %+v (%v), want %+v", tc.in, got, err, tc.want)
		}
	}
	if w := (Damage{Line: 2, More: 1}).Warning("R/metrics.jsonl"); !strings.HasPrefix(w, "R/metrics.jsonl: line 2 (and 1 more after it) is not a JSON record") {
		t.Errorf("warning %q", w)
	}
}

// A resume reads the run's metrics.jsonl for its summary: a damaged line
// there is a warning naming the file and the line.
func TestResumeWarnsOfADamagedMetricsLine(t *testing.T) {
	root := t.TempDir()
	rec := parseTiny(t, "max_tokens=5120", "anneal.auto_at=0", "checkpoint.interval=4")
	dir := filepath.Join(root, "dmg")
	stopAt(t, RunParams{Recipe: rec, RunsDir: root, Name: "dmg"}, "dmg", 8)
	path := filepath.Join(dir, MetricsFile)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(b), "\n")
	lines[2] = strings.Repeat("\x00", len(lines[2])-1) + "\n" // a block of zeros, as a crash of some file systems leaves
	if err := os.WriteFile(path, []byte(strings.Join(lines, "")), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := StartRun(context.Background(), RunParams{ResumeDir: dir, PeakFLOPS: 1e11})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range follow(t, r, nil) {
		if e.Type == EvWarning && strings.Contains(e.Message, path+": line 3 is not a JSON record") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d warnings naming %s line 3, want 1", n, path)
	}
}
