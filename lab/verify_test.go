package lab

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/olmolab/olmolab/lab/data"
	"github.com/olmolab/olmolab/model"
)

// testCheckpoint writes a checkpoint of preset into a new run directory and
// returns its directory.
func testCheckpoint(tb testing.TB, preset string) string {
	tb.Helper()
	b := model.NewCPUBackend(mustPreset(tb, preset), 1, 8, 1)
	defer b.Close()
	st := CheckpointState{Step: 4, Tokens: 1024, TotalTokens: 4096, Phase: "stage1", Mix: []data.SourceSpec{{Name: "web", TargetRatio: 1}}}
	dir, err := writeCheckpoint(tb.TempDir(), b, st, "F32", 0, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return dir
}

// A checkpoint's CRC-32C check read one tensor after the other: a 7B
// checkpoint (87 GB) was 20-45 s of one core while the others waited. It
// reads verifyWorkers tensors at once, and its error stays the one a check
// in order finds: the first damaged tensor's, however the workers ran.
func TestVerifyIsParallelAndInOrder(t *testing.T) {
	dir := testCheckpoint(t, "cpu_xs")
	defer func(n int) { verifyWorkers, sumChecking = n, func(string) {} }(verifyWorkers)
	verifyWorkers = 2
	var mu sync.Mutex
	arrived, overlapped := 0, false
	both := make(chan struct{})
	sumChecking = func(string) {
		mu.Lock()
		arrived++
		first := arrived == 1
		if arrived == 2 {
			close(both)
		}
		mu.Unlock()
		if first { // waits for a second tensor begun beside it
			select {
			case <-both:
				overlapped = true
			case <-time.After(5 * time.Second):
			}
		}
	}
	lc, err := loadVerified(dir)
	if err != nil {
		t.Fatalf("intact checkpoint: %v", err)
	}
	lc.Close()
	if !overlapped {
		t.Errorf("with verifyWorkers 2, no second tensor was read while the first was")
	}
	sumChecking = func(string) {}

	flipByte(t, filepath.Join(dir, "model.safetensors"), 7) // lm_head.weight, the last weight
	flipByte(t, filepath.Join(dir, OptimFile), 7)           // adam_v, after it
	want := filepath.Join(dir, "model.safetensors") + `: tensor "lm_head.weight": its data's CRC-32C is`
	for _, n := range []int{1, 2, 8} {
		verifyWorkers = n
		for range 3 {
			if _, err := loadVerified(dir); err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("%d workers: %v, want %q", n, err, want)
			}
		}
	}
}

// BenchmarkVerify measures a checkpoint's CRC-32C check (page cache warm)
// at 1 and 2 workers, alternating: OLMOLAB_VERIFY_PRESET picks the model
// (cpu_xs by default; cpu_l is a 334 MB checkpoint).
func BenchmarkVerify(b *testing.B) {
	preset := os.Getenv("OLMOLAB_VERIFY_PRESET")
	if preset == "" {
		preset = "cpu_xs"
	}
	dir := testCheckpoint(b, preset)
	lc, err := loadCheckpoint(dir)
	if err != nil {
		b.Fatal(err)
	}
	defer lc.Close()
	defer func(n int) { verifyWorkers = n }(verifyWorkers)
	var size int64 // the checkpoint's bytes, for MB/s
	for _, f := range []string{"model.safetensors", OptimFile} {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			b.Fatal(err)
		}
		size += st.Size()
	}
	for _, n := range []int{1, 2, 1, 2} {
		b.Run(fmt.Sprintf("workers=%d", n), func(b *testing.B) {
			b.SetBytes(size)
			verifyWorkers = n
			for b.Loop() {
				if err := lc.verify(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
