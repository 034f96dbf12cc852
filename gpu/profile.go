package gpu

import (
	"fmt"
	"sort"
	"strings"
)

// profile attributes device time to the engine's operations: a timestamp
// (CUDA event) is recorded after every launch, product and memset, and the
// time between two consecutive stamps is charged to the operation that ended
// at the second one, under "phase:operation" (fwd, recompute, head, bwd,
// optim, norm; gemm, attention or the kernel's name). A stamp at the start
// of every engine call charges the host's gaps, when the device waits for the
// next call, to "host:idle". Events are recorded in the stream and read only
// when the pool fills or the profile is read, so profiling adds no
// synchronisation inside a step.
type profile struct {
	st     stamper
	labels []string
	n      int
	ms     map[string]float64
	// names holds each (phase, kernel or operation) pair's label, built on
	// its first stamp: a stamp then allocates nothing
	// (TestProfileAllocatesNothing)
	names map[[2]string]string
}

var profileStamps = 8192 // events in the pool (a var so tests can exercise the flush)

// EnableProfile starts attributing device time to operations (see Profile).
func (e *Engine) EnableProfile() error {
	if e.prof != nil {
		return nil
	}
	defer e.dev.enter()()
	st, err := e.dev.stamps(profileStamps)
	if err != nil {
		return err
	}
	e.prof = &profile{st: st, labels: make([]string, profileStamps), ms: map[string]float64{}, names: map[[2]string]string{}}
	return nil
}

// Profile returns the device milliseconds per operation since EnableProfile
// (or the last ResetProfile), waiting for the device to finish.
func (e *Engine) Profile() map[string]float64 {
	if e.prof == nil {
		return nil
	}
	defer e.dev.enter()()
	e.flushProfile()
	out := make(map[string]float64, len(e.prof.ms))
	for k, v := range e.prof.ms {
		out[k] = v
	}
	return out
}

// ResetProfile clears the accumulated times.
func (e *Engine) ResetProfile() {
	if e.prof != nil {
		defer e.dev.enter()()
		e.flushProfile()
		clear(e.prof.ms)
	}
}

// stamp records the end of an operation (label "" marks a call's start).
func (e *Engine) stamp(label string) {
	p := e.prof
	if p == nil {
		return
	}
	if p.n == len(p.labels) {
		e.flushProfile()
	}
	e.must("profile event", p.st.record(p.n))
	p.labels[p.n] = label
	p.n++
}

func (e *Engine) flushProfile() {
	p := e.prof
	for i := 1; i < p.n; i++ {
		ms, err := p.st.elapsed(i-1, i)
		e.must("profile event", err)
		l := p.labels[i]
		if l == "" {
			l = "host:idle"
		}
		p.ms[l] += ms
	}
	if p.n > 0 {
		// the last stamp starts the next interval
		e.must("profile event", p.st.record(0))
		p.labels[0] = "host"
		p.n = 1
	}
}

// opLabel names an operation for the profile, "phase:op": a kernel without
// its type suffix, every attention kernel (and cuDNN's) "attention", gemm and
// memset as they are. Each pair's label is built once per engine.
func (e *Engine) opLabel(op string) string {
	p := e.prof
	key := [2]string{e.phase, op}
	if l, ok := p.names[key]; ok {
		return l
	}
	k := op
	switch {
	case strings.HasPrefix(k, "attn_"):
		k = "attention"
	default:
		k = strings.TrimSuffix(strings.TrimSuffix(k, "_bf16"), "_f32")
	}
	l := e.phase + ":" + k
	p.names[key] = l
	return l
}

// FormatProfile renders a profile as a table, largest first, with each
// operation's share and its milliseconds per step.
func FormatProfile(ms map[string]float64, steps int) string {
	type row struct {
		k string
		v float64
	}
	var rows []row
	var total float64
	for k, v := range ms {
		rows = append(rows, row{k, v})
		total += v
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].v > rows[j].v })
	var sb strings.Builder
	fmt.Fprintf(&sb, "%-32s %10s %6s\n", "operation", "ms/step", "share")
	for _, r := range rows {
		fmt.Fprintf(&sb, "%-32s %10.2f %5.1f%%\n", r.k, r.v/float64(max(steps, 1)), 100*r.v/total)
	}
	fmt.Fprintf(&sb, "%-32s %10.2f\n", "total", total/float64(max(steps, 1)))
	return sb.String()
}
