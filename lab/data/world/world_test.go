package world

import (
	"bytes"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestTokenizerFileIsGenerated checks that tokenizer.bpe is what `go generate` produces from the code as it is:
// the world tokenizer is trained deterministically, and a change to the generators must come with a regenerated file.
func TestTokenizerFileIsGenerated(t *testing.T) {
	if got := TrainTokenizer(); !bytes.Equal(got, tokenizerFile) {
		t.Fatal("tokenizer.bpe differs from a fresh training run: run `go generate ./lab/data/world` and commit the file")
	}
	if m := TokenizerModel(); m.Size() != TokenizerEOS {
		t.Fatalf("model has %d tokens, want %d", m.Size(), TokenizerEOS)
	}
}

func TestKB(t *testing.T) {
	k := Default()
	c := DefaultConfig()
	if want := c.Regions + c.Regions*c.TownsPerRegion + c.People + c.Animals; len(k.Entities) != want {
		t.Errorf("%d entities, want %d", len(k.Entities), want)
	}
	if len(k.Facts) < 400 {
		t.Errorf("%d facts, want ≥ 400", len(k.Facts))
	}
	names := map[string]bool{}
	for _, e := range k.Entities {
		if names[e.Name] {
			t.Errorf("duplicate name %s", e.Name)
		}
		names[e.Name] = true
	}
	for kind := Region; kind <= Animal; kind++ {
		held := 0
		for _, e := range k.EntitiesOf(kind) {
			if k.Entities[e].HeldOut {
				held++
			}
		}
		if n := len(k.EntitiesOf(kind)); held != n/2 {
			t.Errorf("%s: %d of %d held out, want half", kind, held, n)
		}
	}
	for ai, a := range k.Attrs {
		if len(a.Values) < 4 {
			t.Errorf("attribute %s has %d values; a 4-choice task needs 4", a.Name, len(a.Values))
		}
		if !strings.HasSuffix(a.Statements[0], " {v}.") {
			t.Errorf("attribute %s: first statement %q must end with the value (cloze)", a.Name, a.Statements[0])
		}
		if k.Attr(a.Name) != ai {
			t.Errorf("Attr(%q) = %d", a.Name, k.Attr(a.Name))
		}
	}
	for _, f := range k.Facts {
		if !contains(k.Attrs[f.Attr].Values, f.Value) {
			t.Fatalf("fact %v: value not in the value set", f)
		}
		for _, d := range k.Distractors(f, 3, 1) {
			if d == f.Value {
				t.Fatalf("distractor equals the answer for %v", f)
			}
		}
		p, a := k.Cloze(f)
		if s := k.Statement(f, 0); s != p+" "+a+"." {
			t.Fatalf("cloze %q + %q does not rebuild %q", p, a, s)
		}
	}
	// A different seed is a different world; the same seed the same one.
	if New(1, c).Entities[0].Name == k.Entities[0].Name {
		t.Error("seed 1 gave the same names as seed 0")
	}
	if New(DefaultSeed, c).Facts[100] != k.Facts[100] {
		t.Error("New is not deterministic")
	}
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// TestSources checks the contract the evaluation tasks rely on: qa never mentions held-out entities, and every
// sentence of web_clean is true.
func TestSources(t *testing.T) {
	k := Default()
	held := map[string]bool{}
	for _, e := range k.Entities {
		if e.HeldOut {
			held[e.Name] = true
		}
	}
	for i := range uint64(2000) {
		qa := k.Document(QA, 3, i)
		if !strings.HasPrefix(qa, "Q: ") {
			t.Fatalf("qa document %d: %q", i, qa)
		}
		for _, line := range strings.Split(qa, "\n") {
			if !strings.HasPrefix(line, "Q: ") {
				continue
			}
			for name := range held {
				if strings.Contains(line, " "+name+"?") || strings.Contains(line, " "+name+" ") {
					t.Fatalf("qa document %d asks about held-out %s: %q", i, name, line)
				}
			}
		}
	}
	// web_clean: every statement it contains is one of the KB's true statements or the fixed link sentences.
	truths := map[string]bool{}
	for _, f := range k.Facts {
		for tpl := range 3 {
			truths[k.Statement(f, tpl)] = true
		}
	}
	for i := range uint64(200) {
		doc := k.Document(WebClean, 5, i)
		for _, sent := range strings.SplitAfter(strings.ReplaceAll(doc, "\n", " "), ". ") {
			sent = strings.TrimSpace(sent)
			if sent == "" || truths[sent] || strings.HasPrefix(sent, "Towns in") || strings.HasPrefix(sent, "People who") ||
				strings.HasPrefix(sent, "See also") || strings.HasSuffix(sent, "is a person.") || strings.Contains(sent, " is a ") {
				continue
			}
			// Titles run into the first sentence after the newline is replaced; accept "Title Title is …".
			if j := strings.Index(sent, " "); j > 0 && truths[sent[j+1:]] {
				continue
			}
			t.Fatalf("web_clean document %d has a sentence that is not a true statement: %q", i, sent)
		}
	}
}

func TestDocumentDeterministic(t *testing.T) {
	k := Default()
	for _, s := range Sources() {
		a, b := k.Document(s, 7, 42), k.Document(s, 7, 42)
		if a != b || a == "" {
			t.Errorf("%s: not deterministic or empty", s)
		}
		if k.Document(s, 8, 42) == a && s != Code {
			t.Errorf("%s: data seed does not change the document", s)
		}
	}
	if s, ok := ParseSource("web_clean"); !ok || s != WebClean || s.String() != "web_clean" {
		t.Error("ParseSource")
	}
	if _, ok := ParseSource("nope"); ok {
		t.Error("ParseSource accepted an unknown name")
	}
}

func TestArith(t *testing.T) {
	k := Default()
	held, seen := k.Sums(true), k.Sums(false)
	n := (ArithMax - ArithMin + 1) * (ArithMax - ArithMin + 1)
	if len(held)+len(seen) != n || len(held) < n/10 || len(held) > n/4 {
		t.Errorf("%d held out, %d seen of %d", len(held), len(seen), n)
	}
	for _, s := range append(held, seen...) {
		ds := SumDistractors(s, 3, 3)
		set := map[int]bool{s.Answer(): true}
		for _, d := range ds {
			if set[d] || d < 0 || len(strconv.Itoa(d)) != len(strconv.Itoa(s.Answer())) {
				t.Fatalf("%v: bad distractors %v", s, ds)
			}
			set[d] = true
		}
	}
	if p := (Sum{3, 4}).Prompt(); p != "3 + 4 =" {
		t.Errorf("Prompt = %q", p)
	}
	// Held-out sums appear in no math or code document.
	for i := range uint64(3000) {
		for _, src := range []Source{Math, Code} {
			doc := k.Document(src, 3, i)
			for _, m := range sumRE.FindAllStringSubmatch(doc, -1) {
				a, _ := strconv.Atoi(m[1] + m[3])
				b, _ := strconv.Atoi(m[2] + m[4])
				if k.ArithHeldOut(a, b) {
					t.Fatalf("%s document %d contains held-out %d + %d: %q", src, i, a, b, doc)
				}
			}
		}
	}
}

// sumRE finds "a + b" and "add(a, b)".
var sumRE = regexp.MustCompile(`\b(?:(\d+) \+ (\d+)\b|add\((\d+), (\d+)\))`)

func BenchmarkDocument(b *testing.B) {
	k := Default()
	var n int
	for i := range b.N {
		n += len(k.Document(Source(i%int(NumSources)), 1, uint64(i)))
	}
	b.SetBytes(int64(n / max(b.N, 1)))
}

func TestItems(t *testing.T) {
	k := Default()
	for _, task := range TaskNames() {
		items := k.Items(task, 1)
		if len(items) < 40 {
			t.Errorf("%s: %d items", task, len(items))
		}
		golds := map[int]int{}
		for _, it := range items {
			if len(it.Choices) != 4 || it.Gold < 0 || it.Gold > 3 {
				t.Fatalf("%s: bad item %+v", task, it)
			}
			seen := map[string]bool{}
			for _, c := range it.Choices {
				if seen[c] {
					t.Fatalf("%s: duplicate choice in %+v", task, it)
				}
				seen[c] = true
			}
			golds[it.Gold]++
		}
		if len(golds) != 4 {
			t.Errorf("%s: gold positions %v, want all four used", task, golds)
		}
		if again := k.Items(task, 1); again[0].Gold != items[0].Gold || again[0].Choices[0] != items[0].Choices[0] {
			t.Errorf("%s: not deterministic", task)
		}
	}
	// The formats match the sources: a qa document contains "<context> <gold>".
	it := k.Items(TaskFactQASeen, 1)[0]
	found := false
	for i := range uint64(20000) {
		if strings.Contains(k.Document(QA, 0, i), it.Context+" "+it.Choices[it.Gold]+"\n") {
			found = true
			break
		}
	}
	if !found {
		t.Errorf("qa source never contains %q", it.Context+" "+it.Choices[it.Gold])
	}
	if k.Items("nope", 1) != nil {
		t.Error("unknown task gave items")
	}
}
