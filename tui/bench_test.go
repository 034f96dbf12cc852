package tui

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/olmolab/olmolab/lab"
)

// BenchmarkDashboardFrame is one frame of a live dashboard at 120×40 over
// 1000, 10,000 and 100,000 steps: what the UI costs per chart redraw (at most
// once a second), and how it grows with a long run (bucketing and smoothing
// are linear in the steps).
func BenchmarkDashboardFrame(b *testing.B) {
	for _, n := range []int64{1000, 10_000, 100_000} {
		b.Run(fmt.Sprintf("steps=%d", n), func(b *testing.B) {
			var evs []lab.Event
			for s := int64(1); s <= n; s++ {
				evs = append(evs, stepEvent("quickstart-test", s, "stage1", 3*n*testGB))
			}
			m, _ := liveModel(b, testOptions(b, 120, 40), evs)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				clear(m.plots) // as if a new step had arrived
				m.render()
			}
		})
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

// BenchmarkRefreshRecipe is what the home view's check of the recipe files
// costs when nothing changed (a stat of the directory and one of the file
// under the cursor), made on a key, when the view is shown and every 2 s
// while the home view is (never per frame, never on the dashboard);
// and when a file was created (the directory listed again, the new file
// read and parsed).
func BenchmarkRefreshRecipe(b *testing.B) {
	m := New(testOptions(b, 120, 40))
	for i := range 10 {
		os.WriteFile(fmt.Sprintf("r%d.yaml", i), []byte(strings.Replace(flowRecipe, "name: flow", fmt.Sprintf("name: r%d", i), 1)), 0o644)
	}
	m.refreshRecipe()
	m.homeCursor = len(m.recipes) - 1
	b.Run("unchanged", func(b *testing.B) {
		m.recipeDir.listed = m.recipeDir.mod.Add(time.Hour) // past the 2 s a coarse clock asks
		b.ReportAllocs()
		for b.Loop() {
			m.refreshRecipe()
		}
	})
	b.Run("created", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			b.StopTimer()
			os.Remove("new.yaml")
			m.refreshRecipe()
			os.WriteFile("new.yaml", []byte(flowRecipe), 0o644)
			m.recipeDir.mod = time.Time{}
			b.StartTimer()
			m.refreshRecipe()
		}
	})
}
