package lab

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoaderErrorNamesField: a source whose files do not load is named by
// the recipe entry it came from (dataset.sources[1], anneal.mix[0],
// mixes.later[1]), or on a resume by the checkpoint's mix entry; the error
// said "dataset:" for every source of the dataset and the mix's name
// without the entry for the later ones.
func TestLoaderErrorNamesField(t *testing.T) {
	root := t.TempDir()
	web := writeU16(t, filepath.Join(root, "web.npy"), 2048)
	missing := filepath.Join(root, "gone.npy")
	for _, tc := range []struct {
		name string
		sets []string
		want string
	}{
		{"dataset", []string{`dataset.sources.1.paths=["` + missing + `"]`}, `tiny.yaml: dataset.sources[1]: source "qa": `},
		{"two at once", []string{`dataset.sources.paths=[["` + missing + `"], ["` + missing + `x"]]`}, `tiny.yaml: dataset.sources: source "web": `},
		{"anneal mix", []string{`anneal={auto_at: 2560, tokens: 2560, mix: [{name: web, target_ratio: 1, paths: ["builtin:web_clean"]}, {name: more, target_ratio: 1, paths: ["` + missing + `"]}]}`},
			`tiny.yaml: anneal.mix[1]: source "more": `},
		{"named mix", []string{`mixes={later: [{name: qa, target_ratio: 1, paths: ["builtin:qa"]}, {name: more, target_ratio: 1, paths: ["` + missing + `"]}]}`},
			`tiny.yaml: mixes.later[1]: source "more": `},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := StartRun(context.Background(), RunParams{Recipe: parseTiny(t, tc.sets...), RunsDir: root, Name: "x", PeakFLOPS: 1e11})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v; want it to contain %q", err, tc.want)
			}
		})
	}
	t.Run("resume", func(t *testing.T) {
		rec := parseTiny(t, `dataset.sources.0.paths=["`+web+`"]`, "max_tokens=2560")
		if _, err := runToEnd(t, RunParams{Recipe: rec, RunsDir: root, Name: "r"}); err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(root, "r")
		os.Remove(filepath.Join(dir, SummaryFile)) // as if stopped at its last checkpoint
		os.Remove(web)
		_, err := StartRun(context.Background(), RunParams{ResumeDir: dir, PeakFLOPS: 1e11})
		want := filepath.Join(dir, "checkpoints", "step-10", StateFile) + `: mix[0] (the checkpoint's mix): source "web": `
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v; want it to contain %q", err, want)
		}
	})
}
