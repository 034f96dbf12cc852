package lab

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

// TestEventJSON: events are written as their fields say, except that a float
// that is not finite is null (encoding/json refuses it, which dropped the line)
// and a step's lr is there even at 0 (an anneal's last step).
func TestEventJSON(t *testing.T) {
	for _, tc := range []struct {
		name       string
		e          Event
		has, lacks []string
	}{
		{"step", Event{Type: EvStep, Step: 3, Loss: 2.5, GradNorm: 0.5, LR: 1e-3}, []string{`"loss":2.5`, `"grad_norm":0.5`, `"lr":0.001`}, []string{`"z_loss"`, `"value"`}},
		{"last anneal step", Event{Type: EvStep, Step: 9, Loss: 2.5, GradNorm: 0.5}, []string{`"lr":0`, `"loss":2.5`}, []string{`"z_loss"`}},
		{"skipped step", Event{Type: EvStep, Step: 4, Loss: math.NaN(), GradNorm: math.Inf(1), LR: 1e-3, Skipped: true},
			[]string{`"loss":null`, `"grad_norm":null`, `"lr":0.001`, `"skipped":true`}, []string{`"mfu"`}},
		{"spike", Event{Type: EvSpike, Series: "grad_norm", Value: math.Inf(1), Z: math.NaN()}, []string{`"value":null`, `"z":null`}, []string{`"lr"`, `"loss"`}},
		{"phase", Event{Type: EvPhase, Message: "anneal"}, []string{`"message":"anneal"`}, []string{`"lr"`, `"loss"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.Marshal(tc.e)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range tc.has {
				if !strings.Contains(string(b), s) {
					t.Errorf("%s lacks %s", b, s)
				}
			}
			for _, s := range tc.lacks {
				if strings.Contains(string(b), s) {
					t.Errorf("%s has %s", b, s)
				}
			}
			var back Event
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatalf("%s does not read back: %v", b, err)
			}
			if back.Step != tc.e.Step || back.Type != tc.e.Type || back.Skipped != tc.e.Skipped {
				t.Errorf("%s read back as %+v", b, back)
			}
		})
	}
}
