package model

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"sort"
	"strings"
)

// Config mirrors Hugging Face's Olmo2Config: the fields of config.json that define
// an Olmo2ForCausalLM (olmo2.md §3). The zero value is not usable; start from a
// preset or read a config.json.
type Config struct {
	VocabSize             int     // V, the embedding rows (dolma2: 100352, padded)
	HiddenSize            int     // C
	IntermediateSize      int     // I
	NumHiddenLayers       int     // L
	NumAttentionHeads     int     // NH
	NumKeyValueHeads      int     // NKV; NH % NKV == 0
	HeadDim               int     // HS; 0 means HiddenSize / NumAttentionHeads
	MaxPositionEmbeddings int     // context length the checkpoint declares
	RopeTheta             float64 // 500000 for OLMo 2
	RMSNormEps            float64 // 1e-6 for OLMo 2
	TieWordEmbeddings     bool    // false for OLMo 2
	InitializerRange      float64 // 0.02
	PadTokenID            *int
	EOSTokenID            *int
	BOSTokenID            *int
	TorchDType            string // "float32", "bfloat16", …; informational
}

// HeadSize returns HS, the per-head width.
func (c Config) HeadSize() int {
	if c.HeadDim > 0 {
		return c.HeadDim
	}
	if c.NumAttentionHeads == 0 {
		return 0
	}
	return c.HiddenSize / c.NumAttentionHeads
}

// QWidth is NH·HS, the width of q_proj's output (and of q_norm's weight).
func (c Config) QWidth() int { return c.NumAttentionHeads * c.HeadSize() }

// KVWidth is NKV·HS, the width of k_proj's and v_proj's outputs.
func (c Config) KVWidth() int { return c.NumKeyValueHeads * c.HeadSize() }

// MaxParams is the most parameters a valid Config may have: 16 bytes of
// float32 training state per parameter (parameters, gradients, both AdamW
// moments) must fit in an int64. It is an arithmetic limit, not a practical
// one: memory checks (EstimateCPUMemory, a GPU's own) refuse far smaller
// models; this one keeps the sizes those checks compute from overflowing.
const MaxParams = math.MaxInt64 / 16

// paramsF is NumParams in float64, which cannot overflow: Validate checks it
// before any size is computed in int.
func (c Config) paramsF() float64 {
	C, I, V, L := float64(c.HiddenSize), float64(c.IntermediateSize), float64(c.VocabSize), float64(c.NumHiddenLayers)
	HS := float64(c.HeadDim)
	if c.HeadDim == 0 && c.NumAttentionHeads > 0 {
		HS = float64(c.HiddenSize / c.NumAttentionHeads)
	}
	QC, KC := float64(c.NumAttentionHeads)*HS, float64(c.NumKeyValueHeads)*HS
	n := L*(2*QC*C+2*KC*C+3*I*C+QC+KC+2*C) + C + V*C
	if !c.TieWordEmbeddings {
		n += V * C
	}
	return n
}

