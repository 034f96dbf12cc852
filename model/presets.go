package model

import (
	"fmt"
	"sort"
	"strings"
)

// Preset is a named model shape. The olmo2_* presets are OLMo-core's
// (olmo2.md §4: d_model, layers, heads, kv heads, MLP hidden, vocab 100352); the
// cpu_* presets are sized for a 2-core CPU and take their vocabulary from the
// run's tokenizer (VocabSize here is the default for the built-in world's BPE).
type Preset struct {
	Name        string
	Description string
	Config      Config
}

const dolma2Vocab = 100352 // 100278 padded to a multiple of 128 (olmo2.md §11)

func olmo2Preset(name string, d, layers, heads, kv, headDim, mlp int, desc string) Preset {
	eos, pad := 100257, 100277
	return Preset{Name: name, Description: desc, Config: Config{
		VocabSize: dolma2Vocab, HiddenSize: d, IntermediateSize: mlp, NumHiddenLayers: layers,
		NumAttentionHeads: heads, NumKeyValueHeads: kv, HeadDim: headDim,
		MaxPositionEmbeddings: 4096, RopeTheta: 500000, RMSNormEps: 1e-6, InitializerRange: 0.02,
		EOSTokenID: &eos, PadTokenID: &pad, TorchDType: "float32",
	}}
}

// WorldVocab is the padded vocabulary of the built-in world's tokenizer that the
// cpu_* presets default to.
const WorldVocab = 2048

func cpuPreset(name string, d, layers, heads, mlp int, desc string) Preset {
	eos, pad := WorldVocab-2, WorldVocab-1
	return Preset{Name: name, Description: desc, Config: Config{
		VocabSize: WorldVocab, HiddenSize: d, IntermediateSize: mlp, NumHiddenLayers: layers,
		NumAttentionHeads: heads, NumKeyValueHeads: heads,
		MaxPositionEmbeddings: 4096, RopeTheta: 500000, RMSNormEps: 1e-6, InitializerRange: 0.02,
		EOSTokenID: &eos, PadTokenID: &pad, TorchDType: "float32",
	}}
}

var presets = []Preset{
	olmo2Preset("olmo2_1M", 12, 4, 4, 4, 4, 256, "OLMo-core's smallest test model"),
	olmo2Preset("olmo2_14M", 128, 4, 8, 8, 0, 512, ""),
	olmo2Preset("olmo2_30M", 256, 4, 8, 8, 0, 768, ""),
	olmo2Preset("olmo2_60M", 384, 8, 8, 8, 0, 1536, ""),
	olmo2Preset("olmo2_100M", 512, 12, 8, 8, 0, 2048, ""),
	olmo2Preset("olmo2_190M", 768, 12, 12, 12, 0, 3072, ""),
	olmo2Preset("olmo2_370M", 1024, 16, 16, 16, 0, 4096, ""),
	olmo2Preset("olmo2_600M", 1344, 16, 16, 16, 0, 5376, ""),
	olmo2Preset("olmo2_760M", 1536, 16, 16, 16, 0, 6144, ""),
	olmo2Preset("olmo2_1B", 2048, 18, 16, 16, 0, 8192, "OLMo-core's 18-layer 1B"),
	olmo2Preset("olmo2_1B_v2", 2048, 16, 16, 16, 0, 8192, "= OLMo-2-0425-1B"),
	olmo2Preset("olmo2_3B", 3328, 16, 16, 16, 0, 13312, ""),
	olmo2Preset("olmo2_7B", 4096, 32, 32, 32, 0, 11008, "= OLMo-2-1124-7B"),
	olmo2Preset("olmo2_13B", 5120, 40, 40, 40, 0, 13824, "= OLMo-2-1124-13B"),
	olmo2Preset("olmo2_32B", 5120, 64, 40, 8, 0, 27648, "= OLMo-2-0325-32B (GQA 40/8)"),
	cpuPreset("cpu_xs", 64, 2, 4, 192, "seconds per run; tests and smoke checks"),
	cpuPreset("cpu_s", 128, 4, 4, 384, "the quickstart model (docs/world.md)"),
	cpuPreset("cpu_m", 256, 6, 8, 768, "bench shape (b)"),
	cpuPreset("cpu_l", 512, 8, 8, 1408, "bench shape (c)"),
}

// Presets returns every preset, OLMo-core's first, in size order.
func Presets() []Preset { return append([]Preset(nil), presets...) }

// PresetByName returns the preset's Config.
func PresetByName(name string) (Config, error) {
	for _, p := range presets {
		if p.Name == name {
			return p.Config, nil
		}
	}
	names := make([]string, len(presets))
	for i, p := range presets {
		names[i] = p.Name
	}
	sort.Strings(names)
	return Config{}, fmt.Errorf("unknown model preset %q (known: %s; olmolab presets lists their sizes)", name, strings.Join(names, ", "))
}

// NumParams counts every parameter, embeddings, LM head and norms included
// (OLMo-core's TransformerConfig.num_params): NewLayout(c).Size(), counted
// without building the layout, whose per-layer tables a config.json or recipe
// naming billions of layers would otherwise allocate before any memory check.
// The count is exact for a config that passes Validate.
func (c Config) NumParams() int64 {
	C, I, V, L := int64(c.HiddenSize), int64(c.IntermediateSize), int64(c.VocabSize), int64(c.NumHiddenLayers)
	QC, KC := int64(c.QWidth()), int64(c.KVWidth())
	n := L*(2*QC*C+2*KC*C+3*I*C+QC+KC+2*C) + C + V*C // per layer: q,k,v,o; q_norm, k_norm; gate, up, down; two norms
	if !c.TieWordEmbeddings {
		n += V * C
	}
	return n
}

// NumNonEmbeddingParams excludes the embedding and the LM head matrix (olmo2.md §4's
// "non-emb" column); with tied embeddings only the one shared matrix is excluded.
func (c Config) NumNonEmbeddingParams() int64 {
	n := c.NumParams() - int64(c.VocabSize)*int64(c.HiddenSize)
	if !c.TieWordEmbeddings {
		n -= int64(c.VocabSize) * int64(c.HiddenSize)
	}
	return n
}

// FLOPsPerToken is the training cost of one token as OLMo-core counts it:
// 6·N_non-embedding + 12·layers·d_model·seq (no causal discount; the LM head is
// counted inside N through the non-embedding definition used by OLMo-core, which
// includes the output projection). olmo2.md §4, perf.md §4.
func (c Config) FLOPsPerToken(seq int) float64 {
	n := float64(c.NumNonEmbeddingParams())
	if !c.TieWordEmbeddings {
		n += float64(c.VocabSize) * float64(c.HiddenSize) // lm_head is a matmul per token
	}
	return 6*n + 12*float64(c.NumHiddenLayers)*float64(c.HiddenSize)*float64(seq)
}
