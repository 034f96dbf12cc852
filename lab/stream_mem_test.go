package lab

import (
	"path/filepath"
	"runtime"
	"testing"

	"github.com/olmolab/olmolab/model"
)

// TestStreamBytesCoversStreaming: the memory check's allowance for the
// buffers the model streams through (streamBytes) covers what a save, a
// load and a soup's average allocate, and follows the model's size below
// model.StreamChunk rather than counting 20 MiB for a model of a few
// hundred thousand parameters.
func TestStreamBytesCoversStreaming(t *testing.T) {
	for _, preset := range []string{"cpu_xs", "cpu_s", "olmo2_14M"} {
		cfg := mustPreset(t, preset)
		n := model.NewLayout(cfg).Size()
		b, err := model.NewBackend("cpu", cfg, 1, 16)
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		var ings []string
		for i := range 2 {
			d := filepath.Join(dir, "ing", string(rune('a'+i)))
			if err := model.SaveHFFrom(d, b, model.NewStreamBuf(n), "F32", 0); err != nil {
				t.Fatal(err)
			}
			ings = append(ings, d)
		}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		// what the lab streams: a soup's average written, loaded back, saved as BF16
		soup := filepath.Join(dir, "soup")
		if err := writeSoup(soup, cfg, ings); err != nil {
			t.Fatal(err)
		}
		if err := loadWeights(soup, b); err != nil {
			t.Fatal(err)
		}
		if err := model.SaveHFFrom(filepath.Join(dir, "bf16"), b, model.NewStreamBuf(n), "BF16", 0); err != nil {
			t.Fatal(err)
		}
		runtime.ReadMemStats(&after)
		b.Close()
		alloc := int64(after.TotalAlloc - before.TotalAlloc)
		t.Logf("%s: %d parameters, allocated %.2f MiB, streamBytes %.2f MiB", preset, n, float64(alloc)/(1<<20), float64(streamBytes(cfg))/(1<<20))
		if alloc > streamBytes(cfg) {
			t.Errorf("%s: streaming allocated %d bytes, more than streamBytes %d", preset, alloc, streamBytes(cfg))
		}
		if alloc < streamBytes(cfg)/2 {
			t.Errorf("%s: streaming allocated %d bytes, under half of streamBytes %d: the allowance does not follow the model", preset, alloc, streamBytes(cfg))
		}
	}
}
