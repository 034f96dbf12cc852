package lab

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"
)

// TestBatchProgressRepeatsNothing: off a terminal, --batch writes a progress
// line every BatchParams.Every while steps come, and none while a long step
// has not ended: the same line again says nothing, and a run of steps longer
// than Every (a large model on a CPU) wrote every line twice or more in its
// log.
func TestBatchProgressRepeatsNothing(t *testing.T) {
	r := &Run{Events: NewEventQueue(16), done: make(chan struct{})}
	var stderr bytes.Buffer
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		RunBatch(r, BatchParams{Stdout: io.Discard, Stderr: &stderr, Every: 30 * time.Millisecond})
	}()
	r.Events.Publish(Event{Type: EvStep, Step: 1, Tokens: 256, Loss: 7})
	time.Sleep(500 * time.Millisecond) // a long step: the ticker fires many times
	r.Events.Publish(Event{Type: EvStep, Step: 2, Tokens: 512, Loss: 6.5})
	time.Sleep(300 * time.Millisecond)
	close(r.done)
	<-ended
	out := stderr.String()
	if n := strings.Count(out, "step 1 "); n != 1 {
		t.Errorf("step 1's progress line written %d times, want once:\n%s", n, out)
	}
	if n := strings.Count(out, "step 2 "); n != 1 {
		t.Errorf("step 2's progress line written %d times, want once:\n%s", n, out)
	}
}
