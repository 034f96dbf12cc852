package data

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/olmolab/olmolab/lab/data/world"
)

// TestTokenFiles reads uint16 and uint32 files: over one epoch every complete instance of every file is served once,
// the remainder of each file is dropped (OLMo's file_tokens // seq_len), and glob paths work.
func TestTokenFiles(t *testing.T) {
	for _, dt := range []DType{Uint16, Uint32} {
		t.Run(dt.String(), func(t *testing.T) {
			dir := t.TempDir()
			const T = 16
			// File a: 5 instances + 3 left over; file b: 2 instances + 15 left over. Token values encode (file, position).
			a := make([]uint32, 5*T+3)
			for i := range a {
				a[i] = uint32(i)
			}
			b := make([]uint32, 2*T+15)
			for i := range b {
				b[i] = uint32(1000 + i)
			}
			writeTokens(t, filepath.Join(dir, "a.npy"), dt, a)
			writeTokens(t, filepath.Join(dir, "b.npy"), dt, b)
			// uint16 files hold the ids of a vocabulary that fits (world's); dolma2's do not fit
			var tok Tokenizer = dolma2()
			if dt == Uint16 {
				tok = worldTokenizer()
			}
			l := mustLoader(t, LoaderParams{Tokenizer: tok, SeqLen: T, DType: dt,
				Sources: []SourceSpec{{Name: "tok", TargetRatio: 1, Paths: []string{filepath.Join(dir, "*.npy")}}}})
			got := map[int32]bool{}
			for _, batch := range batches(t, l, 7, 1) {
				// Each instance is one aligned chunk of one file.
				first := batch[0]
				if first%T != 0 && (first-1000)%T != 0 {
					t.Fatalf("instance starts at %d, not a chunk boundary", first)
				}
				for i, v := range batch {
					if v != first+int32(i) {
						t.Fatalf("instance not contiguous: %v", batch)
					}
				}
				if got[first] {
					t.Fatalf("chunk %d served twice in one epoch", first)
				}
				got[first] = true
			}
			want := []int32{0, 16, 32, 48, 64, 1000, 1016}
			keys := make([]int32, 0, len(got))
			for k := range got {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			if !slices.Equal(keys, want) {
				t.Errorf("epoch served chunks %v, want %v", keys, want)
			}
			// The next epoch is another permutation of the same chunks.
			second := map[int32]bool{}
			for _, batch := range batches(t, l, 7, 1) {
				second[batch[0]] = true
			}
			if len(second) != 7 {
				t.Errorf("second epoch served %d distinct chunks, want 7", len(second))
			}
		})
	}
}

// TestDocumentFormats reads the same documents from .jsonl, .jsonl.gz, .jsonl.zst, .json.gz, .txt and a directory:
// the stream is the documents' tokens, each followed by EOS, packed into instances.
func TestDocumentFormats(t *testing.T) {
	docs := []string{"alpha beta", "gamma\ndelta", "épsilon 🙂", "zeta"}
	var want []int32
	tok := byteTokenizer{}
	for _, d := range docs {
		want = append(tok.Encode(want, d), tok.EOS())
	}
	dir := t.TempDir()
	cases := map[string]string{
		"jsonl":     writeFile(t, filepath.Join(dir, "d.jsonl"), jsonl(docs...)),
		"jsonl.gz":  writeFile(t, filepath.Join(dir, "d.jsonl.gz"), gz(jsonl(docs...))),
		"jsonl.zst": writeFile(t, filepath.Join(dir, "d.jsonl.zst"), zst(jsonl(docs...))),
		"json.gz":   writeFile(t, filepath.Join(dir, "d.json.gz"), gz(jsonl(docs...))),
		"txt":       writeFile(t, filepath.Join(dir, "txt", "d.txt"), []byte(strings.Join(docs, "\n"))),
	}
	for name, path := range cases {
		t.Run(name, func(t *testing.T) {
			w := want
			if name == "txt" { // a text file is one document
				w = append(tok.Encode(nil, strings.Join(docs, "\n")), tok.EOS())
			}
			const T = 8
			// in file order, as a validation set reads it (training shuffles the instances: TestSeedOrdersDocuments)
			l := mustLoader(t, LoaderParams{SeqLen: T, Sources: []SourceSpec{{Name: "d", TargetRatio: 1, Paths: []string{path}}}, heldOut: true})
			n := (2*len(w) + T - 1) / T // two epochs' worth
			var got []int32
			for _, b := range batches(t, l, n, 1) {
				got = append(got, b...)
			}
			twice := append(slices.Clone(w), w...)
			if !slices.Equal(got[:len(twice)], twice) {
				t.Errorf("stream\n got %v\nwant %v", got[:len(twice)], twice)
			}
		})
	}
	// A directory of files: every file's documents, each file whole.
	l := mustLoader(t, LoaderParams{SeqLen: 4, Sources: []SourceSpec{{Name: "dir", TargetRatio: 1, Paths: []string{filepath.Join(dir, "txt")}}}})
	batches(t, l, 3, 2)
}

// TestMixtureRatios draws 10^5 instances from five sources at 60/15/10/10/5: every source is within 1% of its share
// (the round-robin keeps it within one instance).
func TestMixtureRatios(t *testing.T) {
	dir := t.TempDir()
	ratios := []float64{0.6, 0.15, 0.1, 0.1, 0.05}
	var specs []SourceSpec
	for i, r := range ratios {
		// Source i's tokens are all i, so each instance says where it came from.
		ids := make([]uint32, 64)
		for j := range ids {
			ids[j] = uint32(i)
		}
		p := writeTokens(t, filepath.Join(dir, fmt.Sprintf("s%d.npy", i)), Uint16, ids)
		specs = append(specs, SourceSpec{Name: fmt.Sprintf("s%d", i), TargetRatio: r, Paths: []string{p}})
	}
	const T, n = 4, 100_000
	l := mustLoader(t, LoaderParams{SeqLen: T, Sources: specs, Prefetch: 1024})
	count := make([]int, len(ratios))
	ids := make([]int32, 1000*T)
	for range n / 1000 {
		if err := l.Next(ids); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < len(ids); i += T {
			count[ids[i]]++
		}
	}
	tokens := l.TokensBySource()
	for i, r := range ratios {
		got := float64(count[i]) / n
		if math.Abs(got-r) > 0.01*r {
			t.Errorf("source %d: share %.5f, want %.5f ± 1%%", i, got, r)
		}
		if math.Abs(float64(count[i])-r*n) > 1 {
			t.Errorf("source %d: %d instances, want %.0f ± 1", i, count[i], r*n)
		}
		if tokens[specs[i].Name] != int64(count[i]*T) {
			t.Errorf("TokensBySource[%s] = %d, counted %d", specs[i].Name, tokens[specs[i].Name], count[i]*T)
		}
	}
}

func builtinMix() []SourceSpec {
	return []SourceSpec{
		{Name: "web_noisy", TargetRatio: 0.6, Paths: []string{"builtin:web_noisy"}},
		{Name: "web_clean", TargetRatio: 0.15, Paths: []string{"builtin:web_clean"}},
		{Name: "code", TargetRatio: 0.1, Paths: []string{"builtin:code"}},
		{Name: "math", TargetRatio: 0.1, Paths: []string{"builtin:math"}},
		{Name: "qa", TargetRatio: 0.05, Paths: []string{"builtin:qa"}},
	}
}

// TestDeterminism: the same seed gives the same batches whatever the goroutines do; another seed other batches.
func TestDeterminism(t *testing.T) {
	mk := func(seed uint64, workers int) [][]int32 {
		l := mustLoader(t, LoaderParams{Tokenizer: worldTokenizer(), SeqLen: 32, Seed: seed, Workers: workers, Prefetch: 3, Sources: builtinMix()})
		return batches(t, l, 20, 4)
	}
	a := mk(1, 1)
	if !equalBatches(a, mk(1, 4)) {
		t.Error("same seed, different worker count: different batches")
	}
	if equalBatches(a, mk(2, 2)) {
		t.Error("different seeds gave the same batches")
	}
	// A fixed prefix guards against silent changes of the data order across versions and machines.
	if got := fmt.Sprint(a[0][:8]); got != goldenPrefix {
		t.Errorf("first ids of seed 1 = %s, want %s (the data order changed: bump LoaderState's version if intended)", got, goldenPrefix)
	}
}

const goldenPrefix = "[664 349 736 349 731 349 735 10]"

// TestSetMix switches the mix mid-run: per-source token counts are exact before and after, the new ratios hold
// from the next instance, and a source can be added by a switch.
func TestSetMix(t *testing.T) {
	const T = 16
	l := mustLoader(t, LoaderParams{Tokenizer: worldTokenizer(), SeqLen: T, Sources: builtinMix()})
	batches(t, l, 50, 20) // 1000 instances
	before := l.TokensBySource()
	want := map[string]int64{"web_noisy": 600 * T, "web_clean": 150 * T, "code": 100 * T, "math": 100 * T, "qa": 50 * T}
	for k, v := range want {
		if before[k] != v {
			t.Errorf("before switch: %s served %d tokens, want %d", k, before[k], v)
		}
	}
	var w warnings
	l.p.Warn = w.warn
	err := l.SetMix([]SourceSpec{{Name: "web_clean", TargetRatio: 2}, {Name: "math", TargetRatio: 1}, {Name: "qa", TargetRatio: 1},
		{Name: "extra_qa", TargetRatio: 0, Paths: []string{"builtin:qa"}}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(w.joined(), "normalising") {
		t.Errorf("no normalisation warning: %q", w.joined())
	}
	batches(t, l, 40, 10) // 400 instances on 50/25/25
	after := l.TokensBySource()
	add := map[string]int64{"web_noisy": 0, "web_clean": 200 * T, "code": 0, "math": 100 * T, "qa": 100 * T, "extra_qa": 0}
	for k, v := range add {
		if after[k]-before[k] != v {
			t.Errorf("after switch: %s served %d more tokens, want %d", k, after[k]-before[k], v)
		}
	}
	mix := l.Mix()
	if len(mix) != 6 || mix[1].TargetRatio != 0.5 || mix[0].TargetRatio != 0 {
		t.Errorf("Mix() = %+v", mix)
	}
	// Bad switches change nothing.
	for _, bad := range [][]SourceSpec{
		{{Name: "web_clean", TargetRatio: -1}},
		{{Name: "nope", TargetRatio: 1}},
		{{Name: "web_clean", TargetRatio: 0}},
		{{Name: "web_clean", TargetRatio: math.NaN()}},
	} {
		if err := l.SetMix(bad); !IsInputError(err) {
			t.Errorf("SetMix(%+v) = %v, want InputError", bad, err)
		}
	}
	if got := l.Mix(); got[1].TargetRatio != 0.5 {
		t.Error("a failed SetMix changed the mix")
	}
}

// TestRestore checkpoints mid-run (mid-document, after a switch that added a source), serialises the state to JSON,
// and checks that a fresh loader restored from it serves exactly what the original serves next, for every kind of
// source.
func TestRestore(t *testing.T) {
	dir := t.TempDir()
	var docs []string
	for i := range 40 {
		docs = append(docs, fmt.Sprintf("document %d %s", i, strings.Repeat("x", i%13)))
	}
	writeFile(t, filepath.Join(dir, "j", "a.jsonl"), jsonl(docs[:20]...))
	writeFile(t, filepath.Join(dir, "j", "b.jsonl.gz"), gz(jsonl(docs[20:]...)))
	writeTokens(t, filepath.Join(dir, "t.npy"), Uint16, seqIDs(1000, 300))
	specs := []SourceSpec{
		{Name: "json", TargetRatio: 0.3, Paths: []string{filepath.Join(dir, "j")}},
		{Name: "tok", TargetRatio: 0.3, Paths: []string{filepath.Join(dir, "t.npy")}},
		{Name: "web", TargetRatio: 0.4, Paths: []string{"builtin:web_clean"}},
	}
	params := LoaderParams{Tokenizer: worldTokenizer(), SeqLen: 12, Seed: 5, Sources: specs, Prefetch: 7}
	a := mustLoader(t, params)
	batches(t, a, 9, 3)
	if err := a.SetMix([]SourceSpec{{Name: "json", TargetRatio: 0.5}, {Name: "qa", TargetRatio: 0.5, Paths: []string{"builtin:qa"}}}); err != nil {
		t.Fatal(err)
	}
	batches(t, a, 5, 3)
	raw, err := json.Marshal(a.State())
	if err != nil {
		t.Fatal(err)
	}
	wantNext := batches(t, a, 30, 3)
	wantTokens := a.TokensBySource()

	var st LoaderState
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatal(err)
	}
	b := mustLoader(t, params)
	batches(t, b, 2, 3) // a restored loader may have served anything before
	if err := b.Restore(st); err != nil {
		t.Fatal(err)
	}
	if got := batches(t, b, 30, 3); !equalBatches(got, wantNext) {
		t.Fatal("restored loader serves different batches")
	}
	gotTokens := b.TokensBySource()
	for k, v := range wantTokens {
		if gotTokens[k] != v {
			t.Errorf("tokens of %s: restored %d, uninterrupted %d", k, gotTokens[k], v)
		}
	}
	// A state from another recipe is refused.
	st.SeqLen = 99
	if err := b.Restore(st); !IsInputError(err) {
		t.Errorf("Restore with another seq_len: %v", err)
	}
}

// TestBadInput: every problem a person can cause is an *InputError before training, saying where.
// pkgPrefix is this package's name starting a line of a message, as in
// "data: source …", which says nothing to whoever gave the data.
var pkgPrefix = regexp.MustCompile(`(?m)^data: `)

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	odd := writeFile(t, filepath.Join(dir, "odd.npy"), []byte{1, 2, 3})
	big := writeTokens(t, filepath.Join(dir, "big.npy"), Uint16, []uint32{1, 2, 500, 3})
	short := writeTokens(t, filepath.Join(dir, "short.npy"), Uint16, []uint32{1})
	// uint32 ids (olmolab tokenize --dtype uint32) read as uint16: every id followed by a 0, all below the vocabulary.
	wide := writeTokens(t, filepath.Join(dir, "wide.npy"), Uint32, seqIDs(64, 200))
	// np.save's format: a header that would be read as ids.
	npy := writeFile(t, filepath.Join(dir, "saved.npy"), append([]byte("\x93NUMPY\x01\x00\x76\x00{'descr': '<u2', 'fortran_order': False, 'shape': (8,), }"), make([]byte, 16)...))
	malformed := writeFile(t, filepath.Join(dir, "bad.jsonl"), []byte("{\"text\": \"ok\"}\n{\"text\": nope}\n{\"id\": 3}\n{\"text\": \"fine\"}\n"))
	empty := writeFile(t, filepath.Join(dir, "empty.jsonl"), []byte("\n{\"text\": \"\"}\n"))
	notgz := writeFile(t, filepath.Join(dir, "fake.jsonl.gz"), []byte("plain text"))
	unknown := writeFile(t, filepath.Join(dir, "data.parquet"), []byte("PAR1"))
	writeFile(t, filepath.Join(dir, "emptydir", "README"), []byte("x"))
	// Latin-1, not UTF-8: it trained on U+FFFD wherever an accent was, without a word
	latin1 := writeFile(t, filepath.Join(dir, "latin1.txt"), []byte("caf\xe9 cr\xe8me"))
	// a JSON array (a Hugging Face export, json.dump of a list): eight
	// "malformed line" warnings, then "no document with text"
	array := writeFile(t, filepath.Join(dir, "array.json"), []byte("[\n  {\"text\": \"a doc\"},\n  {\"text\": \"another\"}\n]\n"))
	latin1JSON := writeFile(t, filepath.Join(dir, "latin1.jsonl"), []byte("{\"text\": \"ok\"}\n{\"text\": \"caf\xe9\"}\n"))
	// a gzip file damaged in the middle: the reader's error, and a hint what to do
	var many []string
	for i := range 3000 {
		many = append(many, fmt.Sprintf("document %d, one of many", i))
	}
	whole := gz(jsonl(many...))
	cut := writeFile(t, filepath.Join(dir, "cut.jsonl.gz"), whole[:len(whole)/2])
	whole = zst(jsonl(many...))
	cutZst := writeFile(t, filepath.Join(dir, "cut.jsonl.zst"), whole[:len(whole)/2])
	src := func(r float64, paths ...string) []SourceSpec {
		return []SourceSpec{{Name: "s", TargetRatio: r, Paths: paths}}
	}
	tests := []struct {
		name    string
		sources []SourceSpec
		strict  bool
		want    []string // substrings of the error
	}{
		{"missing file", src(1, filepath.Join(dir, "nope.npy")), false, []string{"nope.npy", "no such file"}},
		{"glob without match", src(1, filepath.Join(dir, "*.bin")), false, []string{"glob matches no file"}},
		// a shell's ~ and $VARIABLES are not expanded in a recipe: the hint
		// says so, where it said only to check the path
		{"tilde", src(1, "~/data/*.npy"), false, []string{"~/data/*.npy: glob matches no file", "HINT: olmolab does not expand ~ or $VARIABLES in paths"}},
		{"variable", src(1, "$DATA/x.npy"), false, []string{"$DATA/x.npy: no such file", "HINT: olmolab does not expand ~ or $VARIABLES in paths"}},
		{"size not a multiple", src(1, odd), false, []string{"odd.npy", "not a multiple of 2"}},
		{"id past vocab", src(1, big), false, []string{"big.npy", "token 500 (at index 2)", "384"}},
		{"empty token source", src(1, short), false, []string{"short.npy: empty", "no complete instance"}},
		{"uint32 ids as uint16", src(1, wide), false, []string{"wide.npy", "every second uint16 is 0", "dataset.dtype: uint32"}},
		{"np.save header", src(1, npy), false, []string{"saved.npy", "NumPy .npy file with a header", "tofile"}},
		{"malformed strict", src(1, malformed), true, []string{"bad.jsonl:2", "malformed JSON line", "strict"}},
		{"empty documents", src(1, empty), false, []string{"empty.jsonl: empty", "no document with text"}},
		{"not gzip", src(1, notgz), false, []string{"fake.jsonl.gz", "gzip"}},
		{"JSON array", src(1, array), false, []string{"array.json:1: a JSON array, not JSON lines", "HINT: write one object per line: jq -c '.[]'"}},
		{"not UTF-8 text", src(1, latin1), false, []string{"latin1.txt: not UTF-8 text: byte 0xe9 at offset 3", "HINT: convert it to UTF-8"}},
		{"not UTF-8 JSON strict", src(1, latin1JSON), true, []string{"latin1.jsonl:2", "invalid UTF-8 (byte 0xe9 at column 14)"}},
		{"gzip cut short", src(1, cut), false, []string{"cut.jsonl.gz:", "unexpected EOF", "HINT: the file is damaged or cut short (gzip -t"}},
		{"zstd cut short", src(1, cutZst), false, []string{"cut.jsonl.zst:", "HINT: the file is damaged or cut short (zstd -t"}},
		{"unknown type", src(1, unknown), false, []string{"data.parquet", "unknown file type"}},
		{"empty dir", src(1, filepath.Join(dir, "emptydir")), false, []string{"no data files"}},
		{"remote", src(1, "s3://bucket/x.npy"), false, []string{"remote paths"}},
		{"unknown builtin", src(1, "builtin:poetry"), false, []string{"unknown built-in", "builtin:web_clean"}},
		{"negative ratio", src(-0.5, "builtin:qa"), false, []string{"target_ratio -0.5"}},
		{"missing ratio", src(math.NaN(), "builtin:qa"), false, []string{"missing target_ratio"}},
		{"zero ratios", src(0, "builtin:qa"), false, []string{"every target_ratio is zero"}},
		{"no paths", src(1), false, []string{"no paths"}},
		{"no sources", nil, false, []string{"no data sources"}},
		{"duplicate names", append(src(1, "builtin:qa"), src(1, "builtin:math")...), false, []string{"two sources"}},
		{"mixed kinds", src(1, big, malformed), false, []string{"mixes 1 token file and 1 document file"}},
		{"builtin with files", src(1, "builtin:qa", malformed), false, []string{"only path"}},
	}
	// dolma2 ids as OLMo writes them (uint32, EOS 100257 = 0x187A1 after each document) read as uint16: the high
	// halves are 0 or 1, not all 0, and every half is below the vocabulary, so only the dtype can tell.
	dolma := writeTokens(t, filepath.Join(dir, "dolma2.npy"), Uint32, slices.Repeat([]uint32{15339, 1917, 100257}, 32))
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewLoader(LoaderParams{Tokenizer: byteTokenizer{}, SeqLen: 2, Sources: tc.sources, Strict: tc.strict})
			if !IsInputError(err) {
				t.Fatalf("err = %v, want an InputError", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			// what the user reads: no Go package name starting a line (the
			// caller adds the recipe's file and field), and what to do
			if m := pkgPrefix.FindString(err.Error()); m != "" {
				t.Errorf("a line starts with the package's name %q:\n%v", m, err)
			}
			if !strings.Contains(err.Error(), "\nHINT: ") {
				t.Errorf("no HINT:\n%v", err)
			}
		})
	}
	_, err := NewLoader(LoaderParams{Tokenizer: dolma2(), SeqLen: 8, DType: Uint16, Sources: src(1, dolma)})
	if !IsInputError(err) || !strings.Contains(err.Error(), "uint16 cannot hold the ids of tokenizer dolma2") {
		t.Errorf("dolma2 uint32 file read as uint16: %v, want an InputError", err)
	}
	// Lenient: malformed lines are warnings with file:line, and the rest of the file is read.
	var w warnings
	l := mustLoader(t, LoaderParams{SeqLen: 3, Sources: src(1, malformed), Warn: w.warn, heldOut: true}) // in file order
	for _, want := range []string{"bad.jsonl:2: invalid character", "bad.jsonl:3: no \"text\" field"} {
		if !strings.Contains(w.joined(), want) {
			t.Errorf("warnings %q do not mention %q", w.joined(), want)
		}
	}
	if m := pkgPrefix.FindString(w.joined()); m != "" {
		t.Errorf("a warning starts with the package's name %q:\n%s", m, w.joined())
	}
	var got []int32
	for _, b := range batches(t, l, 3, 1) {
		got = append(got, b...)
	}
	if s := (byteTokenizer{}).Decode(got[:8]); s != "ok<|endoftext|>fine<|endoftext|>" {
		t.Errorf("lenient stream = %q", s)
	}
	if _, err := NewLoader(LoaderParams{Tokenizer: byteTokenizer{}, SeqLen: 0, Sources: src(1, "builtin:qa")}); !IsInputError(err) {
		t.Errorf("SeqLen 0: %v", err)
	}
}

