package olmes

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestDumpRoundTrip reads every shipped oe-eval dump and writes it back: the bytes must not change. This checks
// the reader and the Python-compatible JSON writer (key order, ensure_ascii escapes, separators) on ~100k lines.
func TestDumpRoundTrip(t *testing.T) {
	t.Parallel()
	dir := needShared(t)
	dumps, _ := filepath.Glob(filepath.Join(dir, "requests", "*", "*", "requests.jsonl.gz"))
	total := 0
	for _, p := range dumps {
		reqs, err := ReadRequests(p)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := WriteRequestsJSONL(&buf, reqs); err != nil {
			t.Fatal(err)
		}
		want := bytes.Join(readDumpLines(t, p), []byte("\n"))
		if got := bytes.TrimRight(buf.Bytes(), "\n"); !bytes.Equal(got, want) {
			gl, wl := bytes.Split(got, []byte("\n")), bytes.Split(want, []byte("\n"))
			for i := range min(len(gl), len(wl)) {
				if !bytes.Equal(gl[i], wl[i]) {
					t.Fatalf("%s line %d:\n got %s\nwant %s", p, i+1, clip(gl[i]), clip(wl[i]))
				}
			}
			t.Fatalf("%s: %d lines, want %d", p, len(gl), len(wl))
		}
		total += len(reqs)
	}
	t.Logf("%d dumps, %d requests round-trip byte for byte", len(dumps), total)
}

