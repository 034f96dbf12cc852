package model

import "fmt"

// Tensor is one named parameter inside the flat buffer: elements
// [Offset, Offset+Numel) in HF's row-major layout.
type Tensor struct {
	Name   string
	Shape  []int
	Offset int
	Kind   Kind // AdamW decays by it (AdamW.Decays; olmo2.md §6: everything but the embedding)
}

// Numel is the number of elements.
func (t Tensor) Numel() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// Kind classifies a parameter for initialisation and reporting.
type Kind int

const (
	KindEmbedding Kind = iota
	KindLinear
	KindNorm
)

func (k Kind) String() string {
	switch k {
	case KindEmbedding:
		return "embedding"
	case KindLinear:
		return "linear"
	case KindNorm:
		return "norm"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// LayerOffsets holds the offsets of one decoder layer's tensors.
type LayerOffsets struct {
	Q, K, V, O     int // q_proj (QC,C), k_proj (KC,C), v_proj (KC,C), o_proj (C,QC)
	QNorm, KNorm   int // (QC), (KC)
	PostAttnNorm   int // (C)
	Gate, Up, Down int // (I,C), (I,C), (C,I)
	PostFFNNorm    int // (C)
}

// Layout places every parameter of a Config in one flat buffer, in HF's order
// (olmo2.md §3). Params, gradients and both AdamW moments share it.
type Layout struct {
	Config  Config
	Tensors []Tensor
	Embed   int // model.embed_tokens.weight (V,C)
	Layers  []LayerOffsets
	Norm    int // model.norm.weight (C)
	LMHead  int // lm_head.weight (V,C); equals Embed when tied
	size    int
}

// NewLayout lays out c's parameters. It does not validate c.
func NewLayout(c Config) *Layout {
	l := &Layout{Config: c}
	C, V, I := c.HiddenSize, c.VocabSize, c.IntermediateSize
	QC, KC := c.QWidth(), c.KVWidth()
	add := func(name string, kind Kind, shape ...int) int {
		t := Tensor{Name: name, Shape: shape, Offset: l.size, Kind: kind}
		l.Tensors = append(l.Tensors, t)
		l.size += t.Numel()
		return t.Offset
	}
	l.Embed = add("model.embed_tokens.weight", KindEmbedding, V, C)
	for i := 0; i < c.NumHiddenLayers; i++ {
		p := fmt.Sprintf("model.layers.%d.", i)
		var o LayerOffsets
		o.Q = add(p+"self_attn.q_proj.weight", KindLinear, QC, C)
		o.K = add(p+"self_attn.k_proj.weight", KindLinear, KC, C)
		o.V = add(p+"self_attn.v_proj.weight", KindLinear, KC, C)
		o.O = add(p+"self_attn.o_proj.weight", KindLinear, C, QC)
		o.QNorm = add(p+"self_attn.q_norm.weight", KindNorm, QC)
		o.KNorm = add(p+"self_attn.k_norm.weight", KindNorm, KC)
		o.PostAttnNorm = add(p+"post_attention_layernorm.weight", KindNorm, C)
		o.Gate = add(p+"mlp.gate_proj.weight", KindLinear, I, C)
		o.Up = add(p+"mlp.up_proj.weight", KindLinear, I, C)
		o.Down = add(p+"mlp.down_proj.weight", KindLinear, C, I)
		o.PostFFNNorm = add(p+"post_feedforward_layernorm.weight", KindNorm, C)
		l.Layers = append(l.Layers, o)
	}
	l.Norm = add("model.norm.weight", KindNorm, C)
	if c.TieWordEmbeddings {
		l.LMHead = l.Embed
	} else {
		l.LMHead = add("lm_head.weight", KindLinear, V, C)
	}
	return l
}

// Size is the number of float32 elements in the flat buffer.
func (l *Layout) Size() int64 { return int64(l.size) }

// Lookup finds a tensor by HF name.
func (l *Layout) Lookup(name string) (Tensor, bool) {
	for _, t := range l.Tensors {
		if t.Name == name {
			return t, true
		}
	}
	return Tensor{}, false
}