// Validate reports the first impossible value, naming the HF field.
func (c Config) Validate() error {
	pos := []struct {
		name string
		v    int
	}{
		{"vocab_size", c.VocabSize}, {"hidden_size", c.HiddenSize}, {"intermediate_size", c.IntermediateSize},
		{"num_hidden_layers", c.NumHiddenLayers}, {"num_attention_heads", c.NumAttentionHeads},
		{"num_key_value_heads", c.NumKeyValueHeads},
	}
	for _, p := range pos {
		if p.v <= 0 {
			return fmt.Errorf("%s must be positive, got %d", p.name, p.v)
		}
	}
	if c.NumAttentionHeads%c.NumKeyValueHeads != 0 {
		return fmt.Errorf("num_attention_heads (%d) must be a multiple of num_key_value_heads (%d)", c.NumAttentionHeads, c.NumKeyValueHeads)
	}
	if c.HeadDim < 0 {
		return fmt.Errorf("head_dim must be positive, got %d", c.HeadDim)
	}
	if c.HeadDim == 0 && c.HiddenSize%c.NumAttentionHeads != 0 {
		return fmt.Errorf("hidden_size (%d) is not divisible by num_attention_heads (%d); set head_dim", c.HiddenSize, c.NumAttentionHeads)
	}
	if c.HeadSize()%2 != 0 {
		return fmt.Errorf("head size %d must be even for RoPE", c.HeadSize())
	}
	if n := c.paramsF(); n > MaxParams {
		return fmt.Errorf("vocab_size %d, hidden_size %d, intermediate_size %d, num_hidden_layers %d and head size %d make %.3g parameters, more than the %.3g whose float32 training state (parameters, gradients, two AdamW moments: 16 bytes each) can be sized at all",
			c.VocabSize, c.HiddenSize, c.IntermediateSize, c.NumHiddenLayers, c.HeadSize(), n, float64(MaxParams))
	}
	if !(c.RopeTheta > 0) {
		return fmt.Errorf("rope_theta must be positive, got %v", c.RopeTheta)
	}
	if !(c.RMSNormEps > 0) {
		return fmt.Errorf("rms_norm_eps must be positive, got %v", c.RMSNormEps)
	}
	for _, id := range []struct {
		name string
		v    *int
	}{{"pad_token_id", c.PadTokenID}, {"eos_token_id", c.EOSTokenID}, {"bos_token_id", c.BOSTokenID}} {
		if id.v != nil && (*id.v < 0 || *id.v >= c.VocabSize) {
			return fmt.Errorf("%s %d is outside the vocabulary [0, %d)", id.name, *id.v, c.VocabSize)
		}
	}
	return nil
}

// hfConfig is config.json as HF writes it for Olmo2ForCausalLM.
type hfConfig struct {
	Architectures         []string        `json:"architectures"`
	ModelType             string          `json:"model_type"`
	VocabSize             int             `json:"vocab_size"`
	HiddenSize            int             `json:"hidden_size"`
	IntermediateSize      int             `json:"intermediate_size"`
	NumHiddenLayers       int             `json:"num_hidden_layers"`
	NumAttentionHeads     int             `json:"num_attention_heads"`
	NumKeyValueHeads      *int            `json:"num_key_value_heads"`
	HeadDim               *int            `json:"head_dim,omitempty"`
	HiddenAct             string          `json:"hidden_act"`
	MaxPositionEmbeddings int             `json:"max_position_embeddings"`
	InitializerRange      float64         `json:"initializer_range"`
	RMSNormEps            float64         `json:"rms_norm_eps"`
	UseCache              bool            `json:"use_cache"`
	PadTokenID            *int            `json:"pad_token_id"`
	BOSTokenID            *int            `json:"bos_token_id"`
	EOSTokenID            *int            `json:"eos_token_id"`
	TieWordEmbeddings     bool            `json:"tie_word_embeddings"`
	RopeTheta             *float64        `json:"rope_theta,omitempty"`
	RopeScaling           json.RawMessage `json:"rope_scaling"`
	RopeParameters        *struct {
		RopeType  string   `json:"rope_type"`
		RopeTheta *float64 `json:"rope_theta"`
	} `json:"rope_parameters,omitempty"`
	AttentionBias    bool    `json:"attention_bias"`
	AttentionDropout float64 `json:"attention_dropout"`
	TorchDType       string  `json:"torch_dtype,omitempty"`
}

