package main

import (
	"context"
	"math"
	"runtime"
	"runtime/debug"
	"testing"
	"time"

	"github.com/olmolab/olmolab/lab"
	"github.com/olmolab/olmolab/model"
	"github.com/olmolab/olmolab/tui"
)

// TestSessionMemoryLimit: while the interactive lab trains a run, the Go
// collector's soft memory limit holds the process to what the run was
// checked for plus the session's own memory (as --batch holds its run), and
// when the run ends the limit is lifted; a GOMEMLIMIT from the environment
// stays.
func TestSessionMemoryLimit(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	debug.SetMemoryLimit(math.MaxInt64)
	t.Setenv("GOMEMLIMIT", "")
	rec, err := lab.LoadRecipe("testdata/tiny.yaml", []string{"max_tokens=100000000", "anneal.auto_at=0"})
	if err != nil {
		t.Fatal(err)
	}
	var mem sessionMemory
	r, err := mem.start(context.Background(), lab.RunParams{Recipe: rec, RunsDir: t.TempDir(), Name: "s"})
	if err != nil {
		t.Fatal(err)
	}
	need := r.(interface{ MemoryNeed() int64 }).MemoryNeed()
	limit := debug.SetMemoryLimit(-1)
	if lo, hi := lab.SoftMemoryLimit(need)+256<<20, lab.SoftMemoryLimit(need)+2<<30; limit < lo || limit > hi {
		t.Errorf("while a run of need %d MiB trains: limit %d MiB, want %d to %d MiB", need>>20, limit>>20, lo>>20, hi>>20)
	}
	stopRun(t, r)
	deadline := time.Now().Add(10 * time.Second)
	for debug.SetMemoryLimit(-1) != math.MaxInt64 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("after the run: limit %d MiB, want none", got>>20)
	}

	t.Setenv("GOMEMLIMIT", "1GiB") // the runtime read it at start; the session leaves it
	debug.SetMemoryLimit(1 << 30)
	r, err = mem.start(context.Background(), lab.RunParams{Recipe: rec, RunsDir: t.TempDir(), Name: "s2"})
	if err != nil {
		t.Fatal(err)
	}
	if got := debug.SetMemoryLimit(-1); got != 1<<30 {
		t.Errorf("with GOMEMLIMIT=1GiB: limit %d MiB", got>>20)
	}
	stopRun(t, r)
}

// TestSessionReturnsRunMemory: when a run of the interactive lab ends, the
// memory its engine held goes back to the OS at once, although the UI keeps
// the finished run to show it: the next run's memory check reads the
// machine's available memory, and a session that still held the last run's
// engine (until the collector's next cycle, up to two minutes, and the
// scavenger's slow return after it) would see that much less than there is.
func TestSessionReturnsRunMemory(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	t.Setenv("GOMEMLIMIT", "")
	rec, err := lab.LoadRecipe("testdata/tiny.yaml", []string{"model=cpu_m", "max_tokens=100000000", "anneal.auto_at=0", "checkpoint.interval=0"})
	if err != nil {
		t.Fatal(err)
	}
	engine := model.EstimateCPUMemory(mustConfig(t, "cpu_m"), rec.MicroBatchSize/rec.SequenceLength, rec.SequenceLength)
	debug.FreeOSMemory()
	before := goMemoryInUse()
	var mem sessionMemory
	r, err := mem.start(context.Background(), lab.RunParams{Recipe: rec, RunsDir: t.TempDir(), Name: "m"})
	if err != nil {
		t.Fatal(err)
	}
	// the measure sees the engine (else the check below proves nothing);
	// within 10%: garbage of earlier tests' goroutines freed meanwhile made
	// it 136 of 137 MiB under load, twice
	if during := goMemoryInUse(); during < before+engine*9/10 {
		t.Fatalf("while the run trains the process holds %d MiB more, less than 90%% of its engine's %d MiB", (during-before)>>20, engine>>20)
	}
	stopRun(t, r)
	deadline := time.Now().Add(5 * time.Second)
	after := goMemoryInUse()
	for ; after > before+engine/4 && time.Now().Before(deadline); after = goMemoryInUse() {
		time.Sleep(20 * time.Millisecond)
	}
	if after > before+engine/4 {
		t.Errorf("after the run ended the process holds %d MiB more than before it, of an engine of %d MiB", (after-before)>>20, engine>>20)
	}
	runtime.KeepAlive(r) // as the UI keeps its finished run
}

// waitLimit bounds a test's wait for a run's end: one that hangs fails the
// test, with the goroutines' stacks, instead of holding the package until go
// test's -timeout.
const waitLimit = 2 * time.Minute

// stopRun stops r and waits for its end, failing t if it has not ended
// within waitLimit (a stop is applied after the step that is running).
func stopRun(t *testing.T, r tui.Run) {
	t.Helper()
	if err := r.Do(lab.Action{Kind: lab.ActStop}); err != nil {
		t.Fatalf("stop: %v", err)
	}
	select {
	case <-r.Done():
	case <-time.After(waitLimit):
		buf := make([]byte, 1<<20)
		t.Fatalf("the run did not end within %v of its stop; goroutines:\n%s", waitLimit, buf[:runtime.Stack(buf, true)])
	}
}

func mustConfig(t *testing.T, preset string) model.Config {
	t.Helper()
	cfg, err := model.PresetByName(preset)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}
