package lab

import (
	"bytes"
	"io"
	"strings"
	"sync"
	"testing"
	"time"
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