// TestPrefetch: once the queues are full, a trainer that takes fewer instances than are queued never waits.
func TestPrefetch(t *testing.T) {
	l := mustLoader(t, LoaderParams{Tokenizer: worldTokenizer(), SeqLen: 128, Prefetch: 64, Sources: builtinMix()})
	deadline := time.Now().Add(10 * time.Second)
	for _, s := range l.srcs {
		for len(s.prod.ch) < cap(s.prod.ch) && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
	}
	batches(t, l, 6, 16) // 96 instances: at most 58 from one source
	if st := l.Stats(); st.Waits != 0 || st.Instances != 96 {
		t.Errorf("Stats = %+v, want 96 instances and no wait", st)
	}
	// Close stops everything; Next then fails.
	l.Close()
	if err := l.Next(make([]int32, 128)); err == nil {
		t.Error("Next after Close succeeded")
	}
}

func TestPermute(t *testing.T) {
	for _, n := range []int64{1, 2, 3, 7, 64, 1000, 4097} {
		seen := make([]bool, n)
		for i := range n {
			j := permute(i, n, 42)
			if j < 0 || j >= n || seen[j] {
				t.Fatalf("n=%d: permute(%d) = %d repeats or leaves the range", n, i, j)
			}
			seen[j] = true
		}
	}
	// Not the identity, and different keys differ.
	same := 0
	for i := range int64(1000) {
		if permute(i, 1000, 1) == permute(i, 1000, 2) {
			same++
		}
	}
	if same > 20 {
		t.Errorf("keys 1 and 2 agree on %d of 1000 positions", same)
	}
}

