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
	// bytes is each operation's modeled DRAM traffic (launchBytes) since
	// the profile was enabled or reset, for FormatProfile's GB/s
	bytes map[string]float64
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
	e.prof = &profile{st: st, labels: make([]string, profileStamps), ms: map[string]float64{}, bytes: map[string]float64{}}
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
		clear(e.prof.bytes)
	}
}

// ProfileBytes returns each operation's modeled DRAM bytes (the memory-bound
// kernels' and memsets', launchBytes) over the profiled calls, the same
// operations and period as Profile; products and attention have none.
func (e *Engine) ProfileBytes() map[string]float64 {
	if e.prof == nil {
		return nil
	}
	out := make(map[string]float64, len(e.prof.bytes))
	for k, v := range e.prof.bytes {
		out[k] = v
	}
	return out
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
// memset as they are. Each pair's label is built once per engine: a stamp
// then allocates nothing (TestProfileAllocatesNothing).
func (e *Engine) opLabel(op string) string {
	key := [2]string{e.phase, op}
	if l, ok := e.opNames[key]; ok {
		return l
	}
	if e.opNames == nil {
		e.opNames = map[[2]string]string{}
	}
	k := op
	switch {
	case strings.HasPrefix(k, "attn_"):
		k = "attention"
	default:
		k = strings.TrimSuffix(strings.TrimSuffix(k, "_bf16"), "_f32")
	}
	l := e.phase + ":" + k
	e.opNames[key] = l
	return l
}

// FormatProfile renders a profile as a table, largest first, with each
// operation's share and its milliseconds per step. With bytes
// (ProfileBytes), an operation that has modeled traffic also gets its GB per
// step, the bandwidth it achieved (modeled bytes over measured time) and
// that bandwidth's share of the H200's 4.8 TB/s (HBMBytesPerSecond): the
// kernels far below it are the ones to rewrite.
func FormatProfile(ms, bytes map[string]float64, steps int) string {
	type row struct {
		k string
		v float64
	}
	var rows []row
	var total, totalB, totalMS float64
	for k, v := range ms {
		rows = append(rows, row{k, v})
		total += v
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].v > rows[j].v })
	n := float64(max(steps, 1))
	var sb strings.Builder
	if bytes == nil {
		fmt.Fprintf(&sb, "%-32s %10s %6s\n", "operation", "ms/step", "share")
	} else {
		fmt.Fprintf(&sb, "%-32s %10s %6s %9s %9s %7s\n", "operation", "ms/step", "share", "GB/step", "GB/s", "of 4.8T")
	}
	for _, r := range rows {
		fmt.Fprintf(&sb, "%-32s %10.2f %5.1f%%", r.k, r.v/n, 100*r.v/total)
		if b, ok := bytes[r.k]; ok && r.v > 0 {
			bw := b / (r.v / 1e3) // bytes per second
			fmt.Fprintf(&sb, " %9.3f %9.0f %6.1f%%", b/n/1e9, bw/1e9, 100*bw/HBMBytesPerSecond)
			totalB += b
			totalMS += r.v
		} else if bytes != nil {
			fmt.Fprintf(&sb, " %9s %9s %7s", "-", "-", "-")
		}
		sb.WriteByte('\n')
	}
	fmt.Fprintf(&sb, "%-32s %10.2f", "total", total/n)
	if totalMS > 0 {
		bw := totalB / (totalMS / 1e3)
		fmt.Fprintf(&sb, "        %9.3f %9.0f %6.1f%%  (modeled operations: %.2f ms/step, %.2f at 4.8 TB/s)",
			totalB/n/1e9, bw/1e9, 100*bw/HBMBytesPerSecond, totalMS/n, totalB/n/HBMBytesPerSecond*1e3)
	}
	sb.WriteByte('\n')
	return sb.String()
}
