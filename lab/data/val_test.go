package data

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/olmolab/olmolab/lab/data/internal/rnd"
	"github.com/olmolab/olmolab/lab/data/world"
)

func readVal(t *testing.T, spec SourceSpec, tokens int64, w *warnings) []int32 {
	t.Helper()
	p := ValidationParams{Source: spec, Tokenizer: worldTokenizer(), SeqLen: 32, Tokens: tokens}
	if w != nil {
		p.Warn = w.warn
	}
	ids, err := ReadValidation(p)
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// TestReadValidationBuiltin: a built-in validation set is the same every time,
// whatever the source is called, and is not the start of any training stream.
func TestReadValidationBuiltin(t *testing.T) {
	a := readVal(t, SourceSpec{Name: "web", Paths: []string{"builtin:web_clean"}}, 1000, nil)
	b := readVal(t, SourceSpec{Name: "other_name", Paths: []string{"builtin:web_clean"}}, 1000, nil)
	if len(a) != 31*32 || !slices.Equal(a, b) {
		t.Fatalf("%d ids; two reads equal: %v", len(a), slices.Equal(a, b))
	}
	for _, seed := range []uint64{1, 7, HeldOutSeed} {
		l, err := NewLoader(LoaderParams{Sources: []SourceSpec{{Name: "web", TargetRatio: 1, Paths: []string{"builtin:web_clean"}}},
			Tokenizer: worldTokenizer(), SeqLen: 32, Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		train := make([]int32, 32)
		if err := l.Next(train); err != nil {
			t.Fatal(err)
		}
		l.Close()
		if slices.Equal(train, a[:32]) {
			t.Errorf("seed %d: the training stream starts with the validation set", seed)
		}
	}
}

// TestHeldOutIsNotTrainingText: held-out documents are other documents than a
// training stream's; where the small, templated world makes two documents'
// text equal, it does so no more often than between two training seeds.
func TestHeldOutIsNotTrainingText(t *testing.T) {
	kb := world.Default()
	for _, ws := range []world.Source{world.WebClean, world.Code} {
		train := map[string]bool{}
		for i := range 5000 {
			train[kb.Document(ws, rnd.Hash(7, rnd.String("web")), uint64(i))] = true
		}
		heldOut, otherSeed := 0, 0
		for i := range 1000 {
			if train[kb.Document(ws, rnd.Hash(HeldOutSeed, rnd.String(BuiltinPrefix+ws.String())), uint64(heldOutFirstDoc+i))] {
				heldOut++
			}
			if train[kb.Document(ws, rnd.Hash(8, rnd.String("web")), uint64(i))] {
				otherSeed++
			}
		}
		t.Logf("%s: %d of 1000 held-out documents have the text of one of 5000 training documents (another seed's: %d)", ws, heldOut, otherSeed)
		if heldOut > otherSeed*3/2+10 {
			t.Errorf("%s: %d held-out documents repeat training text, another seed's %d", ws, heldOut, otherSeed)
		}
	}
}

// TestReadValidationFiles: token and document files give their first
// instances in a fixed order; a short source gives what it holds with a
// warning; missing files, empty sources and too few tokens are errors naming
// the source.
func TestReadValidationFiles(t *testing.T) {
	dir := t.TempDir()
	ids := seqIDs(320, 1000)
	ids[len(ids)-1] = uint32(worldTokenizer().EOS())                  // a token file ends with a whole document
	tok := writeTokens(t, filepath.Join(dir, "val.npy"), Uint16, ids) // 10 instances of 32
	var w warnings
	a := readVal(t, SourceSpec{Name: "v", Paths: []string{tok}}, 5*32, &w)
	b := readVal(t, SourceSpec{Name: "v", Paths: []string{tok}}, 5*32, &w)
	if len(a) != 5*32 || !slices.Equal(a, b) || len(w.msgs) != 0 {
		t.Fatalf("%d ids, equal %v, warnings %q", len(a), slices.Equal(a, b), w.msgs)
	}
	all := readVal(t, SourceSpec{Name: "v", Paths: []string{tok}}, 1000, &w)
	seen := map[int32]bool{}
	for o := 0; o < len(all); o += 32 {
		seen[all[o]] = true
	}
	if len(all) != 320 || len(seen) != 10 || len(w.msgs) != 1 || !strings.Contains(w.msgs[0], "validation holds 320 tokens, not the 992") {
		t.Errorf("short source: %d ids, %d distinct instances, warnings %q", len(all), len(seen), w.msgs)
	}
	docs := writeFile(t, filepath.Join(dir, "val.jsonl"), jsonl(strings.Repeat("The river runs north. ", 20), strings.Repeat("A fox. ", 30)))
	w = warnings{}
	d := readVal(t, SourceSpec{Name: "d", Paths: []string{docs}}, 10_000, &w)
	if len(d) == 0 || len(d)%32 != 0 || len(w.msgs) != 1 {
		t.Errorf("documents: %d ids, warnings %q", len(d), w.msgs)
	}

	for _, tc := range []struct {
		name   string
		spec   SourceSpec
		tokens int64
		want   string
	}{
		{"missing", SourceSpec{Name: "gone", Paths: []string{filepath.Join(dir, "nope-*.npy")}}, 64, `source "gone"`},
		{"no paths", SourceSpec{Name: "empty"}, 64, "no paths"},
		{"too few tokens", SourceSpec{Name: "v", Paths: []string{tok}}, 31, "less than one sequence of 32"},
		{"too short", SourceSpec{Name: "tiny", Paths: []string{writeTokens(t, filepath.Join(dir, "tiny.npy"), Uint16, seqIDs(20, 100))}}, 64, ""},
	} {
		_, err := ReadValidation(ValidationParams{Source: tc.spec, Tokenizer: worldTokenizer(), SeqLen: 32, Tokens: tc.tokens})
		var ie *InputError
		if !errors.As(err, &ie) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an InputError with %q", tc.name, err, tc.want)
		}
	}
}

// TestTokenBytes: the bytes of a text's tokens add up to the text's length.
func TestTokenBytes(t *testing.T) {
	text := "Ørsted's river — 12 km, naïve café. 日本"
	for _, name := range []string{World, Bytes, Dolma2} {
		tk, _ := NewTokenizer(name)
		tb := TokenBytes(tk)
		ids := append(tk.Encode(nil, text), tk.EOS())
		n := 0
		for _, id := range ids {
			n += int(tb[id])
		}
		if n != len(text) || tb[tk.EOS()] != 0 || tb[tk.PAD()] != 0 {
			t.Errorf("%s: %d bytes, want %d (EOS %d, PAD %d)", name, n, len(text), tb[tk.EOS()], tb[tk.PAD()])
		}
	}
}