// TestCheckMix: a mix the run will switch to later is checked up front, as SetMix and NewLoader would check it, and
// checking changes nothing. A source the loader serves is not reopened: its file may since have gone.
func TestCheckMix(t *testing.T) {
	const T = 16
	dir := t.TempDir()
	tokPath := writeTokens(t, filepath.Join(dir, "a.npy"), Uint16, slices.Repeat([]uint32{1, 2, 3, world.TokenizerEOS}, 16))
	docPath := writeFile(t, filepath.Join(dir, "d.jsonl"), jsonl("one document", "another"))
	l := mustLoader(t, LoaderParams{Tokenizer: worldTokenizer(), SeqLen: T, Sources: []SourceSpec{
		{Name: "tok", TargetRatio: 1, Paths: []string{tokPath}},
		{Name: "web", TargetRatio: 1, Paths: []string{"builtin:web_clean"}},
	}})
	before := l.Mix()
	if err := os.Remove(tokPath); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		mix  []SourceSpec
		want string // "" for no error, else a part of it
	}{
		{"known sources", []SourceSpec{{Name: "tok", TargetRatio: 1, Paths: []string{tokPath}}, {Name: "web", TargetRatio: 1}}, ""},
		{"new good sources", []SourceSpec{{Name: "qa", TargetRatio: 1, Paths: []string{"builtin:qa"}}, {Name: "docs", TargetRatio: 1, Paths: []string{docPath}}}, ""},
		{"missing file", []SourceSpec{{Name: "web", TargetRatio: 1}, {Name: "math", TargetRatio: 1, Paths: []string{filepath.Join(dir, "math-*.npy")}}}, "math-*.npy"},
		{"known name, other files", []SourceSpec{{Name: "tok", TargetRatio: 1, Paths: []string{filepath.Join(dir, "b.npy")}}}, "b.npy"},
		{"unknown built-in", []SourceSpec{{Name: "x", TargetRatio: 1, Paths: []string{"builtin:nope"}}}, "builtin:nope"},
		{"negative ratio", []SourceSpec{{Name: "web", TargetRatio: -1}}, "target_ratio -1"},
		{"two of a name", []SourceSpec{{Name: "web", TargetRatio: 1}, {Name: "web", TargetRatio: 1}}, "two sources"},
	} {
		err := l.CheckMix(c.mix)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (!IsInputError(err) || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: got %v, want an InputError naming %q", c.name, err, c.want)
		}
	}
	if got := l.Mix(); !slices.EqualFunc(got, before, func(a, b SourceSpec) bool { return a.Name == b.Name && a.TargetRatio == b.TargetRatio }) {
		t.Errorf("CheckMix changed the mix: %+v, was %+v", got, before)
	}
}

