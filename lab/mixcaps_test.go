package lab

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeU16 writes n uint16 ids (10, 11, …, world's vocabulary) as a token file.
func writeU16(t *testing.T, path string, n int) string {
	t.Helper()
	b := make([]byte, 0, 2*n)
	for i := range n {
		b = append(b, byte(10+i%200), 0)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestRepetitionFactorChecked: olmo-cookbook's repetition_factor and
// max_source_ratio refuse a new run whose plan draws more from a source than
// size × max_source_ratio × repetition_factor, as OLMo-core's source mixture
// does at the start: exit 2 (InputError), naming the source, the tokens it
// needs and has and what to change, and no run directory made. They were
// ignored with a warning, and the run trained on.
func TestRepetitionFactorChecked(t *testing.T) {
	root := t.TempDir()
	web := writeU16(t, filepath.Join(root, "web.npy"), 2048) // 64 sequences of 32
	small := writeU16(t, filepath.Join(root, "small.npy"), 256)
	docs := filepath.Join(root, "docs.jsonl")
	os.WriteFile(docs, []byte(strings.Repeat(`{"text": "the cat sat on the mat"}`+"\n", 4)), 0o644)
	webSet := `dataset.sources.0.paths=["` + web + `"]`
	for _, tc := range []struct {
		name string
		sets []string
		want []string // in the error; none: the run starts
	}{
		// 0.7 of max_tokens 5120 is 3584 tokens, 1.75 passes over web's 2048
		{"no caps", []string{webSet}, nil},
		{"repetition_factor 1", []string{webSet, "dataset.sources.0.repetition_factor=1"},
			[]string{`dataset.sources[0]: the run plans to draw 3584 tokens from source "web" (0.7 of 5120 tokens on dataset.sources), which holds 2048 (one pass); repetition_factor 1 allows 2048`,
				"HINT: set dataset.sources[0].repetition_factor to 1.75 or more"}},
		{"repetition_factor 2", []string{webSet, "dataset.sources.0.repetition_factor=2"}, nil},
		{"max_source_ratio 0.5", []string{webSet, "dataset.sources.0.repetition_factor=2", "dataset.sources.0.max_source_ratio=0.5"},
			[]string{"repetition_factor 2 × max_source_ratio 0.5 allows 2048", "repetition_factor to 3.5 or more"}},
		{"max_source_ratio alone", []string{webSet, "dataset.sources.0.max_source_ratio=0.5"},
			[]string{"repetition_factor 1 (the default: no repetition) × max_source_ratio 0.5 allows 1024", "repetition_factor to 3.5 or more"}},
		// one pass holds enough: the fraction is what to raise
		{"max_source_ratio of enough", []string{`dataset.sources.0.paths=["` + web + `"]`, "dataset.sources.0.max_source_ratio=0.5", "max_tokens=2560"},
			[]string{"the run plans to draw 1792 tokens", "allows 1024", "HINT: set dataset.sources[0].max_source_ratio to 0.875 or more"}},
		// the dataset to auto_at (2560), then 2560 of the anneal's mix
		{"anneal mix", []string{`anneal={auto_at: 2560, tokens: 2560, mix: [{name: small, target_ratio: 1, repetition_factor: 1, paths: ["` + small + `"]}]}`},
			[]string{`anneal.mix[0]: the run plans to draw 2560 tokens from source "small" (1 of 2560 tokens on anneal.mix), which holds 256`}},
		// a scheduled switch trains its mix from its at_tokens to the end of stage 1
		{"mix_schedule", []string{`mixes={later: [{name: small, target_ratio: 1, repetition_factor: 1, paths: ["` + small + `"]}]}`, "mix_schedule=[{at_tokens: 2560, mix: later}]"},
			[]string{`mixes.later[0]: the run plans to draw 2560 tokens from source "small" (1 of 2560 tokens on mix_schedule[0] (mixes.later)), which holds 256`}},
		// a source in two stretches: its shares add up
		{"two stretches", []string{webSet, "dataset.sources.0.repetition_factor=2", `mixes={later: [{name: web, target_ratio: 1, paths: ["` + web + `"]}]}`, "mix_schedule=[{at_tokens: 2560, mix: later}]"},
			[]string{`the run plans to draw 4352 tokens from source "web" (0.7 of 2560 tokens on dataset.sources + 1 of 2560 tokens on mix_schedule[0] (mixes.later)), which holds 2048 (one pass); repetition_factor 2 allows 4096`}},
		// a soup's ingredients read the soup's mix afresh each
		{"soup mix", []string{`soup={ingredients: 2, tokens: 512, mix: [{name: small, target_ratio: 1, repetition_factor: 1.5, paths: ["` + small + `"]}]}`},
			[]string{`soup.mix[0]: each soup ingredient plans to draw 512 tokens from source "small"`, "repetition_factor 1.5 allows 384", "repetition_factor to 2 or more"}},
		// documents are counted by tokenizing them, where capped
		{"documents", []string{`dataset.sources.0.paths=["` + docs + `"]`, "dataset.sources.0.repetition_factor=3"},
			[]string{`dataset.sources[0]: the run plans to draw 3584 tokens from source "web"`, "which holds 40 (one pass); repetition_factor 3 allows 120"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := parseTiny(t, tc.sets...)
			name := strings.ReplaceAll(tc.name, " ", "-")
			r, err := StartRun(context.Background(), RunParams{Recipe: rec, RunsDir: root, Name: name, PeakFLOPS: 1e11})
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				r.Do(Action{Kind: ActStop})
				r.Wait()
				return
			}
			if err == nil {
				r.Do(Action{Kind: ActStop})
				r.Wait()
				t.Fatalf("the run started; want it refused with %q", tc.want)
			}
			var ie *InputError
			if !errors.As(err, &ie) {
				t.Errorf("not an input error (exit 2): %T", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if _, err := os.Stat(filepath.Join(root, name)); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("the refused run left a directory (%v)", err)
			}
		})
	}
}

// TestRepetitionFactorKeys: the keys' values are checked as OLMo-core
// checks them, and are ignored with a warning where they cannot apply.
func TestRepetitionFactorKeys(t *testing.T) {
	for _, tc := range []struct {
		set, want string
	}{
		{"dataset.sources.0.repetition_factor=0.5", "dataset.sources[0].repetition_factor: want a number of at least 1"},
		{"dataset.sources.0.max_source_ratio=1.5", "dataset.sources[0].max_source_ratio: want a fraction in (0, 1]"},
		{"dataset.sources.0.max_source_ratio=0", "dataset.sources[0].max_source_ratio: want a fraction in (0, 1]"},
	} {
		if _, err := ParseRecipe("tiny.yaml", []byte(tinyRecipe), []string{tc.set}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("--set %s: %v; want %q", tc.set, err, tc.want)
		}
	}
	r := parseTiny(t, "dataset.sources.0.repetition_factor=2")
	if w := strings.Join(r.Warnings, "\n"); !strings.Contains(w, "dataset.sources[0]: repetition_factor and max_source_ratio have no effect on a built-in source") {
		t.Errorf("warnings: %s", w)
	}
	if r.Dataset[0].RepetitionFactor != 2 {
		t.Errorf("repetition_factor %v, want 2 kept", r.Dataset[0].RepetitionFactor)
	}
}

// TestPerSourceDTypeRecipe: a source's dtype reads its files, dataset.dtype
// (or the tokenizer's default) the others', so a run mixes uint16 and uint32
// token files; dataset.dtype was one setting for the whole recipe, and a
// uint32 file beside uint16 ones was refused. A name read with two dtypes in
// two mixes is refused.
func TestPerSourceDTypeRecipe(t *testing.T) {
	root := t.TempDir()
	narrow := writeU16(t, filepath.Join(root, "narrow.npy"), 1024)
	b := make([]byte, 0, 4*1024)
	for i := range 1024 {
		b = append(b, byte(10+i%200), 0, 0, 0)
	}
	wide := filepath.Join(root, "wide.npy")
	os.WriteFile(wide, b, 0o644)
	rec := parseTiny(t, `dataset.sources=[{name: narrow, target_ratio: 0.5, paths: ["`+narrow+`"]}, {name: wide, target_ratio: 0.5, dtype: uint32, paths: ["`+wide+`"]}]`)
	s, err := runToEnd(t, RunParams{Recipe: rec, RunsDir: root, Name: "mixed"})
	if err != nil {
		t.Fatal(err)
	}
	if s.Sources["narrow"] != 2560 || s.Sources["wide"] != 2560 {
		t.Errorf("tokens by source %v; want 2560 each", s.Sources)
	}
	_, err = ParseRecipe("tiny.yaml", []byte(tinyRecipe), []string{
		`dataset.sources=[{name: wide, target_ratio: 1, dtype: uint32, paths: ["` + wide + `"]}]`,
		`mixes={other: [{name: wide, target_ratio: 1, paths: ["` + wide + `"]}]}`})
	if err == nil || !strings.Contains(err.Error(), `mixes.other[0].dtype: source "wide" reads its files as the tokenizer's default here but as uint32 in dataset.sources[0]`) {
		t.Errorf("a name with two dtypes: %v", err)
	}
}
