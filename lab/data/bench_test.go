package data

import (
	"os"
	"testing"

	"github.com/olmolab/olmolab/lab/data/world"
)

// benchCorpus is English prose (testdata/english.txt), Go code (this package's tokenizer source) and the built-in
// world's text, so that the figure covers what olmolab tokenizes.
func benchCorpus(b *testing.B) string {
	eng, err := os.ReadFile("testdata/english.txt")
	if err != nil {
		b.Fatal(err)
	}
	code, err := os.ReadFile("tokenizer.go")
	if err != nil {
		b.Fatal(err)
	}
	s := string(eng) + string(code)
	k := world.Default()
	for i := range 20 {
		s += k.Document(world.Source(i%int(world.NumSources)), 0, uint64(i))
	}
	return s
}

// BenchmarkEncode reports tokens/s on one goroutine (run with -cpu 1 for the per-core figure).
func BenchmarkEncode(b *testing.B) {
	text := benchCorpus(b)
	for _, name := range []string{Dolma2, World, Bytes} {
		b.Run(name, func(b *testing.B) {
			tok, _ := NewTokenizer(name)
			ids := tok.Encode(nil, text)
			b.SetBytes(int64(len(text)))
			b.ResetTimer()
			for range b.N {
				ids = tok.Encode(ids[:0], text)
			}
			b.ReportMetric(float64(len(ids))*float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
		})
	}
}

// BenchmarkLoader reports how many tokens/s the loader serves from the built-in world mix (generation and
// tokenization included, on the loader's own goroutines): it must be far above any CPU trainer's tokens/s.
func BenchmarkLoader(b *testing.B) {
	const T, B = 128, 16
	l, err := NewLoader(LoaderParams{Tokenizer: worldTokenizer(), SeqLen: T, Sources: builtinMix(), Prefetch: 16})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	ids := make([]int32, B*T)
	b.ResetTimer()
	for range b.N {
		if err := l.Next(ids); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(B*T)*float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
}