// TestRestoreRefusesDamagedState: a loader state with a negative weight,
// count or cursor, a bad ratio or a source named twice is refused with the
// field named, where it restored and served from a position that cannot
// exist (a negative weight made its source never come up, in silence).
func TestRestoreRefusesDamagedState(t *testing.T) {
	dir := t.TempDir()
	toks := writeTokens(t, filepath.Join(dir, "tok.npy"), Uint16, seqIDs(4096, 200))
	specs := []SourceSpec{{Name: "a", TargetRatio: 0.5, Paths: []string{toks}}, {Name: "b", TargetRatio: 0.5, Paths: []string{toks}}}
	l := mustLoader(t, LoaderParams{SeqLen: 8, Seed: 1, DType: Uint16, Sources: specs})
	batches(t, l, 3, 4)
	good := l.State()
	for _, c := range []struct {
		edit func(*LoaderState)
		want string
	}{
		{func(*LoaderState) {}, ""},
		{func(s *LoaderState) { s.Sources[1].Credit = -s.Sources[1].Weight }, ""}, // credits go negative in the round robin
		{func(s *LoaderState) { s.Sources[0].Weight = -1 }, `loader.sources[0].weight ("a"): -1 is negative`},
		{func(s *LoaderState) { s.Sources[1].Cursor.Instance = -5 }, `loader.sources[1].cursor.instance ("b"): -5 is negative`},
		{func(s *LoaderState) { s.Sources[1].Instances = -5 }, `loader.sources[1].instances`},
		{func(s *LoaderState) { s.Sources[0].TargetRatio = math.Inf(1) }, `loader.sources[0].target_ratio`},
		{func(s *LoaderState) { s.Sources[1].Name = "a" }, `source "a" is given twice`},
		{func(s *LoaderState) { s.Instances = -1 }, `loader.instances: -1`},
		{func(s *LoaderState) { s.Sources[0].Cursor.Window = docShuffleWindow }, `loader.sources[0].cursor.window ("a"): 256 is not below the shuffle window`},
	} {
		st := good
		st.Sources = slices.Clone(good.Sources)
		c.edit(&st)
		l := mustLoader(t, LoaderParams{SeqLen: 8, Seed: 1, DType: Uint16, Sources: specs})
		err := l.Restore(st)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("a good state refused: %v", err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("err %v, want one saying %q", err, c.want)
		}
	}
}

