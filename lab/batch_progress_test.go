package lab

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// lineLog is a Writer a test reads while another goroutine writes to it;
// waitFor waits until what is written holds a text.
type lineLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lineLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *lineLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// waitFor polls for text every millisecond, failing t after waitLimit.
func (l *lineLog) waitFor(t *testing.T, text string) {
	t.Helper()
	for deadline := time.Now().Add(waitLimit); !strings.Contains(l.String(), text); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q written within %v:\n%s", text, waitLimit, l.String())
		}
	}
}

// TestBatchProgressRepeatsNothing: off a terminal, --batch writes a progress
// line every BatchParams.Every while steps come, and none while a long step
// has not ended: the same line again says nothing, and a run of steps longer
// than Every (a large model on a CPU) wrote every line twice or more in its
// log.
//
// It waits for each line rather than sleeping until it should be there: a
// RunBatch goroutine late on a loaded machine wrote no line for step 1
// before step 2 came, or none for step 2 before the run ended, and the test
// failed for want of a line.
func TestBatchProgressRepeatsNothing(t *testing.T) {
	r := &Run{Events: NewEventQueue(16), done: make(chan struct{})}
	var stderr lineLog
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		RunBatch(r, BatchParams{Stdout: io.Discard, Stderr: &stderr, Every: 30 * time.Millisecond})
	}()
	r.Events.Publish(Event{Type: EvStep, Step: 1, Tokens: 256, Loss: 7})
	stderr.waitFor(t, "step 1 ")
	time.Sleep(500 * time.Millisecond) // a long step: the 200 ms ticker fires twice or more, every time Every after the line
	r.Events.Publish(Event{Type: EvStep, Step: 2, Tokens: 512, Loss: 6.5})
	stderr.waitFor(t, "step 2 ")
	close(r.done)
	select {
	case <-ended:
	case <-time.After(waitLimit):
		t.Fatalf("RunBatch did not return within %v of the run's end; goroutines:\n%s", waitLimit, goroutines())
	}
	out := stderr.String()
	if n := strings.Count(out, "step 1 "); n != 1 {
		t.Errorf("step 1's progress line written %d times, want once:\n%s", n, out)
	}
	if n := strings.Count(out, "step 2 "); n != 1 {
		t.Errorf("step 2's progress line written %d times, want once:\n%s", n, out)
	}
}

// TestThroughputSmooths: the speed shown and the time left come from the
// recent steps' time per token, not from the last step's speed, which swings
// 3.6K–18K tokens/s on a loaded machine.
func TestThroughputSmooths(t *testing.T) {
	cases := []struct {
		name   string
		steps  []float64 // tokens/s of each step, in order
		lo, hi float64   // the smoothed tokens/s lies in [lo, hi]
	}{
		{"none", nil, 0, 0},
		{"one step counts at once", []float64{12000}, 11999, 12001},
		{"steady", []float64{8000, 8000, 8000}, 7999, 8001},
		// 3.6K and 18K alternating take as long as 6K throughout; a
		// fast last step moves it little
		{"swinging, fast last", swing(60, 3600, 18000), 5500, 6600},
		{"swinging, slow last", swing(61, 3600, 18000), 5400, 6500},
		{"not a speed", []float64{8000, 0, math.Inf(1), math.NaN(), -1}, 7999, 8001},
	}
	for _, c := range cases {
		var tp Throughput
		for _, s := range c.steps {
			tp.Add(s)
		}
		if got := tp.TokensPerSec(); got < c.lo || got > c.hi {
			t.Errorf("%s: %.0f tokens/s, want %.0f to %.0f", c.name, got, c.lo, c.hi)
		}
		left, ok := tp.Left(1_200_000)
		if ok != (c.hi > 0) || (ok && (left < time.Duration(1.2e6/c.hi*1e9) || left > time.Duration(1.2e6/c.lo*1e9))) {
			t.Errorf("%s: 1.2M tokens left in %v (%v), want %v to %v", c.name, left, ok, time.Duration(1.2e6/c.hi*1e9), time.Duration(1.2e6/c.lo*1e9))
		}
	}
}

// swing is n steps alternating between tokens/s a and b, starting with a.
func swing(n int, a, b float64) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = a
		if i%2 == 1 {
			out[i] = b
		}
	}
	return out
}

