package data

import (
	"os"
	"testing"
	"time"
)

func TestZZMeasure(t *testing.T) {
	glob := os.Getenv("ZZ_GLOB")
	if glob == "" {
		t.Skip()
	}
	rss0 := vmRSS()
	for _, capped := range []bool{false, true} {
		spec := SourceSpec{Name: "d", TargetRatio: 1, Paths: []string{glob}}
		if capped {
			if os.Getenv("ZZ_CAP") == "" {
				continue
			}
			spec.RepetitionFactor = 1
		}
		start := time.Now()
		l, err := NewLoader(LoaderParams{Tokenizer: dolma2(), SeqLen: 128, Sources: []SourceSpec{spec}})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("capped=%v NewLoader %v, RSS %d MiB (start %d MiB)", capped, time.Since(start), vmRSS()>>20, rss0>>20)
		ids := make([]int32, 128*16)
		start = time.Now()
		for range 10 {
			l.Next(ids)
		}
		t.Logf("10 batches %v", time.Since(start))
		st := l.State()
		l.Close()
		start = time.Now()
		l2, _ := NewLoader(LoaderParams{Tokenizer: dolma2(), SeqLen: 128, Sources: []SourceSpec{spec}})
		t1 := time.Since(start)
		l2.Restore(st)
		l2.Next(ids)
		t.Logf("resume: NewLoader %v + restore+first batch %v", t1, time.Since(start)-t1)
		l2.Close()
	}
}
