package olmes

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoadTaskDumpDirectory: a directory that holds oe-eval request dumps
// deeper (shared/data/olmes/requests/<task>/), or under oe-eval's own names,
// is answered with the dump files it holds, which --tasks takes; before, it
// was an "unknown task" with the task lists as the only hint.
func TestLoadTaskDumpDirectory(t *testing.T) {
	dir := t.TempDir()
	touch := func(rel string) string {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	rc := touch("piqa/rc_5shot/requests.jsonl.gz")
	mc := touch("piqa/mc_5shot/requests.jsonl.gz")
	touch("piqa/rc_5shot/config.json")
	oe := touch("oe/task-000-arc_easy-requests.jsonl")
	touch("oe/task-000-arc_easy-metrics.json")
	touch("deep/a/b/c/d/requests.jsonl.gz") // below the depth looked at
	touch("hidden/.cache/requests.jsonl.gz")
	if err := os.MkdirAll(filepath.Join(dir, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		want []string
	}{
		{"piqa", []string{`unknown task "` + filepath.Join(dir, "piqa") + `": a directory with no requests.jsonl.gz of its own; it holds 2 request dumps: ` + mc + ", " + rc, "--tasks " + mc + ",…"}},
		{"", []string{"it holds 3 request dumps: " + oe + ", " + mc + ", " + rc}},
		{"oe", []string{"it holds one request dump: " + oe}},
		{"empty", []string{"a directory with no request dump in it", "OLMES tasks:"}},
		{"deep", []string{"a directory with no request dump in it"}},
		{"hidden", []string{"a directory with no request dump in it"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := LoadTask(filepath.Join(dir, c.name), RC, LoadOptions{})
			if !IsInputError(err) {
				t.Fatalf("got %v, want an input error", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}