// TestProgressLineETAAndWidth: --batch's progress line gives the time left,
// from the smoothed speed (it had no ETA), and on a terminal it fits the
// width, leaving out the least needed figures first: a line that wraps is
// not rewritten in place, and each update scrolled the screen.
func TestProgressLineETAAndWidth(t *testing.T) {
	var tp Throughput
	for _, s := range swing(60, 3600, 18000) {
		tp.Add(s)
	}
	// 1.2M tokens left at about 6K tokens/s: about 3m20s, where the last
	// step's 18K would say 1m06s
	e := Event{Type: EvStep, Phase: "stage1", Step: 800, Tokens: 500_000, TotalTokens: 1_700_000, Loss: 2.3456, GradNorm: 0.812, LR: 2.5e-3,
		TokensPerSec: 18000, MFU: 0.5}
	full := progressLine(e, &tp, 0)
	want := "[stage1] step 800  500.0K/1.70M tokens (29%)  ETA 3m"
	if !strings.HasPrefix(full, want) || !strings.Contains(full, "loss 2.3456  grad 0.812  lr 2.50e-03  6") || !strings.Contains(full, " tok/s  MFU 1") {
		t.Errorf("line %q, want it to start %q, with the smoothed tok/s (6xxx) and MFU (about 17%%)", full, want)
	}
	for _, c := range []struct {
		width      int
		has, lacks []string
	}{
		{0, []string{"ETA", "loss", "grad", "lr", "tok/s", "MFU"}, nil},
		{200, []string{"ETA", "loss", "grad", "lr", "tok/s", "MFU"}, nil},
		{110, []string{"ETA", "loss", "grad", "lr", "tok/s"}, []string{"MFU"}},
		{100, []string{"ETA", "loss", "grad", "tok/s"}, []string{"MFU", "lr "}},
		{90, []string{"ETA", "loss", "tok/s"}, []string{"MFU", "lr ", "grad"}},
		{80, []string{"ETA", "loss"}, []string{"tok/s", "grad"}},
		{60, []string{"ETA"}, []string{"loss"}},
		{30, []string{"[stage1] step 800"}, []string{"ETA"}},
	} {
		got := progressLine(e, &tp, c.width)
		if c.width > 0 && utf8.RuneCountInString(got) >= c.width {
			t.Errorf("width %d: %d columns: %q", c.width, utf8.RuneCountInString(got), got)
		}
		for _, h := range c.has {
			if !strings.Contains(got, h) {
				t.Errorf("width %d: %q lacks %q", c.width, got, h)
			}
		}
		for _, l := range c.lacks {
			if strings.Contains(got, l) {
				t.Errorf("width %d: %q has %q", c.width, got, l)
			}
		}
	}
	// before any step's speed, and at the end
	if got := progressLine(Event{Type: EvStep, Phase: "stage1", Step: 1, Tokens: 256, TotalTokens: 5120}, &Throughput{}, 0); !strings.Contains(got, "ETA –") {
		t.Errorf("no speed yet: %q", got)
	}
	if got := progressLine(Event{Type: EvStep, Phase: "anneal", Step: 20, Tokens: 5120, TotalTokens: 5120, TokensPerSec: 9000}, &tp, 0); !strings.Contains(got, "(100%)  ETA 0s") {
		t.Errorf("the last step: %q", got)
	}
}

// TestHumanDuration: a time under a second but not 0 reads "<1s": an ETA of
// half a step read "0s", as if the run were done, while the last step ran.
// --batch's progress line and the TUI's status both write durations with it.
func TestHumanDuration(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"}, {time.Nanosecond, "<1s"}, {300 * time.Millisecond, "<1s"}, {999 * time.Millisecond, "<1s"},
		{time.Second, "1s"}, {59900 * time.Millisecond, "59s"}, {187 * time.Second, "3m07s"}, {2*time.Hour + 5*time.Minute, "2h05m"},
		{76 * time.Hour, "3d04h"}, {-time.Second, "–"}, {1001 * time.Hour, "–"},
	} {
		if got := HumanDuration(c.d); got != c.want {
			t.Errorf("HumanDuration(%v) = %q, want %q", c.d, got, c.want)
		}
	}
	// the last step but one, at 9K tokens/s: 256 tokens left, 28 ms
	var tp Throughput
	tp.Add(9000)
	e := Event{Type: EvStep, Phase: "anneal", Step: 19, Tokens: 4864, TotalTokens: 5120, TokensPerSec: 9000}
	if got := progressLine(e, &tp, 0); !strings.Contains(got, "ETA <1s") {
		t.Errorf("a step before the end: %q, want ETA <1s", got)
	}
}

// TestBatchProgressFitsTheTerminal: on a terminal, every progress line RunBatch
// draws fits the width it is given when it draws.
func TestBatchProgressFitsTheTerminal(t *testing.T) {
	r := &Run{Events: NewEventQueue(16), done: make(chan struct{})}
	var stderr lineLog
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		RunBatch(r, BatchParams{Stdout: io.Discard, Stderr: &stderr, Terminal: true, Width: func() int { return 64 }})
	}()
	for s := int64(1); s <= 3; s++ {
		r.Events.Publish(Event{Type: EvStep, Phase: "stage1", Step: s, Tokens: 256 * s, TotalTokens: 2560, Loss: 7, GradNorm: 1, LR: 1e-3, TokensPerSec: 5000, MFU: 0.3})
		stderr.waitFor(t, fmt.Sprintf("step %d ", s))
	}
	close(r.done)
	<-ended
	for _, l := range strings.Split(stderr.String(), "\r\033[K") {
		if l = strings.TrimRight(l, "\n"); utf8.RuneCountInString(l) >= 64 && !strings.Contains(l, "\n") {
			t.Errorf("a progress line of %d columns on a terminal of 64: %q", utf8.RuneCountInString(l), l)
		}
	}
	if !strings.Contains(stderr.String(), "ETA ") {
		t.Errorf("no ETA:\n%s", stderr.String())
	}
}

// TestSummarySeconds: the summary's wall-clock time of a run shorter than a
// few seconds keeps its digits; a sub-second run read "0 s".
func TestSummarySeconds(t *testing.T) {
	for _, c := range []struct {
		seconds float64
		want    string
	}{
		{0.372, "; 0.37 s wall-clock in all"},
		{0.004, "; 0.004 s wall-clock in all"},
		{4.26, "; 4.3 s wall-clock in all"},
		{35.4, "; 35 s wall-clock in all"},
		{1234.5, "; 1234 s wall-clock in all"},
	} {
		var b bytes.Buffer
		PrintSummary(&b, RunSummary{State: "finished", Steps: 2, Tokens: 512, Seconds: c.seconds, TokensPerSec: 1000})
		if !strings.Contains(b.String(), c.want) {
			t.Errorf("%v s: summary lacks %q:\n%s", c.seconds, c.want, b.String())
		}
	}
}