// TestSourceErrorNamedOnce: a source's error that names the source already
// (an InputError) is not prefixed with it a second time.
func TestSourceErrorNamedOnce(t *testing.T) {
	dir := t.TempDir()
	docs := writeFile(t, filepath.Join(dir, "docs.jsonl"), jsonl("one document", "another document, longer"))
	l := mustLoader(t, LoaderParams{SeqLen: 8, Seed: 1, Sources: []SourceSpec{{Name: "docs", TargetRatio: 1, Paths: []string{docs}}}})
	st := l.State()
	st.Sources[0].Cursor.Doc = 99 // past the file's documents: it changed, or the state is damaged
	l = mustLoader(t, LoaderParams{SeqLen: 8, Seed: 1, Sources: []SourceSpec{{Name: "docs", TargetRatio: 1, Paths: []string{docs}}}})
	if err := l.Restore(st); err != nil {
		t.Fatal(err)
	}
	err := l.Next(make([]int32, 8))
	if err == nil || strings.Count(err.Error(), `source "docs"`) != 1 {
		t.Errorf("err %v, want one naming the source once", err)
	}
}

// TestRestoreSaysTheFilesChanged: a document source resumed over another
// number of files (one added, or a README beside JSONL files that an older
// olmolab read as documents) says the data order is not the checkpoint's:
// the cursor indexes a shuffle of the files, so the rest of the epoch is
// another. It resumed without a word.
func TestRestoreSaysTheFilesChanged(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a.jsonl"), jsonl("one document", "two documents"))
	writeFile(t, filepath.Join(dir, "b.jsonl"), jsonl("three documents", "four documents"))
	var w warnings
	params := LoaderParams{Tokenizer: worldTokenizer(), SeqLen: 4, Seed: 5, Warn: w.warn,
		Sources: []SourceSpec{{Name: "docs", TargetRatio: 1, Paths: []string{dir}}}}
	a := mustLoader(t, params)
	batches(t, a, 2, 1)
	st := a.State()
	if st.Sources[0].Files != 2 {
		t.Fatalf("state's files %d, want 2", st.Sources[0].Files)
	}
	if err := mustLoader(t, params).Restore(st); err != nil || w.joined() != "" {
		t.Fatalf("the same files: %v, warnings %q", err, w.joined())
	}
	writeFile(t, filepath.Join(dir, "c.jsonl"), jsonl("five documents"))
	if err := mustLoader(t, params).Restore(st); err != nil {
		t.Fatal(err)
	}
	if got := w.joined(); !strings.Contains(got, `source "docs" had 2 files when the checkpoint was written and has 3 now`) {
		t.Errorf("warnings %q", got)
	}

	// a state from before the count, of a directory whose README an older
	// olmolab read as a document
	writeFile(t, filepath.Join(dir, "README.md"), []byte("notes\n"))
	st.Sources[0].Files = 0
	w = warnings{}
	if err := mustLoader(t, params).Restore(st); err != nil {
		t.Fatal(err)
	}
	if got := w.joined(); !strings.Contains(got, "the checkpoint is from an olmolab that read the 1 text file now skipped") {
		t.Errorf("an older state: warnings %q", got)
	}
}

