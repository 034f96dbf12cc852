package lab

import (
	"strings"
	"testing"

	"github.com/olmolab/olmolab/experiments"
)

// FuzzParseRecipe: any bytes, with any --set, either parse into a recipe whose
// numbers the lab can use or give an error that names the file; never a panic.
func FuzzParseRecipe(f *testing.F) {
	f.Add([]byte(tinyRecipe), "seed=3")
	f.Add([]byte(tinyRecipe), "dataset.sources.0.target_ratio=0.5")
	f.Add([]byte("name: x\nmodel: {preset: cpu_xs}\n"), "")
	f.Add([]byte("{"), "x=")
	f.Add([]byte("max_tokens: 1.7M\nschedule: {name: wsd}\n"), "optimizer.lr=[1]")
	for _, r := range experiments.All() {
		f.Add(r.YAML, "max_tokens=1M")
	}
	f.Fuzz(func(t *testing.T, b []byte, set string) {
		var sets []string
		if set != "" {
			sets = []string{set}
		}
		r, err := ParseRecipe("fuzz.yaml", b, sets)
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.yaml") && !strings.Contains(err.Error(), "--set") {
				t.Errorf("error names neither the file nor the --set: %v", err)
			}
			return
		}
		if r.SequenceLength <= 0 || r.GlobalBatchSize <= 0 || r.MaxTokens <= 0 {
			t.Errorf("parsed recipe with unusable sizes: seq %d, batch %d, tokens %d", r.SequenceLength, r.GlobalBatchSize, r.MaxTokens)
		}
	})
}
