package cudnn

import (
	"strings"
	"testing"
)

// TestRunAllocatesNothing: after the first call, Forward and Backward (a
// variant pack made, set, finalized, executed and destroyed per call) make
// no Go heap allocation: they run once per layer in every training step.
func TestRunAllocatesNothing(t *testing.T) {
	path, _ := fakeLib(t, "FAKE_CUDNN_LOG=") // no log: the fake's own file writes are not ours
	l, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	h, err := l.NewHandle(0)
	if err != nil {
		t.Fatal(err)
	}
	a, err := NewSDPA(l, h, gqa)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	fwd := FwdPtrs{Q: 0x1000, K: 0x2000, V: 0x3000, O: 0x4000, Stats: 0x5000}
	bwd := BwdPtrs{Q: 0x1000, K: 0x2000, V: 0x3000, O: 0x4000, Stats: 0x5000, DO: 0x6000, D: 0x7000, DQ: 0x8000, DK: 0x8100, DV: 0x8200}
	call := func() {
		if err := a.Forward(fwd, 0x9000); err != nil {
			t.Fatal(err)
		}
		if err := a.Backward(bwd, 0x9000); err != nil {
			t.Fatal(err)
		}
	}
	call()
	if n := testing.AllocsPerRun(10, call); n != 0 {
		t.Errorf("Forward and Backward allocate %.1f times", n)
	}
}

// ForwardOnly (a scoring engine's) builds the forward graph alone: one
// operation graph, a forward that runs, a workspace that is the forward
// plan's (FAKE_CUDNN_WS), and a backward that is refused.
func TestForwardOnly(t *testing.T) {
	path, log := fakeLib(t, "FAKE_CUDNN_WS=4096")
	l, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	h, err := l.NewHandle(0)
	if err != nil {
		t.Fatal(err)
	}
	s := gqa
	s.ForwardOnly = true
	a, err := NewSDPA(l, h, s)
	if err != nil {
		t.Fatal(err)
	}
	if a.Workspace() != 4096 || !strings.Contains(a.Describe(), "forward only") {
		t.Errorf("workspace %d, %s", a.Workspace(), a.Describe())
	}
	if err := a.Forward(FwdPtrs{Q: 0x1000, K: 0x2000, V: 0x3000, O: 0x4000, Stats: 0x5000}, 0x9000); err != nil {
		t.Fatal(err)
	}
	bwd := BwdPtrs{Q: 0x1000, K: 0x2000, V: 0x3000, O: 0x4000, Stats: 0x5000, DO: 0x6000, D: 0x7000, DQ: 0x8000, DK: 0x8100, DV: 0x8200}
	if err := a.Backward(bwd, 0x9000); err == nil || !strings.Contains(err.Error(), "forward only") {
		t.Errorf("backward of a forward-only SDPA: %v", err)
	}
	a.Close()
	if gs := readCalls(t, log).graphs(); len(gs) != 1 {
		t.Errorf("%d operation graphs built, want the forward's only", len(gs))
	}
}
