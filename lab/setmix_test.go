package lab

import (
	"strings"
	"testing"
)

// A --set (and so a sweep's --vary) of a list's key without an index sets
// that key in every element, one value each in order: a whole mix in one
// value, dataset.sources.target_ratio=[0.2, 0.8]. Before, it was refused
// ("no list element"), and a mix sweep varied one source's ratio while the
// others kept theirs, so the normalised mix was not the one meant.
func TestSetEveryElement(t *testing.T) {
	for _, tc := range []struct {
		set    string
		ratios []float64 // the dataset's target_ratio, in order
		paths  []string  // the first path of each source ("": unchecked)
		err    string
	}{
		{set: "dataset.sources.target_ratio=[0.2, 0.8]", ratios: []float64{0.2, 0.8}},
		{set: "dataset.sources.target_ratio=[1,4]", ratios: []float64{1, 4}},
		{set: `dataset.sources.paths=[["builtin:qa"], ["builtin:web_clean"]]`, ratios: []float64{0.7, 0.3}, paths: []string{"builtin:qa", "builtin:web_clean"}},
		{set: "dataset.sources.0.target_ratio=0.5", ratios: []float64{0.5, 0.3}},
		{set: "dataset.sources.target_ratio=[0.2, 0.3, 0.5]", err: `--set dataset.sources.target_ratio=[0.2, 0.3, 0.5]: "dataset.sources" has 2 elements, and dataset.sources.target_ratio takes one value for each, in order; got 3`},
		{set: "dataset.sources.target_ratio=0.5", err: `"dataset.sources": no list element "target_ratio"; HINT: give an element's index (dataset.sources.0.target_ratio=...) or, for every element at once, one value each in a list (dataset.sources.target_ratio=[...], 2 values)`},
		{set: "dataset.sources.target_ratoi=[0.2, 0.8]", err: `dataset.sources[0].target_ratoi: unknown key (from --set); did you mean "dataset.sources[0].target_ratio"?`},
		{set: "dataset.sources.target_ratio=[0.2, fast]", err: `dataset.sources[1].target_ratio: want a number, got "fast"`},
		{set: "eval.tasks.name=[a, b]", err: `"eval.tasks": element 0 is "x", not a mapping, so it has no "name"`},
	} {
		t.Run(tc.set, func(t *testing.T) {
			r, err := ParseRecipe("tiny.yaml", []byte(tinyRecipe+"eval: {tasks: [x]}\n"), []string{tc.set})
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Dataset) != len(tc.ratios) {
				t.Fatalf("dataset %+v", r.Dataset)
			}
			for i, s := range r.Dataset {
				if s.TargetRatio != tc.ratios[i] || (tc.paths != nil && s.Paths[0] != tc.paths[i]) {
					t.Errorf("source %d: %+v, want ratio %v", i, s, tc.ratios[i])
				}
			}
		})
	}
}

// dataset.sources may name a mix under mixes: instead of listing sources,
// so that a sweep varies whole mixes by name (--vary dataset.sources=a,b).
func TestDatasetNamesAMix(t *testing.T) {
	const mixes = "mixes:\n  heavy: [{name: web, target_ratio: 9, paths: [\"builtin:web_clean\"]}, {name: qa, target_ratio: 1, paths: [\"builtin:qa\"]}]\n"
	for _, tc := range []struct {
		name, yaml string
		sets       []string
		ratios     []float64
		err        string
	}{
		{name: "by --set", yaml: mixes, sets: []string{"dataset.sources=heavy"}, ratios: []float64{9, 1}},
		{name: "in the file", yaml: mixes + "dataset: {sources: heavy}\n", ratios: []float64{9, 1}},
		{name: "a list still", yaml: mixes, ratios: []float64{0.7, 0.3}},
		{name: "no such mix", yaml: mixes, sets: []string{"dataset.sources=curated"},
			err: `dataset.sources: no mix "curated" under mixes: (it has heavy); HINT: dataset.sources is a list of sources, or the name of a mix under mixes:`},
		{name: "ratios of the mix it names", yaml: mixes, sets: []string{"dataset.sources=heavy", "dataset.sources.target_ratio=[1, 3]"},
			err: `"dataset.sources" is the name of the mix "heavy", not a list of sources: it has no "target_ratio"; HINT: set it in that mix (--set mixes.heavy.target_ratio=...)`},
		{name: "ratios set in the mix", yaml: mixes, sets: []string{"dataset.sources=heavy", "mixes.heavy.target_ratio=[1, 3]"}, ratios: []float64{1, 3}},
		{name: "no mixes", sets: []string{"dataset.sources=heavy"}, err: `dataset.sources: no mix "heavy" under mixes: (the recipe names no mixes)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := tinyRecipe
			if strings.Contains(tc.yaml, "dataset:") { // in place of tiny's list of sources
				src = strings.Replace(src, "dataset:\n  sources:\n    - {name: web, target_ratio: 0.7, paths: [\"builtin:web_clean\"]}\n    - {name: qa, target_ratio: 0.3, paths: [\"builtin:qa\"]}\n", "", 1)
			}
			r, err := ParseRecipe("tiny.yaml", []byte(src+tc.yaml), tc.sets)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Dataset) != len(tc.ratios) {
				t.Fatalf("dataset %+v", r.Dataset)
			}
			for i, s := range r.Dataset {
				if s.TargetRatio != tc.ratios[i] {
					t.Errorf("source %d: %+v, want ratio %v", i, s, tc.ratios[i])
				}
			}
		})
	}
}