// TestRestoreSaysTheGlobSkipsHidden: a state from before the file count, of
// a glob whose wildcards matched hidden files then (an olmolab before
// WithNoHidden read them as documents), says the data order is not the
// checkpoint's; the same glob without hidden matches resumes without a word.
// It resumed silently on fewer files.
func TestRestoreSaysTheGlobSkipsHidden(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a.jsonl"), jsonl("one document", "two documents"))
	writeFile(t, filepath.Join(dir, "b.jsonl"), jsonl("three documents", "four documents"))
	var w warnings
	params := LoaderParams{Tokenizer: worldTokenizer(), SeqLen: 4, Seed: 5, Warn: w.warn,
		Sources: []SourceSpec{{Name: "docs", TargetRatio: 1, Paths: []string{filepath.Join(dir, "**", "*.jsonl")}}}}
	a := mustLoader(t, params)
	batches(t, a, 2, 1)
	st := a.State()
	st.Sources[0].Files = 0 // written before the count
	if err := mustLoader(t, params).Restore(st); err != nil || w.joined() != "" {
		t.Fatalf("no hidden files: %v, warnings %q", err, w.joined())
	}
	writeFile(t, filepath.Join(dir, ".staging", "c.jsonl"), jsonl("five documents"))
	writeFile(t, filepath.Join(dir, ".d.jsonl"), jsonl("six documents"))
	if err := mustLoader(t, params).Restore(st); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("globs also read the 2 hidden files they now skip (%s, %s)",
		filepath.Join(dir, ".d.jsonl"), filepath.Join(dir, ".staging", "c.jsonl"))
	if got := w.joined(); !strings.Contains(got, want) {
		t.Errorf("warnings %q, want %q", got, want)
	}
}

// TestProblemsSayEachHintOnce: several problems found at once each name
// their source and file, and a hint they share comes once, after the last of
// them: two missing files said "check the path" twice.
func TestProblemsSayEachHintOnce(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "emptydir", "README"), []byte("x"))
	for _, tc := range []struct {
		name    string
		sources []SourceSpec
		hints   int // distinct hints
	}{
		{"two missing files", []SourceSpec{
			{Name: "a", TargetRatio: 1, Paths: []string{filepath.Join(dir, "a.npy")}},
			{Name: "b", TargetRatio: 1, Paths: []string{filepath.Join(dir, "b.npy")}}}, 1},
		{"three missing, one empty directory", []SourceSpec{
			{Name: "a", TargetRatio: 1, Paths: []string{filepath.Join(dir, "a.npy")}},
			{Name: "b", TargetRatio: 1, Paths: []string{filepath.Join(dir, "emptydir")}},
			{Name: "c", TargetRatio: 1, Paths: []string{filepath.Join(dir, "c.npy"), filepath.Join(dir, "d.npy")}}}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewLoader(LoaderParams{Tokenizer: byteTokenizer{}, SeqLen: 2, Sources: tc.sources})
			if !IsInputError(err) {
				t.Fatalf("err = %v, want an InputError", err)
			}
			msg := err.Error()
			for _, s := range tc.sources {
				for _, p := range s.Paths {
					if !strings.Contains(msg, fmt.Sprintf("source %q: %s: ", s.Name, p)) {
						t.Errorf("error does not name source %s's %s:\n%s", s.Name, p, msg)
					}
				}
			}
			hints := map[string]int{}
			lines := strings.Split(msg, "\n")
			for _, l := range lines {
				if h, ok := strings.CutPrefix(l, "HINT: "); ok {
					hints[h]++
				}
			}
			if len(hints) != tc.hints {
				t.Errorf("%d distinct hints, want %d:\n%s", len(hints), tc.hints, msg)
			}
			for h, n := range hints {
				if n != 1 {
					t.Errorf("hint %q said %d times:\n%s", h, n, msg)
				}
			}
			if !strings.HasPrefix(lines[len(lines)-1], "HINT: ") {
				t.Errorf("the message does not end with its hint:\n%s", msg)
			}
		})
	}
}

// TestRatioSumReadable: the normalisation warning gives the ratios' sum as a
// person wrote it (5 + 0.3 + 0.1 + 0.1 is 5.5), not float64's last digits
// (it read "sum to 5.499999999999999").
func TestRatioSumReadable(t *testing.T) {
	for _, c := range []struct {
		ratios []float64
		want   string
	}{
		{[]float64{5, 0.3, 0.1, 0.1}, "target_ratio values sum to 5.5, not 1"},
		{[]float64{0.1, 0.2}, "target_ratio values sum to 0.3, not 1"},
		{[]float64{1, 1, 1}, "target_ratio values sum to 3, not 1"},
	} {
		var specs []SourceSpec
		for i, r := range c.ratios {
			specs = append(specs, SourceSpec{Name: fmt.Sprint("s", i), TargetRatio: r})
		}
		var got []string
		if _, err := checkRatios(specs, func(w string) { got = append(got, w) }); err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || !strings.Contains(got[0], c.want) {
			t.Errorf("%v: warnings %q, want one with %q", c.ratios, got, c.want)
		}
	}
}

