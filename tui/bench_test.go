package tui

import (
	"testing"

	"github.com/olmolab/olmolab/lab"
)

// BenchmarkDashboardFrame is one frame of a live dashboard at 120×40 over
// 1000 steps: what the UI costs per redraw (at most 10 a second).
func BenchmarkDashboardFrame(b *testing.B) {
	var evs []lab.Event
	for s := int64(1); s <= 1000; s++ {
		evs = append(evs, stepEvent("quickstart-test", s, "stage1", 3000*testGB))
	}
	m, _ := liveModel(b, testOptions(b, 120, 40), evs)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		clear(m.plots) // as if a new step had arrived
		m.render()
	}
}

// BenchmarkDashboardStatusFrame is a frame whose charts come from the cache
// (a new step within plotEvery of the last redraw): the common case.
func BenchmarkDashboardStatusFrame(b *testing.B) {
	var evs []lab.Event
	for s := int64(1); s <= 1000; s++ {
		evs = append(evs, stepEvent("quickstart-test", s, "stage1", 3000*testGB))
	}
	m, _ := liveModel(b, testOptions(b, 120, 40), evs)
	m.render()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m.render()
	}
}