// ParseConfigJSON reads an HF config.json. name is used in error messages (the
// file path). Unknown fields are ignored, as HF does; wrong types and impossible
// values are errors naming the field.
func ParseConfigJSON(name string, b []byte) (Config, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return Config{}, fmt.Errorf("%s: %s", name, describeJSONError(b, err))
	}
	var h hfConfig
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&h); err != nil {
		return Config{}, fmt.Errorf("%s: %s", name, describeJSONError(b, err))
	}
	if h.ModelType != "" && h.ModelType != "olmo2" {
		return Config{}, fmt.Errorf("%s: field model_type: %q is not an OLMo 2 model (want \"olmo2\")", name, h.ModelType)
	}
	for _, req := range []string{"vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads"} {
		if _, ok := raw[req]; !ok {
			return Config{}, fmt.Errorf("%s: field %s is missing", name, req)
		}
	}
	if h.HiddenAct != "" && h.HiddenAct != "silu" {
		return Config{}, fmt.Errorf("%s: field hidden_act: %q is not supported (OLMo 2 uses \"silu\")", name, h.HiddenAct)
	}
	if h.AttentionBias {
		return Config{}, fmt.Errorf("%s: field attention_bias: true is not supported (OLMo 2 has no biases)", name)
	}
	if len(h.RopeScaling) > 0 && string(h.RopeScaling) != "null" {
		return Config{}, fmt.Errorf("%s: field rope_scaling: scaled RoPE is not supported (OLMo 2 uses none)", name)
	}
	c := Config{
		VocabSize:             h.VocabSize,
		HiddenSize:            h.HiddenSize,
		IntermediateSize:      h.IntermediateSize,
		NumHiddenLayers:       h.NumHiddenLayers,
		NumAttentionHeads:     h.NumAttentionHeads,
		NumKeyValueHeads:      h.NumAttentionHeads,
		MaxPositionEmbeddings: h.MaxPositionEmbeddings,
		RMSNormEps:            h.RMSNormEps,
		TieWordEmbeddings:     h.TieWordEmbeddings,
		InitializerRange:      h.InitializerRange,
		PadTokenID:            h.PadTokenID,
		EOSTokenID:            h.EOSTokenID,
		BOSTokenID:            h.BOSTokenID,
		TorchDType:            h.TorchDType,
		RopeTheta:             10000, // HF's default when the file names none
	}
	if h.NumKeyValueHeads != nil {
		c.NumKeyValueHeads = *h.NumKeyValueHeads
	}
	if h.HeadDim != nil {
		c.HeadDim = *h.HeadDim
	}
	if h.RopeTheta != nil {
		c.RopeTheta = *h.RopeTheta
	} else if h.RopeParameters != nil && h.RopeParameters.RopeTheta != nil {
		if h.RopeParameters.RopeType != "" && h.RopeParameters.RopeType != "default" {
			return Config{}, fmt.Errorf("%s: field rope_parameters.rope_type: %q is not supported (OLMo 2 uses \"default\")", name, h.RopeParameters.RopeType)
		}
		c.RopeTheta = *h.RopeParameters.RopeTheta
	}
	if _, ok := raw["rms_norm_eps"]; !ok {
		c.RMSNormEps = 1e-5 // HF's default
	}
	if _, ok := raw["max_position_embeddings"]; !ok {
		c.MaxPositionEmbeddings = 2048
	}
	if c.InitializerRange == 0 {
		c.InitializerRange = 0.02
	}
	if err := c.Validate(); err != nil {
		return Config{}, fmt.Errorf("%s: %w", name, err)
	}
	return c, nil
}

// describeJSONError turns encoding/json's errors into "line L, column C: field F: …".
func describeJSONError(b []byte, err error) string {
	switch e := err.(type) {
	case *json.UnmarshalTypeError:
		line, col := lineCol(b, e.Offset)
		return fmt.Sprintf("line %d, column %d: field %s: got JSON %s, want %s", line, col, e.Field, e.Value, jsonKind(e.Type.String()))
	case *json.SyntaxError:
		line, col := lineCol(b, e.Offset)
		return fmt.Sprintf("line %d, column %d: invalid JSON: %v", line, col, e)
	}
	return err.Error()
}