// TestRepeats: a file source whose data runs out starts over, and the loader
// says so once, when its second pass begins (the run trained on a 2-token
// text file 192 times without a word); Passes counts the passes; a built-in
// source never repeats; a Restore past a repeat does not report it again.
func TestRepeats(t *testing.T) {
	dir := t.TempDir()
	const T = 16
	tokens := writeTokens(t, filepath.Join(dir, "t.npy"), Uint16, seqIDs(3*T, 100)) // 3 instances a pass
	docs := writeFile(t, filepath.Join(dir, "d.jsonl"), jsonl(strings.Repeat("word ", 40)))
	p := LoaderParams{Tokenizer: worldTokenizer(), SeqLen: T, DType: Uint16, Sources: []SourceSpec{
		{Name: "tok", TargetRatio: 1, Paths: []string{tokens}},
		{Name: "doc", TargetRatio: 1, Paths: []string{docs}},
		{Name: "web", TargetRatio: 1, Paths: []string{"builtin:web_clean"}},
	}}
	l := mustLoader(t, p)
	ids := make([]int32, 3*T) // one instance of each source per call
	var got []Repeat
	for range 3 {
		if err := l.Next(ids); err != nil {
			t.Fatal(err)
		}
		got = append(got, l.TakeRepeats()...)
	}
	if len(got) != 0 {
		t.Fatalf("repeats within the first pass: %v", got)
	}
	st := l.State()
	for range 10 {
		if err := l.Next(ids); err != nil {
			t.Fatal(err)
		}
		got = append(got, l.TakeRepeats()...)
	}
	var tok, doc int
	for _, r := range got {
		switch r.Source {
		case "tok":
			tok++
			if r.Tokens != 3*T {
				t.Errorf("tok repeats after %d tokens, want %d", r.Tokens, 3*T)
			}
		case "doc":
			doc++
		default:
			t.Errorf("repeat of %s", r.Source)
		}
	}
	if tok != 1 || doc != 1 {
		t.Errorf("repeats %v: want tok and doc once each", got)
	}
	if ps := l.Passes(); ps["tok"] != 5 || ps["doc"] < 2 || ps["web"] != 0 {
		t.Errorf("passes %v: want tok 5 (13 instances of 3 a pass), doc 2 or more, no web", ps)
	}
	// back at the end of the first pass, the repeat is new again; past it, not
	l.Restore(st)
	if err := l.Next(ids); err != nil {
		t.Fatal(err)
	}
	if r := l.TakeRepeats(); len(r) != 1 || r[0].Source != "tok" {
		t.Errorf("after a restore to the first pass: repeats %v, want tok", r)
	}
	st = l.State()
	l2 := mustLoader(t, p)
	if err := l2.Restore(st); err != nil {
		t.Fatal(err)
	}
	// a resumed run's summary counts the passes the run made: a document
	// source's cursor is where its shuffle window starts, a pass behind the
	// instances of a window past the end of the files (3 passes, 2 resumed)
	for i := range 12 {
		st := l.State()
		r := mustLoader(t, p)
		if err := r.Restore(st); err != nil {
			t.Fatal(err)
		}
		if got, want := r.Passes(), l.Passes(); got["doc"] != want["doc"] {
			t.Errorf("after %d more instances: restored passes %v, want %v", i, got, want)
		}
		if err := l.Next(ids); err != nil {
			t.Fatal(err)
		}
	}
	if err := l2.Next(ids); err != nil {
		t.Fatal(err)
	}
	for _, r := range l2.TakeRepeats() {
		if r.Source == "tok" {
			t.Errorf("a restore past tok's repeat reports it again: %v", r)
		}
	}
}

// TestSeedOrdersDocuments: the data-order seed changes the order in which a
// document source's instances come, also when the source is one JSONL file
// (the file order, the only thing a seed shuffled, is then fixed): soup
// ingredients (one seed each) and `sweep --seeds` runs trained on identical
// batches. Each seed still serves every instance of a pass once, and a
// restore mid-window serves what the uninterrupted loader serves.
func TestSeedOrdersDocuments(t *testing.T) {
	dir := t.TempDir()
	var docs []string
	for i := range 600 { // about 500 instances: two windows
		docs = append(docs, fmt.Sprintf("document %d: %s", i, strings.Repeat("abc ", i%7)))
	}
	path := writeFile(t, filepath.Join(dir, "one.jsonl"), jsonl(docs...))
	const T = 32
	mk := func(seed uint64) LoaderParams {
		return LoaderParams{SeqLen: T, Seed: seed, Prefetch: 5, Sources: []SourceSpec{{Name: "d", TargetRatio: 1, Paths: []string{path}}}}
	}
	a := batches(t, mustLoader(t, mk(1)), 10, 4)
	b := batches(t, mustLoader(t, mk(2)), 10, 4)
	if equalBatches(a, b) {
		t.Fatal("seeds 1 and 2 gave a one-file document source the same batches")
	}
	// The same instances, in another order: every pass still trains on each once.
	set := func(bs [][]int32) []string {
		var out []string
		for _, x := range bs {
			for i := 0; i < len(x); i += T {
				out = append(out, fmt.Sprint(x[i:i+T]))
			}
		}
		slices.Sort(out)
		return out
	}
	n := docShuffleWindow / 4 // one window
	if !slices.Equal(set(batches(t, mustLoader(t, mk(1)), n, 4)), set(batches(t, mustLoader(t, mk(3)), n, 4))) {
		t.Error("seeds 1 and 3 serve other instances over one window, not the same ones in another order")
	}
	// Resume in the middle of a window.
	l := mustLoader(t, mk(1))
	batches(t, l, 7, 3)
	st := l.State()
	want := batches(t, l, 30, 3)
	r := mustLoader(t, mk(1))
	if err := r.Restore(st); err != nil {
		t.Fatal(err)
	}
	if got := batches(t, r, 30, 3); !equalBatches(got, want) {
		t.Error("a restore in the middle of a shuffle window serves other batches")
	}
	// A checkpoint of an olmolab that served documents in file order resumes with a warning.
	var w warnings
	p := mk(1)
	p.Warn = w.warn
	old := mustLoader(t, p)
	st.Sources[0].Shuffle, st.Sources[0].Cursor.Window = 0, 0
	if err := old.Restore(st); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(w.joined(), "served its documents in file order") {
		t.Errorf("restore of a state without a shuffle window: warnings %q", w.joined())
	}
}

