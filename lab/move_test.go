package lab

import (
	"context"
	"errors"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/olmolab/olmolab/model"
)

// stopAt runs p until the run's step `step`, where it is stopped as `q`
// stops it (a checkpoint, state "stopped").
func stopAt(t *testing.T, p RunParams, dir string, step int64) {
	t.Helper()
	jsonlTestWriter = nil // a hook of an earlier leg
	hand := actAtStep(t, dir, step, Action{Kind: ActStop})
	if p.PeakFLOPS == 0 {
		p.PeakFLOPS = 1e11
	}
	r, err := StartRun(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	hand(r)
	if s, err := waitRun(t, r); s.State != "stopped" || s.Steps != step {
		t.Fatalf("%s: %s at step %d (%v), want stopped at %d", dir, s.State, s.Steps, err, step)
	}
}

// resumedMessages are the messages of a run's "resumed" events, in order.
func resumedMessages(t *testing.T, dir string) []string {
	var out []string
	for _, e := range readLines[Event](t, filepath.Join(dir, EventsFile)) {
		if e.Type == EvResumed {
			out = append(out, e.Message)
		}
	}
	return out
}

// TestMoveRunBetweenBackends: a run resumed with RunParams.Backend
// (--batch --resume --backend) continues on that engine from the
// checkpoint another wrote, says so in its resumed event, and stays there:
// its checkpoints record the engine, and a later resume that names none
// continues on it, not on recipe.yaml's. Here cpu → cpu-f64 → cpu-f64, the
// continued losses within float32 rounding of an uninterrupted cpu run's
// (the GPU engines: TestMoveRunBetweenEngines, -tags emu). Before,
// a resume always took recipe.yaml's backend: a run could move only by
// editing it.
func TestMoveRunBetweenBackends(t *testing.T) {
	root := t.TempDir()
	rec := parseTiny(t, "max_tokens=1792", "checkpoint.interval=0")
	if _, err := runToEnd(t, RunParams{Recipe: rec, RunsDir: root, Name: "full"}); err != nil {
		t.Fatal(err)
	}
	want := losses(t, filepath.Join(root, "full"))
	dir := filepath.Join(root, "moved")
	stopAt(t, RunParams{Recipe: rec, RunsDir: root, Name: "moved"}, "moved", 2)
	stopAt(t, RunParams{ResumeDir: dir, Backend: "cpu-f64"}, "moved", 4)
	ck, err := loadCheckpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	ck.Close()
	if ck.State.Backend != "cpu-f64" {
		t.Errorf("the checkpoint written on cpu-f64 says backend %q", ck.State.Backend)
	}
	// a backend this build lacks: bad input, naming it and what there is
	_, err = StartRun(context.Background(), RunParams{ResumeDir: dir, Backend: "tpu"})
	var in *InputError
	if !errors.As(err, &in) || !strings.Contains(err.Error(), `backend "tpu" (the backend asked for) is not in this build`) || !strings.Contains(err.Error(), "cpu-f64") {
		t.Errorf("resume on backend tpu: %v, want an input error naming it and the backends there are", err)
	}
	// no Backend: the checkpoint's engine, not recipe.yaml's cpu
	s, err := runToEnd(t, RunParams{ResumeDir: dir})
	if err != nil || s.State != "finished" {
		t.Fatalf("second resume: %v %q", err, s.State)
	}
	if ck, err = loadCheckpoint(dir); err != nil {
		t.Fatal(err)
	}
	ck.Close()
	if ck.State.Backend != "cpu-f64" {
		t.Errorf("resumed without a backend, the run trained on %q, want cpu-f64 (its checkpoint's)", ck.State.Backend)
	}
	if m := resumedMessages(t, dir); len(m) != 2 || !strings.HasSuffix(m[0], ", moved from backend cpu to cpu-f64") || strings.Contains(m[1], ", moved from") {
		t.Errorf("resumed events: %q, want the first to say the run moved to cpu-f64, the second not", m)
	}
	got := losses(t, dir)
	if len(got) != len(want) {
		t.Fatalf("moved run: %d steps, uninterrupted %d", len(got), len(want))
	}
	for i := range want {
		// steps 1-2 on cpu: bit for bit; then float64 against float32
		if d := math.Abs(got[i] - want[i]); (i < 2 && d != 0) || d > 1e-4*want[i] {
			t.Errorf("step %d: moved run's loss %v, uninterrupted %v", i+1, got[i], want[i])
		}
	}

}

// peakBackend is the CPU engine with a peak of its own, as a GPU engine
// has (gpu.Engine.PeakFLOPS).
type peakBackend struct{ model.Backend }

func (peakBackend) PeakFLOPS() float64 { return 2e11 }

// TestMFUFromTheBackendsPeak: a run on a backend that knows its peak
// (a GPU engine on an H100 or H200) reports MFU against it, in its step
// events and summary; a GPU run had none (the lab measured only the CPU's).
func TestMFUFromTheBackendsPeak(t *testing.T) {
	model.RegisterBackend("cpu-with-peak", func(cfg model.Config, B, T int) (model.Backend, error) {
		b, err := model.NewBackend("cpu", cfg, B, T)
		return peakBackend{b}, err
	})
	root := t.TempDir()
	r, err := StartRun(context.Background(), RunParams{Recipe: parseTiny(t, "max_tokens=512", "checkpoint.interval=0", "backend=cpu-with-peak"), RunsDir: root, Name: "p"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := waitRun(t, r)
	if err != nil {
		t.Fatal(err)
	}
	cfg := mustPreset(t, "cpu_xs")
	for _, e := range readLines[Event](t, filepath.Join(root, "p", MetricsFile)) {
		if want := MFU(cfg, 32, e.TokensPerSec, 2e11); e.MFU == 0 || math.Abs(e.MFU-want) > 1e-9*want {
			t.Errorf("step %d: mfu %v at %v tokens/s, want %v against the backend's peak", e.Step, e.MFU, e.TokensPerSec, want)
		}
	}
	if want := MFU(cfg, 32, s.TokensPerSec, 2e11); s.MFU == 0 || math.Abs(s.MFU-want) > 1e-9*want {
		t.Errorf("summary mfu %v, want %v", s.MFU, want)
	}
}
