package olmes

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sharedData is ../shared/data/olmes seen from this package's directory: real OLMES data (HF Arrow files and
// oe-eval request dumps, from allenai/OLMo-in-loop-evals). Tests that need it skip where it is absent.
const sharedData = "../../../shared/data/olmes"

func needShared(t testing.TB) string {
	t.Helper()
	if st, err := os.Stat(filepath.Join(sharedData, "requests")); err != nil || !st.IsDir() {
		t.Skipf("skipping: %s not present (the shared OLMES data lives next to the repository)", sharedData)
	}
	return sharedData
}

// readDumpLines returns the raw lines of a request dump.
func readDumpLines(t testing.TB, path string) [][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(z)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
}

// TestRequestsMatchOEEval builds every shipped request variant from the raw HF data and compares it with
// oe-eval's own dump: the number of requests and every line, byte for byte (doc, context, continuation, ids,
// label). Variants whose raw split is not shipped (ARC and OpenBookQA test, HellaSwag) are checked on what can
// be: their curated few-shot block, which our embedded examples and templates must reproduce. BoolQ's shipped raw
// data is google/boolq, which lacks the Wikipedia titles OLMES's super_glue passages start with (olmes.md D4):
// those requests must equal the dump once "Title -- " is removed from the evaluated passage.
func TestRequestsMatchOEEval(t *testing.T) {
	t.Parallel()
	dir := needShared(t)
	configs, _ := filepath.Glob(filepath.Join(dir, "requests", "*", "*", "config.json"))
	if len(configs) == 0 {
		t.Fatal("no request variants found")
	}
	for _, cfgPath := range configs {
		variant := filepath.Dir(cfgPath)
		name := filepath.Base(filepath.Dir(variant)) + "/" + filepath.Base(variant)
		t.Run(name, func(t *testing.T) {
			cfg, err := ReadTaskConfig(cfgPath)
			if err != nil {
				t.Fatal(err)
			}
			lines := readDumpLines(t, filepath.Join(variant, "requests.jsonl.gz"))
			got, err := BuildRequests(cfg.Task, cfg.Formulation, dir, cfg.Options)
			if err != nil {
				if !IsInputError(err) || !strings.Contains(err.Error(), "split of") {
					t.Fatal(err)
				}
				checkFewshotBlock(t, cfg, lines)
				t.Skipf("raw %s split not shipped; few-shot block of all %d requests checked", cfg.Options.Split, len(lines))
			}
			if len(got) != len(lines) {
				t.Fatalf("%d requests, oe-eval has %d", len(got), len(lines))
			}
			boolq := cfg.Task == "boolq"
			bad := 0
			for i, want := range lines {
				line, err := got[i].MarshalJSON()
				if err != nil {
					t.Fatal(err)
				}
				if bytes.Equal(line, want) {
					continue
				}
				if boolq && boolqEqualWithoutTitle(t, got[i], want) {
					continue
				}
				if bad++; bad <= 3 {
					t.Errorf("line %d differs:\n got %s\nwant %s", i+1, clip(line), clip(want))
				}
			}
			if bad > 0 {
				t.Fatalf("%d of %d lines differ", bad, len(lines))
			}
			t.Logf("%d requests equal oe-eval's%s", len(lines), map[bool]string{true: " (up to BoolQ titles)"}[boolq])
		})
	}
}

// boolqEqualWithoutTitle checks that want is got with a "Title -- " inserted before the evaluated passage (in
// the context and in doc.query), and that everything else is equal.
func boolqEqualWithoutTitle(t *testing.T, got Request, wantLine []byte) bool {
	t.Helper()
	want, err := ParseRequestLine(wantLine)
	if err != nil {
		t.Fatal(err)
	}
	q := got.Doc.Str("query")
	wq := want.Doc.Str("query")
	title, rest, ok := strings.Cut(wq, " -- ")
	if !ok || strings.Contains(title, "\n") || rest != q {
		return false
	}
	// The context is the few-shot block (which has titles: the curated examples come from super_glue) + query.
	if !strings.HasSuffix(got.Context, q) || !strings.HasSuffix(want.Context, wq) ||
		strings.TrimSuffix(got.Context, q) != strings.TrimSuffix(want.Context, wq) {
		return false
	}
	fixed := got
	fixed.Doc = append(Doc(nil), got.Doc...).Set("query", wq)
	fixed.Context = want.Context
	line, _ := fixed.MarshalJSON()
	return bytes.Equal(line, wantLine)
}