func lineCol(b []byte, off int64) (int, int) {
	l, c := 1, 1
	for i := int64(0); i < off && i < int64(len(b)); i++ {
		if b[i] == '\n' {
			l, c = l+1, 1
		} else {
			c++
		}
	}
	return l, c
}

func jsonKind(goType string) string {
	switch {
	case strings.HasPrefix(goType, "int"), goType == "*int":
		return "an integer"
	case strings.HasPrefix(goType, "float"), goType == "*float64":
		return "a number"
	case goType == "bool":
		return "true or false"
	case goType == "string":
		return "a string"
	case strings.HasPrefix(goType, "[]"):
		return "a list"
	}
	return goType
}

// ReadConfigFile reads dir/config.json or a config.json path.
func ReadConfigFile(path string) (Config, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = path + "/config.json"
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, err
	}
	return ParseConfigJSON(path, b)
}

// MarshalConfigJSON renders c as HF's config.json for Olmo2ForCausalLM, with keys
// sorted as HF's to_json_string does. dtype names the stored weights' dtype.
func MarshalConfigJSON(c Config, dtype string) ([]byte, error) {
	theta := c.RopeTheta
	kv := c.NumKeyValueHeads
	m := map[string]any{
		"architectures":           []string{"Olmo2ForCausalLM"},
		"model_type":              "olmo2",
		"vocab_size":              c.VocabSize,
		"hidden_size":             c.HiddenSize,
		"intermediate_size":       c.IntermediateSize,
		"num_hidden_layers":       c.NumHiddenLayers,
		"num_attention_heads":     c.NumAttentionHeads,
		"num_key_value_heads":     kv,
		"hidden_act":              "silu",
		"max_position_embeddings": c.MaxPositionEmbeddings,
		"initializer_range":       c.InitializerRange,
		"rms_norm_eps":            c.RMSNormEps,
		"use_cache":               true,
		"pad_token_id":            c.PadTokenID,
		"bos_token_id":            c.BOSTokenID,
		"eos_token_id":            c.EOSTokenID,
		"tie_word_embeddings":     c.TieWordEmbeddings,
		"rope_theta":              theta,
		"rope_scaling":            nil,
		"attention_bias":          false,
		"attention_dropout":       0.0,
		"torch_dtype":             dtype,
	}
	// head_dim is implied only where hidden_size divides evenly (17/4 is not 4)
	if c.HeadDim > 0 && (c.HeadDim != c.HiddenSize/c.NumAttentionHeads || c.HiddenSize%c.NumAttentionHeads != 0) {
		m["head_dim"] = c.HeadDim
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var buf bytes.Buffer
	buf.WriteString("{\n")
	for i, k := range keys {
		v, err := json.Marshal(m[k])
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(&buf, "  %q: %s", k, v)
		if i < len(keys)-1 {
			buf.WriteString(",")
		}
		buf.WriteString("\n")
	}
	buf.WriteString("}\n")
	return buf.Bytes(), nil
}

// ShapeDiffs lists where c and o describe different models, as "field c's
// value (the <other>'s o's)": the sizes that shape the tensors (caseConfigKeys),
// the head size and tied embeddings. Configs with none hold each other's weights
// as the same model; a head count that differs while every tensor's shape
// agrees splits attention otherwise, which no shape check sees.
func (c Config) ShapeDiffs(o Config, other string) []string {
	var out []string
	for _, k := range caseConfigKeys {
		if a, b := k.get(c), k.get(o); a != b {
			out = append(out, fmt.Sprintf("%s %d (the %s %d)", k.key, a, other, b))
		}
	}
	if a, b := c.HeadSize(), o.HeadSize(); a != b {
		out = append(out, fmt.Sprintf("head_dim %d (the %s %d)", a, other, b))
	}
	if c.TieWordEmbeddings != o.TieWordEmbeddings {
		out = append(out, fmt.Sprintf("tie_word_embeddings %v (the %s %v)", c.TieWordEmbeddings, other, o.TieWordEmbeddings))
	}
	return out
}
