package model

import (
	"fmt"
	"testing"
)

// benchShapes are issue 7's training shapes, the ones ../shared/bench/torch_bench.py
// runs in PyTorch (docs/perf.md §3.3).
var benchShapes = []struct {
	name                         string
	vocab, d, layers, heads, mlp int
	T, B                         int
}{
	{"a", 256, 128, 4, 4, 384, 128, 8},
	{"b", 4096, 256, 6, 8, 768, 256, 8},
	{"c", 8192, 512, 8, 8, 1408, 256, 4},
}

// BenchmarkTrainShapes times one optimizer step (forward, backward, grad norm,
// clip, AdamW) at shapes (a), (b), (c) and at the cpu_s preset with B=8,
// T=128 (BenchmarkTrainStep's); run with -cpu 1,2 for the thread scaling (the
// engine and gemm both use GOMAXPROCS threads). It reports tokens/s, the
// model FLOP rate (OLMo-core's 6·N_non-embedding + 12·L·d·T per token,
// Config.FLOPsPerToken) and the process CPU time per step (cpu-ms/op), which
// a busy machine inflates far less than the wall time.
func BenchmarkTrainShapes(b *testing.B) {
	cpuS, _ := PresetByName("cpu_s")
	shapes := append([]struct {
		name                         string
		vocab, d, layers, heads, mlp int
		T, B                         int
	}{{"cpu_s", cpuS.VocabSize, cpuS.HiddenSize, cpuS.NumHiddenLayers, cpuS.NumAttentionHeads, cpuS.IntermediateSize, 128, 8}}, benchShapes...)
	for _, s := range shapes {
		b.Run(s.name, func(b *testing.B) {
			cfg := Config{VocabSize: s.vocab, HiddenSize: s.d, IntermediateSize: s.mlp, NumHiddenLayers: s.layers,
				NumAttentionHeads: s.heads, NumKeyValueHeads: s.heads, MaxPositionEmbeddings: s.T,
				RopeTheta: 500000, RMSNormEps: 1e-6, InitializerRange: 0.02}
			tr := NewTrainer(TrainerParams{Config: cfg, Batch: s.B, Seq: s.T, Seed: 1})
			defer tr.Close()
			st := NewSyntheticStream(cfg.VocabSize, 1)
			ids, labels := make([]int32, s.B*s.T), make([]int32, s.B*s.T)
			st.Fill(ids, labels, s.T)
			tr.Step(ids, labels, 1e-3)
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := cpuSeconds()
			for i := 0; i < b.N; i++ {
				tr.Step(ids, labels, 1e-3)
			}
			b.ReportMetric((cpuSeconds()-cpu0)*1e3/float64(b.N), "cpu-ms/op")
			tps := float64(s.B*s.T*b.N) / b.Elapsed().Seconds()
			b.ReportMetric(tps, "tokens/s")
			b.ReportMetric(tps*cfg.FLOPsPerToken(s.T)/1e9, "GFLOP/s")
		})
	}
}

func ExampleConfig_FLOPsPerToken() {
	s := benchShapes[2]
	cfg := Config{VocabSize: s.vocab, HiddenSize: s.d, IntermediateSize: s.mlp, NumHiddenLayers: s.layers,
		NumAttentionHeads: s.heads, NumKeyValueHeads: s.heads}
	fmt.Printf("%.2f MFLOP/token\n", cfg.FLOPsPerToken(s.T)/1e6)
	// Output: 191.99 MFLOP/token
}