// TestTaskFromDump groups dumps into tasks: instance counts, unconditional requests, primary metrics.
func TestTaskFromDump(t *testing.T) {
	dir := needShared(t)
	for _, tc := range []struct {
		variant   string
		name      string
		f         Formulation
		instances int
		uncond    bool
		primary   string
	}{
		{"arc_easy/val_rc_5shot", "arc_easy", RC, 570, true, MetricAccPerChar},
		{"arc_challenge/test_mc_5shot", "arc_challenge", MC, 1172, false, MetricAccRaw},
		{"boolq/rc_5shot", "boolq", RC, 1000, false, MetricAccRaw},
		{"csqa/val_rc_5shot", "csqa", RC, 1221, true, MetricAccPerChar}, // the in-loop config says acc_per_char (olmes.md D3)
		{"hellaswag/mc_5shot", "hellaswag", MC, 1000, false, MetricAccRaw},
	} {
		task, err := LoadTask(filepath.Join(dir, "requests", tc.variant), RC, LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if task.Name != tc.name || task.Formulation != tc.f || len(task.Instances) != tc.instances ||
			task.HasUncond() != tc.uncond || task.Primary != tc.primary {
			t.Errorf("%s: %s %s %d instances uncond=%v primary %s", tc.variant, task.Name, task.Formulation,
				len(task.Instances), task.HasUncond(), task.Primary)
		}
	}
	// --mc cannot turn a dump of rc requests into mc ones: the task says so
	for _, c := range []struct {
		variant string
		f       Formulation
		note    bool
	}{{"csqa/val_rc_5shot", MC, true}, {"csqa/val_rc_5shot", RC, false}, {"csqa/val_mc_5shot", MC, false}, {"csqa/val_mc_5shot", RC, false}} {
		task, err := LoadTask(filepath.Join(dir, "requests", c.variant), c.f, LoadOptions{DumpLimit: 3})
		if err != nil {
			t.Fatal(err)
		}
		got := slices.ContainsFunc(task.Notes, func(n string) bool { return strings.Contains(n, "scored in its own formulation, rc, not mc") })
		if got != c.note {
			t.Errorf("%s asked as %s: notes %q", c.variant, c.f, task.Notes)
		}
	}
	// nor --split a dump of one split into another's: the task says so (a
	// validation dump asked for the test split was scored without a word)
	for _, c := range []struct {
		variant, split string
		note           string
	}{
		{"arc_easy/val_rc_5shot", "test", "scored on its own split, validation, not test"},
		{"arc_easy/test_rc_5shot", "validation", "scored on its own split, test, not validation"},
		{"arc_easy/val_rc_5shot", "validation", ""},
		{"arc_easy/val_rc_5shot", "", ""},
	} {
		task, err := LoadTask(filepath.Join(dir, "requests", c.variant), RC, LoadOptions{DumpLimit: 3, Build: BuildOptions{Split: c.split}})
		if err != nil {
			t.Fatal(err)
		}
		joined := strings.Join(task.Notes, "\n")
		if (c.note == "") != (joined == "") || !strings.Contains(joined, c.note) {
			t.Errorf("%s asked for split %q: notes %q, want %q", c.variant, c.split, task.Notes, c.note)
		}
	}
	// The dump evaluates like a built task: scoring a dump on the fake backend works end to end.
	task, err := LoadTask(filepath.Join(dir, "requests", "piqa", "rc_5shot", "requests.jsonl.gz"), RC, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	task.Instances = task.Instances[:20]
	tok := bytesTok(t)
	res, err := Evaluate(context.Background(), &fakeBackend{B: 8, T: 256, V: tok.VocabSize()}, tok, []*Task{task}, EvalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 80 || res.Forwards != 10 || res.Scores[0].Instances != 20 {
		t.Errorf("%d requests in %d forwards", res.Requests, res.Forwards)
	}
}

// writeJSONL writes rows as JSON lines.
func writeJSONL(t *testing.T, path string, rows []any) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	var b []byte
	for _, r := range rows {
		line, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		b = append(append(b, line...), '\n')
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func requestLines(t *testing.T, reqs []Request) string {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteRequestsJSONL(&buf, reqs); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// TestPublishedForms converts the shipped HF rows into each dataset's own published layout (ARC, CSQA and
// OpenBookQA JSONL, PIQA JSONL + labels, MMLU CSV, HF-shaped JSONL) and checks that the requests built from them
// equal those built from the Arrow files. BoolQ's published JSONL has the Wikipedia titles that google/boolq
// lacks; with titles taken from oe-eval's dump, the requests equal oe-eval's byte for byte.
func TestPublishedForms(t *testing.T) {
	t.Parallel()
	dir := needShared(t)
	tmp := t.TempDir()
	hf := func(rel string) []Doc {
		rows, err := ReadHFSplit(filepath.Join(dir, "hf", rel))
		if err != nil {
			t.Fatal(err)
		}
		return rows
	}
	ai2 := func(rows []Doc, stem string) []any {
		var out []any
		for _, r := range rows {
			c := r.Sub("choices")
			texts, labels := c.Strings("text"), c.Strings("label")
			var cs []map[string]string
			for i := range texts {
				cs = append(cs, map[string]string{"text": texts[i], "label": labels[i]})
			}
			q := map[string]any{"stem": r.Str(stem), "choices": cs}
			if qc := r.Str("question_concept"); qc != "" {
				q["question_concept"] = qc
			}
			out = append(out, map[string]any{"id": r.Str("id"), "question": q, "answerKey": r.Str("answerKey")})
		}
		return out
	}
	writeJSONL(t, filepath.Join(tmp, "ARC-V1-Feb2018-2/ARC-Easy/ARC-Easy-Dev.jsonl"), ai2(hf("ai2_arc/ARC-Easy/validation"), "question"))
	writeJSONL(t, filepath.Join(tmp, "commonsense_qa/dev_rand_split.jsonl"), ai2(hf("tau/commonsense_qa/none/validation"), "question"))
	writeJSONL(t, filepath.Join(tmp, "OpenBookQA-V1-Sep2018/Data/Main/dev.jsonl"), ai2(hf("openbookqa/main/validation"), "question_stem"))
	var piqa []any
	var labels []string
	for _, r := range hf("piqa/plain_text/validation") {
		piqa = append(piqa, map[string]string{"goal": r.Str("goal"), "sol1": r.Str("sol1"), "sol2": r.Str("sol2")})
		l, _ := r.Int("label")
		labels = append(labels, fmt.Sprint(l))
	}
	writeJSONL(t, filepath.Join(tmp, "piqa/valid.jsonl"), piqa)
	os.WriteFile(filepath.Join(tmp, "piqa/valid-labels.lst"), []byte(strings.Join(labels, "\n")+"\n"), 0o644)
	for _, split := range []string{"dev", "validation"} {
		var b strings.Builder
		for _, r := range hf("hails/mmlu_no_train/anatomy/" + split) {
			ch := r.Strings("choices")
			a, _ := r.Int("answer")
			fmt.Fprintf(&b, "%q,%q,%q,%q,%q,%s\n", r.Str("question"), ch[0], ch[1], ch[2], ch[3], letters[a:a+1])
		}
		s := map[string]string{"validation": "val"}[split]
		if s == "" {
			s = split
		}
		os.MkdirAll(filepath.Join(tmp, "data", s), 0o755)
		os.WriteFile(filepath.Join(tmp, "data", s, "anatomy_"+s+".csv"), []byte(b.String()), 0o644)
	}
	hfShaped := filepath.Join(tmp, "hfjsonl")
	var rows []any
	for _, r := range hf("ai2_arc/ARC-Challenge/validation") {
		rows = append(rows, r)
	}
	writeJSONL(t, filepath.Join(hfShaped, "ai2_arc/ARC-Challenge/validation.jsonl"), rows)

	for _, tc := range []struct {
		task, dir string
		split     string
	}{
		{"arc_easy", tmp, "validation"}, {"csqa", tmp, "validation"}, {"openbookqa", tmp, "validation"},
		{"piqa", tmp, "validation"}, {"mmlu_anatomy", tmp, "validation"}, {"arc_challenge", hfShaped, "validation"},
	} {
		for _, f := range []Formulation{RC, MC} {
			want, err := BuildRequests(tc.task, f, dir, BuildOptions{Split: tc.split})
			if err != nil {
				t.Fatal(err)
			}
			got, err := BuildRequests(tc.task, f, tc.dir, BuildOptions{Split: tc.split})
			if err != nil {
				t.Fatalf("%s %s: %v", tc.task, f, err)
			}
			if requestLines(t, got) != requestLines(t, want) {
				t.Errorf("%s %s: requests from the published form differ from the Arrow ones", tc.task, f)
			}
		}
	}

	// BoolQ: google/boolq rows + titles from oe-eval's dump, written as BoolQ's published dev.jsonl.
	dump, err := ReadRequests(filepath.Join(dir, "requests/boolq/val_rc_5shot/requests.jsonl.gz"))
	if err != nil {
		t.Fatal(err)
	}
	titles := map[int]string{}
	for _, r := range dump {
		idx, _ := r.Doc.Int("idx")
		title, _, _ := strings.Cut(r.Doc.Str("query"), " -- ")
		titles[idx] = title
	}
	var bq []any
	for i, r := range hf("boolq/none/validation") {
		a, _ := r.Get("answer")
		bq = append(bq, map[string]any{"question": r.Str("question"), "title": titles[i], "answer": a, "passage": r.Str("passage")})
	}
	writeJSONL(t, filepath.Join(tmp, "boolq/dev.jsonl"), bq)
	for _, v := range []string{"val_rc_5shot", "val_mc_5shot", "rc_5shot"} {
		cfg, err := ReadTaskConfig(filepath.Join(dir, "requests/boolq", v, "config.json"))
		if err != nil {
			t.Fatal(err)
		}
		got, err := BuildRequests("boolq", cfg.Formulation, tmp, cfg.Options)
		if err != nil {
			t.Fatal(err)
		}
		want := string(bytes.Join(readDumpLines(t, filepath.Join(dir, "requests/boolq", v, "requests.jsonl.gz")), []byte("\n"))) + "\n"
		if requestLines(t, got) != want {
			t.Errorf("boolq %s from the published JSONL with titles differs from oe-eval's dump", v)
		}
	}
}

// TestTemplates checks the tasks without shipped data (SIQA, WinoGrande, HellaSwag) on hand-written rows against
// the strings oe-eval's code builds for them.
func TestTemplates(t *testing.T) {
	tmp := t.TempDir()
	writeJSONL(t, filepath.Join(tmp, "socialiqa-train-dev/dev.jsonl"), []any{
		map[string]string{"context": "Tracy didn't go home that evening.", "question": "What does Tracy need to do before this?",
			"answerA": "make a new plan", "answerB": "Go home and see Riley", "answerC": "Find somewhere to go"},
	})
	os.WriteFile(filepath.Join(tmp, "socialiqa-train-dev/dev-labels.lst"), []byte("3\n"), 0o644)
	writeJSONL(t, filepath.Join(tmp, "winogrande_1.1/dev.jsonl"), []any{
		map[string]string{"qID": "x", "sentence": "Sarah was a much better surgeon than Maria so _ always got the harder cases.",
			"option1": "Sarah", "option2": "Maria", "answer": "1"},
	})
	writeJSONL(t, filepath.Join(tmp, "hellaswag/hellaswag_val.jsonl"), []any{
		map[string]any{"ind": 24, "activity_label": "Roof shingle removal", "ctx_a": "A man is sitting on a roof.",
			"ctx_b": "HE starts", "endings": []string{"pulling up roofing on a roof.", "is using wrap to wrap a pair of skis.",
				"[title] is ripping level tiles off.", "is holding a rubik's cube."}, "label": 3},
	})
	siqaQ := "Question: Tracy didn't go home that evening. What does Tracy need to do before this?\n"
	wgShot := "John moved the couch from the garage to the backyard to create space. The garage is small."
	for _, tc := range []struct {
		task  string
		f     Formulation
		shots int
		ctx   []string // per choice
		conts []string
		gold  int
	}{
		{"siqa", RC, -1, []string{siqaQ + "Answer:"}, []string{" make a new plan", " Go home and see Riley", " Find somewhere to go"}, 2},
		{"siqa", MC, -1, []string{siqaQ + " A. make a new plan\n B. Go home and see Riley\n C. Find somewhere to go\nAnswer:"}, []string{" A", " B", " C"}, 2},
		{"winogrande", RC, 1, []string{wgShot + "\n\nSarah was a much better surgeon than Maria so Sarah",
			wgShot + "\n\nSarah was a much better surgeon than Maria so Maria"}, []string{" always got the harder cases.", " always got the harder cases."}, 0},
		{"winogrande", MC, -1, []string{"Fill in the blank: Sarah was a much better surgeon than Maria so ___ always got the harder cases.\n A. Sarah\n B. Maria\nAnswer:"}, []string{" A", " B"}, 0},
		{"hellaswag", RC, -1, []string{"Roof shingle removal: A man is sitting on a roof. He starts"},
			// "[title] is ripping…" preprocesses to " is ripping…", so its continuation has two spaces, as in oe-eval.
			[]string{" pulling up roofing on a roof.", " is using wrap to wrap a pair of skis.", "  is ripping level tiles off.", " is holding a rubik's cube."}, 3},
		{"hellaswag", MC, -1, []string{"Roof shingle removal: A man is sitting on a roof. He starts\nChoose the best continuation:\n A. pulling up roofing on a roof.\n B. is using wrap to wrap a pair of skis.\n C. is ripping level tiles off.\n D. is holding a rubik's cube.\nAnswer:"},
			[]string{" A", " B", " C", " D"}, 3},
	} {
		reqs, err := BuildRequests(tc.task, tc.f, tmp, BuildOptions{Shots: tc.shots})
		if err != nil {
			t.Fatalf("%s %s: %v", tc.task, tc.f, err)
		}
		for i, c := range tc.conts {
			ctx := tc.ctx[min(i, len(tc.ctx)-1)]
			if reqs[i].Context != ctx || reqs[i].Continuation != c || reqs[i].Label != tc.gold || reqs[i].Idx != i {
				t.Errorf("%s %s choice %d:\n got %q → %q (label %d)\nwant %q → %q (label %d)", tc.task, tc.f, i,
					reqs[i].Context, reqs[i].Continuation, reqs[i].Label, ctx, c, tc.gold)
			}
		}
		wantN := len(tc.conts)
		if tc.f == RC && tc.task != "winogrande" {
			wantN *= 2 // unconditional requests follow
			if u := reqs[len(tc.conts)]; u.Context != UncondContext || u.DocID != UncondDocIDOffset {
				t.Errorf("%s: unconditional request %+v", tc.task, u)
			}
		}
		if len(reqs) != wantN {
			t.Errorf("%s %s: %d requests, want %d", tc.task, tc.f, len(reqs), wantN)
		}
	}
}

// TestPythonText checks the Python string functions the templates rely on.
func TestPythonText(t *testing.T) {
	for _, tc := range []struct{ in, cap string }{
		{"HE starts", "He starts"}, {"", ""}, {"a", "A"}, {"éCOLE", "École"}, {"ßa", "Ssa"}, {"xİ", "Xi\u0307"},
	} {
		if got := pyCapitalize(tc.in); got != tc.cap {
			t.Errorf("capitalize(%q) = %q, want %q", tc.in, got, tc.cap)
		}
	}
	for _, tc := range []struct{ in, out string }{
		{"[header] How to x [title] Do it. [step] Now.", " How to x. Do it. Now."}, // strip comes first
		{"Go home. [title] Rest", "Go home. Rest"},
		{"  a  [b]  c ", "a  c"},
	} {
		if got := hellaswagPre(tc.in); got != tc.out {
			t.Errorf("preprocess(%q) = %q, want %q", tc.in, got, tc.out)
		}
	}
	if got := pyStrip("\x1c\u00a0 x \t\n"); got != "x" {
		t.Errorf("strip = %q", got)
	}
	for _, tc := range []struct {
		v    any
		want string
	}{
		{"é\"\\\n\x7f/<>&\U0001F600", `"\u00e9\"\\\n\u007f/<>&\ud83d\ude00"`},
		{1e-5, "1e-05"}, {1.5e16, "1.5e+16"}, {2.0, "2.0"}, {0.1, "0.1"}, {nil, "null"},
		{Doc{{"b", 1}, {"a", []any{true, "x"}}}, `{"b": 1, "a": [true, "x"]}`},
	} {
		got, err := appendPyJSON(nil, tc.v)
		if err != nil || string(got) != tc.want {
			t.Errorf("json.dumps(%v) = %s, want %s (%v)", tc.v, got, tc.want, err)
		}
	}
}

// TestBadInput: every way a person can get the input wrong gives an *InputError that says where.
func TestBadInput(t *testing.T) {
	tmp := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(tmp, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(s), 0o644)
		return p
	}
	good := `{"request_type": "loglikelihood", "doc": {"query": "q", "choices": ["a", "b"], "gold": 0}, "request": {"context": "q", "continuation": " a"}, "idx": 0, "task_name": "t", "doc_id": 0, "native_id": null, "label": 0}`
	gz := func(s string) []byte {
		var b bytes.Buffer
		z := gzip.NewWriter(&b)
		z.Write([]byte(s))
		z.Close()
		return b.Bytes()
	}
	os.WriteFile(filepath.Join(tmp, "trunc.jsonl.gz"), gz(good + "\n")[:30], 0o644)
	for _, tc := range []struct {
		name string
		err  func() error
		want string // in the message
	}{
		{"unknown task", func() error { _, err := BuildRequests("arc_medium", RC, tmp, BuildOptions{}); return err }, `unknown task "arc_medium"`},
		{"unknown MMLU subject", func() error { _, err := LoadTask("mmlu_cooking", RC, LoadOptions{DataDir: tmp}); return err }, "unknown task"},
		{"unknown formulation", func() error { _, err := ParseFormulation("cot"); return err }, `unknown formulation "cot"`},
		{"missing data", func() error { _, err := BuildRequests("piqa", RC, tmp, BuildOptions{}); return err }, "no validation split of piqa"},
		{"no data dir", func() error { _, err := BuildRequests("piqa", RC, "", BuildOptions{}); return err }, "no data directory"},
		{"malformed request line", func() error {
			_, err := ReadRequests(write("bad.jsonl", good+"\n{\"request\": {\"context\": \"x\"}, \"idx\": 0}\n"))
			return err
		}, "bad.jsonl:2: malformed request line"},
		{"not JSON", func() error { _, err := ReadRequests(write("bad2.jsonl", "\n\nhello\n")); return err }, "bad2.jsonl:3"},
		{"wrong request type", func() error {
			_, err := ReadRequests(write("bad3.jsonl", strings.Replace(good, "loglikelihood", "generate_until", 1)+"\n"))
			return err
		}, "only loglikelihood"},
		{"truncated gzip", func() error { _, err := ReadRequests(filepath.Join(tmp, "trunc.jsonl.gz")); return err }, "trunc.jsonl.gz"},
		{"empty dump", func() error { _, err := ReadRequests(write("empty.jsonl", "\n")); return err }, "no requests"},
		{"missing dump", func() error { _, err := ReadRequests(filepath.Join(tmp, "nope.jsonl")); return err }, "nope.jsonl: no such file (an oe-eval request dump)"},
		{"row without a field", func() error {
			writeJSONL(t, filepath.Join(tmp, "d1/ARC-Easy/ARC-Easy-Test.jsonl"), []any{map[string]any{"id": "x", "question": map[string]any{"stem": "s", "choices": []any{}}}})
			_, err := BuildRequests("arc_easy", RC, filepath.Join(tmp, "d1"), BuildOptions{})
			return err
		}, "ARC-Easy-Test.jsonl: row 1"},
		{"labels do not match rows", func() error {
			writeJSONL(t, filepath.Join(tmp, "d2/piqa/valid.jsonl"), []any{map[string]string{"goal": "g", "sol1": "a", "sol2": "b"}})
			write("d2/piqa/valid-labels.lst", "0\n1\n")
			_, err := BuildRequests("piqa", RC, filepath.Join(tmp, "d2"), BuildOptions{})
			return err
		}, "2 labels for 1 rows"},
		{"not an Arrow file", func() error {
			write("d3/ai2_arc/ARC-Easy/test/data-00000-of-00001.arrow", "not arrow")
			_, err := BuildRequests("arc_easy", RC, filepath.Join(tmp, "d3"), BuildOptions{})
			return err
		}, "not an Arrow IPC stream"},
		{"label disagreement", func() error {
			_, err := TaskFromRequests("t", RC, []Request{{Context: "c", Continuation: " a", Label: 0}, {Context: "c", Continuation: " b", Idx: 1, Label: 1}})
			return err
		}, "disagree"},
		{"gold outside the choices", func() error {
			_, err := TaskFromRequests("t", RC, []Request{{Context: "c", Continuation: " a", Label: -1}})
			return err
		}, "outside the 1 choices"},
		{"unconditional without its doc", func() error {
			_, err := TaskFromRequests("t", RC, []Request{{Context: "c", Continuation: " a"}, {Context: "Answer:", Continuation: " a", DocID: UncondDocIDOffset + 5}})
			return err
		}, "has no requests"},
		{"gap in choices", func() error {
			_, err := TaskFromRequests("t", RC, []Request{{Context: "c", Continuation: " a"}, {Context: "c", Continuation: " b", Idx: 2}})
			return err
		}, "not numbered"},
	} {
		err := tc.err()
		if !IsInputError(err) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an InputError mentioning %q", tc.name, err, tc.want)
		}
		// a person can act on each: the error says how (llm.c's HINT: lines)
		if err != nil && !strings.Contains(err.Error(), "\nHINT: ") {
			t.Errorf("%s: no HINT: %v", tc.name, err)
		}
	}
}

// FuzzParseRequestLine: no line makes the reader panic, and whatever it accepts survives a write and re-read.
func FuzzParseRequestLine(f *testing.F) {
	f.Add([]byte(`{"request_type": "loglikelihood", "doc": {"id": "MCAS_2000_4_6", "query": "Question: Which?\nAnswer:", "choices": ["a", "b"], "gold": 0}, "request": {"context": "Q", "continuation": " a"}, "idx": 0, "task_name": "arc_easy", "doc_id": 0, "native_id": "MCAS_2000_4_6", "label": 0}`))
	f.Add([]byte(`{"doc": null, "request": {"context": "\u00e9\ud83d\ude00", "continuation": ""}, "idx": 1, "doc_id": 1000000, "native_id": 3.5, "label": 1}`))
	f.Add([]byte(`{"request": {"context": "x", "continuation": " y"}, "idx": 0, "doc_id": 0, "label": 1.5}`))
	f.Add([]byte(`{"doc": {"a": {"b": [[[[]]]]}}, "request": {"context": "", "continuation": ""}, "idx": 0, "doc_id": -1}`))
	f.Add([]byte(`[1, 2]`))
	f.Add([]byte(`{"idx": 99999999999999999999}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		r, err := ParseRequestLine(line)
		if err != nil {
			return
		}
		out, err := r.MarshalJSON()
		if err != nil {
			t.Fatalf("accepted but cannot write: %v", err)
		}
		back, err := ParseRequestLine(out)
		if err != nil {
			t.Fatalf("cannot re-read our own line %s: %v", out, err)
		}
		if back.Context != r.Context || back.Continuation != r.Continuation || back.Idx != r.Idx ||
			back.DocID != r.DocID || back.Label != r.Label || back.TaskName != r.TaskName {
			t.Fatalf("round trip changed the request:\n%+v\n%+v", r, back)
		}
		again, _ := back.MarshalJSON()
		if !bytes.Equal(again, out) {
			t.Fatalf("writing is not stable:\n%s\n%s", out, again)
		}
	})
}

// FuzzReadRequests: arbitrary files (several lines, gzip or not) give requests or an InputError, never a panic
// or another error.
func FuzzReadRequests(f *testing.F) {
	f.Add([]byte("{\"request\": {\"context\": \"a\", \"continuation\": \" b\"}, \"idx\": 0, \"doc_id\": 0, \"label\": 0}\n\n{}\n"))
	f.Add([]byte("\x1f\x8b\x08\x00garbage"))
	f.Fuzz(func(t *testing.T, b []byte) {
		reqs, err := readRequests(bytes.NewReader(b), "fuzz.jsonl")
		if err != nil && !IsInputError(err) {
			t.Fatalf("non-input error: %v", err)
		}
		if err == nil && len(reqs) > 0 {
			if _, err := TaskFromRequests("fuzz", RC, reqs); err != nil && !IsInputError(err) {
				t.Fatalf("TaskFromRequests: non-input error %v", err)
			}
		}
	})
}

// TestRequestsUnknownTaskHint: BuildRequests' HINT lists exactly the tasks it
// accepts (OLMESTaskNames, each accepted: with no data directory it fails on
// the data, not the name) and no built-in task, which it does not build; a
// built-in name is told where it does run.
func TestRequestsUnknownTaskHint(t *testing.T) {
	accepted := OLMESTaskNames()
	if len(accepted) != len(Benchmarks()) {
		t.Fatalf("OLMESTaskNames %v, Benchmarks %d", accepted, len(Benchmarks()))
	}
	for _, name := range append(slices.Clone(accepted), "mmlu_anatomy", "arc_easy:mc::olmes") {
		if _, err := BuildRequests(name, RC, "", BuildOptions{}); err == nil || strings.Contains(err.Error(), "unknown task") {
			t.Errorf("%s: %v, want it accepted (and refused for want of data)", name, err)
		}
	}
	for _, tc := range []struct{ name, also string }{
		{"arc_medium", ""},
		{"mmlu_cooking", ""},
		{"fact_qa_heldout", "fact_qa_heldout is a built-in task, evaluated directly (olmolab eval --tasks fact_qa_heldout)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := BuildRequests(tc.name, RC, "", BuildOptions{})
			var ie *InputError
			if !errors.As(err, &ie) || !strings.Contains(err.Error(), `unknown task "`+tc.name+`"`) {
				t.Fatalf("got %v, want an unknown-task input error", err)
			}
			want := "OLMES tasks: " + strings.Join(accepted, ", ") + " (or mmlu_<subject>)"
			if !strings.HasSuffix(ie.Hint, want) || !strings.Contains(ie.Hint, tc.also) {
				t.Errorf("hint %q, want it to end %q and hold %q", ie.Hint, want, tc.also)
			}
			for _, b := range BuiltinTaskNames() {
				if b != tc.name && strings.Contains(ie.Hint, b) {
					t.Errorf("hint names built-in task %s, which olmes requests does not build: %q", b, ie.Hint)
				}
			}
		})
	}
}

// TestBoolQWithoutTitles: BoolQ data without the Wikipedia titles (google/boolq) builds prompts that differ from
// OLMES's, whose super_glue passages start with "Title -- "; the task says so (a warning under the scores), and
// data with titles does not.
func TestBoolQWithoutTitles(t *testing.T) {
	for _, titled := range []bool{true, false} {
		tmp := t.TempDir()
		var rows []any
		for i := range 6 {
			row := map[string]any{"question": fmt.Sprintf("is %d even", i), "answer": i%2 == 0, "passage": fmt.Sprintf("Number %d is a number.", i)}
			if titled {
				row["title"] = fmt.Sprintf("Number %d", i)
			}
			rows = append(rows, row)
		}
		writeJSONL(t, filepath.Join(tmp, "boolq/dev.jsonl"), rows)
		task, err := LoadTask("boolq", RC, LoadOptions{DataDir: tmp})
		if err != nil {
			t.Fatal(err)
		}
		noted := len(task.Notes) == 1 && strings.Contains(task.Notes[0], "no Wikipedia titles")
		if noted == titled {
			t.Errorf("titles %v: notes %q", titled, task.Notes)
		}
		var b bytes.Buffer
		if err := (Results{Notes: task.Notes, Requests: 1}).WriteTable(&b); err != nil {
			t.Fatal(err)
		}
		if warned := strings.Contains(b.String(), "warning: boolq: the data has no Wikipedia titles"); warned != !titled {
			t.Errorf("titles %v: table %q", titled, b.String())
		}
	}
}

// TestTaskNameParts: oe-eval's spellings of a task name that mean something
// here are taken (":mc", ":rc", ":bpb" as rc, "::olmes", "::olmes:full" as
// every instance); any other part is refused by name, listing the forms.
// An unknown part was ignored: "arc_easy:xx" failed on its data, and
// "fact_cloze:xx" or "siqa::olmo1" were scored as if it were not there.
func TestTaskNameParts(t *testing.T) {
	tmp := t.TempDir()
	// 1600 SIQA questions: OLMES samples 1000 of a split over 1500
	var rows []any
	var labels strings.Builder
	for i := range 1600 {
		rows = append(rows, map[string]string{"context": fmt.Sprintf("Context %d.", i), "question": "What next?",
			"answerA": "a", "answerB": "b", "answerC": "c"})
		labels.WriteString("1\n")
	}
	writeJSONL(t, filepath.Join(tmp, "socialiqa-train-dev/dev.jsonl"), rows)
	os.WriteFile(filepath.Join(tmp, "socialiqa-train-dev/dev-labels.lst"), []byte(labels.String()), 0o644)
	docs := func(reqs []Request) int {
		n := map[int]bool{}
		for _, r := range reqs {
			if r.DocID < UncondDocIDOffset {
				n[r.DocID] = true
			}
		}
		return len(n)
	}
	for _, tc := range []struct {
		name string
		f    Formulation
		docs int
	}{
		{"siqa", RC, 1000},
		{"SIQA:MC::OLMES", MC, 1000},
		{"siqa:rc:bpb::olmes", RC, 1000},
		{"siqa:mc::olmes:full", MC, 1600},
		{"siqa::olmes", RC, 1000}, // the default formulation, as given
	} {
		reqs, err := BuildRequests(tc.name, RC, tmp, BuildOptions{Shots: -1})
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		f := RC
		if strings.HasSuffix(reqs[0].Continuation, " A") {
			f = MC
		}
		if f != tc.f || docs(reqs) != tc.docs {
			t.Errorf("%s: %s on %d docs, want %s on %d", tc.name, f, docs(reqs), tc.f, tc.docs)
		}
	}
	// --limit wins over :full
	if reqs, err := BuildRequests("siqa::olmes:full", RC, tmp, BuildOptions{Shots: -1, Limit: 5}); err != nil || docs(reqs) != 5 {
		t.Errorf("siqa::olmes:full with limit 5: %d docs, %v", docs(reqs), err)
	}

	for name, want := range map[string]string{
		"arc_easy:xx":         `task "arc_easy:xx": unknown part ":xx"`,
		"fact_cloze:xx":       `task "fact_cloze:xx": unknown part ":xx"`,
		"siqa::olmo1":         `task "siqa::olmo1": unknown config "::olmo1"`,
		"siqa:mc:rc::olmes":   `task "siqa:mc:rc::olmes": names two formulations`,
		"siqa:mc:bpb":         `names two formulations`,
		"arc_easy:rc::olmes:": `unknown config "::olmes:"`,
	} {
		_, err := LoadTask(name, RC, LoadOptions{DataDir: tmp})
		var ie *InputError
		if !errors.As(err, &ie) || !strings.Contains(err.Error(), want) || !strings.Contains(ie.Hint, "NAME:rc:bpb") {
			t.Errorf("LoadTask(%q) = %v, want an input error %q listing the forms", name, err, want)
		}
		if _, err := CheckTasks([]string{name}, LoadOptions{DataDir: tmp}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckTasks(%q) = %v, want %q", name, err, want)
		}
	}
}