// checkFewshotBlock checks the few-shot part of every context in a dump whose raw split we lack: it is the
// same curated block for every instance, and ours must equal it.
func checkFewshotBlock(t *testing.T, cfg TaskConfig, lines [][]byte) {
	t.Helper()
	b, _, _, _, ok := lookupBenchmark(cfg.Task)
	if !ok {
		t.Fatalf("unknown task %s", cfg.Task)
	}
	var block strings.Builder
	for i, row := range fewshotRows()[b.Fewshot][:cfg.Options.Shots] {
		r := &rowReader{row: row}
		d := b.process(r, -1, cfg.Formulation)
		if r.err != nil {
			t.Fatal(r.err)
		}
		if i > 0 {
			block.WriteString("\n\n")
		}
		block.WriteString(d.Str("query") + " " + d.Strings("choices")[mustInt(d.Int("gold"))])
	}
	block.WriteString("\n\n")
	prefix := block.String()
	n := 0
	for i, l := range lines {
		r, err := ParseRequestLine(l)
		if err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		if r.DocID >= UncondDocIDOffset {
			if r.Context != UncondContext {
				t.Fatalf("line %d: unconditional context %q", i+1, r.Context)
			}
			continue
		}
		if !strings.HasPrefix(r.Context, prefix) || r.Context[len(prefix):] != r.Doc.Str("query") {
			t.Fatalf("line %d: context is not our few-shot block + doc.query:\n got %s\nwant %s", i+1,
				clip([]byte(prefix)), clip([]byte(r.Context)))
		}
		n++
	}
	if n == 0 {
		t.Fatal("no conditional requests")
	}
}

func mustInt(n int, ok bool) int {
	if !ok {
		panic("not an int")
	}
	return n
}

func clip(b []byte) string {
	if len(b) > 600 {
		return string(b[:300]) + " … " + string(b[len(b)-300:])
	}
	return string(b)
}

// TestMMLU builds MMLU from the shipped Arrow files (no oe-eval dump ships for it): 57 subjects, the test split's
// 14042 questions, each subject's description line and first five dev questions as shots, unconditional requests
// in RC, and a task macro-averaged over subjects.
func TestMMLU(t *testing.T) {
	t.Parallel()
	dir := needShared(t)
	rc, err := BuildRequests("mmlu", RC, dir, BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rc) != 14042*4*2 {
		t.Errorf("%d RC requests, want 14042 questions × 4 choices × 2 (unconditional)", len(rc))
	}
	task, err := TaskFromRequests("mmlu", RC, rc)
	if err != nil {
		t.Fatal(err)
	}
	if len(task.Instances) != 14042 || !task.Macro || len(task.Subtasks()) != 57 || !task.HasUncond() || task.Primary != MetricAccPerChar {
		t.Errorf("%d instances, macro %v, %d subtasks, uncond %v, primary %s", len(task.Instances), task.Macro, len(task.Subtasks()), task.HasUncond(), task.Primary)
	}
	mc, err := BuildRequests("mmlu_high_school_us_history", MC, dir, BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := mc[0].Context
	if !strings.HasPrefix(ctx, "The following are multiple choice questions (with answers) about high school us history.\n\nQuestion: ") ||
		strings.Count(ctx, "\nAnswer:") != 6 || mc[0].TaskName != "mmlu_high_school_us_history:mc" || mc[0].Continuation != " A" {
		t.Errorf("MMLU MC request: %q → %q (%s)", clip([]byte(ctx)), mc[0].Continuation, mc[0].TaskName)
	}
}