// TestTokenFilesWithoutEOS: token files whose ids all fit the vocabulary but
// that another tokenizer wrote (bytes ids under world's 2048, no EOS 2046
// anywhere), or that were cut short (not ending with EOS), trained without a
// word; each is now a warning naming the file. A file that ends its documents
// with EOS gets none.
func TestTokenFilesWithoutEOS(t *testing.T) {
	dir := t.TempDir()
	world := worldTokenizer()
	eos := uint32(world.EOS())
	var b []int32
	for _, d := range []string{"one document", "and another one"} {
		b = append((byteTokenizer{}).Encode(b, d), (byteTokenizer{}).EOS())
	}
	var bytesIDs, good []uint32
	for range 8 {
		for _, id := range b {
			bytesIDs = append(bytesIDs, uint32(id))
		}
		good = append(good, 5, 6, 7, eos)
	}
	cut := append(slices.Clone(good), 5, 6) // a document without its end
	for _, c := range []struct {
		name string
		ids  []uint32
		want string
	}{
		{"bytes.npy", bytesIDs, "1 token file holds no EOS (id 2046 of tokenizer world) at all"},
		{"cut.npy", cut, "1 token file does not end with EOS (id 2046)"},
		{"good.npy", good, ""},
	} {
		path := writeTokens(t, filepath.Join(dir, c.name), Uint16, c.ids)
		var w warnings
		mustLoader(t, LoaderParams{Tokenizer: world, SeqLen: 4, Warn: w.warn, Sources: []SourceSpec{{Name: "s", TargetRatio: 1, Paths: []string{path}}}})
		got := w.joined()
		if c.want == "" && got != "" || c.want != "" && (!strings.Contains(got, c.want) || !strings.Contains(got, c.name)) {
			t.Errorf("%s: warnings %q, want one saying %q and naming the file", c.name, got, c.want)
		}
	}
}

// TestTokenFileRemaindersWarned: OLMo cuts each token file into whole
// sequences and drops the rest, so a source of many short files loses much
// of its data: three files of 1.5 sequences dropped a third of their tokens
// without a word. Past a tenth, a warning says how much; one long file's
// remainder is not worth one.
func TestTokenFileRemaindersWarned(t *testing.T) {
	dir := t.TempDir()
	const T = 16
	eosEnd := func(n int) []uint32 {
		ids := seqIDs(n, 200)
		ids[n-1] = 256 // bytes' EOS
		return ids
	}
	var short []string
	for i := range 3 {
		short = append(short, writeTokens(t, filepath.Join(dir, fmt.Sprintf("s%d.npy", i)), Uint16, eosEnd(T+T/2)))
	}
	long := writeTokens(t, filepath.Join(dir, "long.npy"), Uint16, eosEnd(40*T+3))
	for _, c := range []struct {
		paths []string
		want  string
	}{
		{short, "24 of its 72 tokens (33.3%) are dropped: OLMo cuts each token file into whole sequences of 16 tokens"},
		{[]string{long}, ""},
	} {
		var w warnings
		mustLoader(t, LoaderParams{SeqLen: T, Warn: w.warn, Sources: []SourceSpec{{Name: "s", TargetRatio: 1, Paths: c.paths}}})
		if got := w.joined(); c.want == "" && got != "" || !strings.Contains(got, c.want) {
			t.Errorf("%d files: warnings %q, want %q", len(c.paths), got, c.want)
		}
	}
}

// TestPerSourceDType: a source's dtype reads its token files, the loader's
// (dataset.dtype) the others, so uint16 and uint32 files mix in one run; the
// checkpoint's mix keeps it, so a resume reads them alike, and a source named
// with another dtype is a source to open afresh (CheckMix).
func TestPerSourceDType(t *testing.T) {
	dir := t.TempDir()
	const T = 8
	narrow := writeTokens(t, filepath.Join(dir, "narrow.npy"), Uint16, slices.Repeat([]uint32{7}, 4*T))
	wide := writeTokens(t, filepath.Join(dir, "wide.npy"), Uint32, slices.Repeat([]uint32{300}, 4*T))
	specs := []SourceSpec{
		{Name: "narrow", TargetRatio: 0.5, Paths: []string{narrow}},
		{Name: "wide", TargetRatio: 0.5, Paths: []string{wide}, DType: Uint32},
	}
	l := mustLoader(t, LoaderParams{Tokenizer: worldTokenizer(), SeqLen: T, Sources: specs})
	seen := map[int32]int{}
	for _, b := range batches(t, l, 4, 1) {
		for _, id := range b {
			seen[id]++
		}
	}
	if len(seen) != 2 || seen[7] != 2*T || seen[300] != 2*T {
		t.Errorf("ids served: %v; want 7 (uint16 file) and 300 (uint32 file), %d each", seen, 2*T)
	}
	mix := l.Mix()
	if mix[0].DType != 0 || mix[1].DType != Uint32 {
		t.Errorf("Mix() dtypes %v, %v; want 0 (the loader's) and uint32", mix[0].DType, mix[1].DType)
	}
	b, _ := json.Marshal(mix)
	var back []SourceSpec
	if err := json.Unmarshal(b, &back); err != nil || !strings.Contains(string(b), `"dtype":"uint32"`) || back[1].DType != Uint32 {
		t.Errorf("the mix as a checkpoint keeps it: %s, %v (%v)", b, back, err)
	}
	// the same files under the same name as uint16: read afresh, and refused
	other := []SourceSpec{{Name: "wide", TargetRatio: 1, Paths: []string{wide}, DType: Uint16}}
	if err := l.CheckMix(other); err == nil || !strings.Contains(err.Error(), "every second uint16 is 0") {
		t.Errorf("CheckMix of the uint32 file as uint16: %v", err)
	}
}
