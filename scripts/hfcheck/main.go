// Command hfcheck writes checkpoints and our own outputs for them, so that a
// machine with PyTorch and transformers can check that Olmo2ForCausalLM loads our
// files unchanged and computes our logits (scripts/hf_check.py reads them).
// Each checkpoint carries the tokenizer files a run's checkpoint carries (world
// for the world vocabulary, dolma2 for dolma2's), for AutoTokenizer and generate.
//
//	go run ./scripts/hfcheck OUTDIR
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/olmolab/olmolab/lab/data"
	"github.com/olmolab/olmolab/model"
	"github.com/olmolab/olmolab/model/safetensors"
)

type variant struct {
	name  string
	cfg   model.Config
	dtype safetensors.DType
	steps int // training steps before saving, so weights are not just the init
	B, T  int // shape of the checked batch
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: hfcheck OUTDIR")
		os.Exit(2)
	}
	out := os.Args[1]
	cpuS, _ := model.PresetByName("cpu_s")
	gqa := cpuS
	gqa.NumAttentionHeads, gqa.NumKeyValueHeads, gqa.HeadDim, gqa.NumHiddenLayers = 8, 2, 24, 2 // head_dim ≠ d/heads
	tied := cpuS
	tied.TieWordEmbeddings, tied.NumHiddenLayers = true, 2
	mini, _ := model.PresetByName("olmo2_1M") // dolma2 vocab, explicit head_dim 4 with d 12
	for _, v := range []variant{
		{"cpu_s-f32", cpuS, "F32", 40, 2, 64},
		{"cpu_s-bf16", cpuS, "BF16", 40, 2, 64},
		{"gqa-headdim", gqa, "F32", 20, 2, 64},
		{"tied", tied, "F32", 20, 2, 64},
		{"olmo2_1M", mini, "F32", 5, 1, 16}, // dolma2 vocab: keep the logits small
	} {
		if err := write(filepath.Join(out, v.name), v); err != nil {
			fmt.Fprintln(os.Stderr, "hfcheck:", err)
			os.Exit(1)
		}
	}
}

func write(dir string, v variant) error {
	B, T := v.B, v.T
	tr := model.NewTrainer(model.TrainerParams{Config: v.cfg, Batch: B, Seq: T, Seed: 11})
	defer tr.Close()
	stream := model.NewSyntheticStream(v.cfg.VocabSize, 11)
	ids, labels := make([]int32, B*T), make([]int32, B*T)
	for i := 0; i < v.steps; i++ {
		stream.Fill(ids, labels, T)
		tr.Step(ids, labels, 3e-3)
	}
	e := tr.B.(*model.CPUBackend).E
	if err := model.SaveHF(dir, v.cfg, e.Params, v.dtype, 0); err != nil {
		return err
	}
	tokName := data.World
	if v.cfg.VocabSize != model.WorldVocab {
		tokName = data.Dolma2
	}
	tok, err := data.NewTokenizer(tokName)
	if err != nil {
		return err
	}
	files, err := data.HFTokenizerFiles(tok, v.cfg.MaxPositionEmbeddings)
	if err != nil {
		return err
	}
	for _, f := range files {
		if err := model.WriteFileAtomic(filepath.Join(dir, f.Name), f.Data); err != nil {
			return err
		}
	}
	// Our outputs are computed from the weights as saved (bf16-rounded for BF16),
	// so the comparison measures the engines, not the storage precision.
	_, params, err := model.LoadHF[float32](dir)
	if err != nil {
		return err
	}
	copy(e.Params, params)
	stream.Fill(ids, labels, T)
	e.Forward(ids)
	logits := make([]float32, B*T*v.cfg.VocabSize)
	e.Logits(logits)
	n := model.CountLabelled(labels)
	e.ZeroGrads()
	l := e.ForwardBackward(ids, labels, 1/float64(n), 0)
	i64 := func(x []int32) []int64 {
		o := make([]int64, len(x))
		for i, v := range x {
			o[i] = int64(v)
		}
		return o
	}
	return safetensors.Write(filepath.Join(dir, "expected.safetensors"), map[string]string{"labels": "pre-shifted"}, []safetensors.Tensor{
		safetensors.FromInt64("input_ids", "I64", []int{B, T}, i64(ids)),
		safetensors.FromInt64("labels", "I64", []int{B, T}, i64(labels)),
		safetensors.FromFloat32("logits", "F32", []int{B, T, v.cfg.VocabSize}, logits),
		safetensors.FromFloat64("loss", "F64", []int{}, []float64{l.CESum / float64(n)}),
	})
}
