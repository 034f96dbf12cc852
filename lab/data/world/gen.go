package world

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/olmolab/olmolab/lab/data/internal/rnd"
)

// Source is one of the world's text sources. They differ in quality and content the way a pretraining mix does:
// noisy web pages, clean encyclopedia text, code, math with worked answers, and question–answer pairs.
type Source uint8

// The world's sources, named as in builtin:<name> paths.
const (
	WebNoisy Source = iota // web pages: boilerplate, filler, ≈3% typos, case noise, ≈5% false facts
	WebClean               // encyclopedia paragraphs about one entity, every fact true
	Code                   // Python-like snippets: arithmetic functions with printed results, loops, dicts of facts
	Math                   // word problems with small numbers and worked answers ("3 + 4 = 7")
	QA                     // "Q: …\nA: …" pairs about entities that are not held out
	NumSources
)

var sourceNames = [...]string{"web_noisy", "web_clean", "code", "math", "qa"}

func (s Source) String() string {
	if s < NumSources {
		return sourceNames[s]
	}
	return fmt.Sprintf("Source(%d)", s)
}

// Sources lists every source.
func Sources() []Source { return []Source{WebNoisy, WebClean, Code, Math, QA} }

// ParseSource returns the source with the given name ("web_noisy", "web_clean", "code", "math", "qa").
func ParseSource(name string) (Source, bool) {
	for i, n := range sourceNames {
		if n == name {
			return Source(i), true
		}
	}
	return 0, false
}

// Document returns document index of source src for the data seed seed. It is a pure function of
// (k.Seed, src, seed, index): documents can be generated in any order, on any goroutine, on any machine.
func (k *KB) Document(src Source, seed, index uint64) string {
	r := rnd.New(rnd.Hash(k.Seed, uint64(src), seed, index))
	var b strings.Builder
	b.Grow(512)
	switch src {
	case WebNoisy:
		k.webNoisy(&b, r)
	case WebClean:
		k.webClean(&b, r)
	case Code:
		k.code(&b, r)
	case Math:
		k.math(&b, r)
	case QA:
		k.qa(&b, r)
	default:
		panic("world: unknown source " + src.String())
	}
	return b.String()
}

var kindNoun = [...]string{"region", "town", "person", "kind of animal"}

// webClean writes an encyclopedia entry: a title, every fact about one entity in random order and template, and
// true sentences linking it to its neighbours.
func (k *KB) webClean(b *strings.Builder, r *rnd.RNG) {
	e := r.IntN(len(k.Entities))
	ent := k.Entities[e]
	b.WriteString(ent.Name)
	b.WriteString("\n\n")
	switch ent.Kind {
	case Animal:
		fmt.Fprintf(b, "The %s is a %s.", ent.Name, kindNoun[ent.Kind])
	case Person:
		fmt.Fprintf(b, "%s is a person.", ent.Name)
	default:
		fmt.Fprintf(b, "%s is a %s.", ent.Name, kindNoun[ent.Kind])
	}
	facts := append([]int(nil), k.byEntity[e]...)
	r.Shuffle(len(facts), func(i, j int) { facts[i], facts[j] = facts[j], facts[i] })
	for _, fi := range facts {
		b.WriteByte(' ')
		b.WriteString(k.Statement(k.Facts[fi], r.IntN(3)))
	}
	switch ent.Kind {
	case Region:
		b.WriteString(" Towns in " + ent.Name + " include " + k.list(k.townsIn[e]) + ".")
	case Town:
		if rs := k.residents[e]; len(rs) > 0 {
			n := min(len(rs), 3)
			b.WriteString(" People who live in " + ent.Name + " include " + k.list(rs[:n]) + ".")
		}
	}
	b.WriteByte('\n')
	// A second paragraph about a related fact keeps entries from being one sentence pattern.
	if r.Bool(0.5) {
		f := k.Facts[r.IntN(len(k.Facts))]
		b.WriteString("\nSee also: ")
		b.WriteString(k.Entities[f.Subject].Name)
		b.WriteString(". ")
		b.WriteString(k.Statement(f, r.IntN(3)))
		b.WriteByte('\n')
	}
}

func (k *KB) list(ids []int) string {
	names := make([]string, len(ids))
	for i, id := range ids {
		names[i] = k.Entities[id].Name
	}
	switch len(names) {
	case 0:
		return ""
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

var (
	navs     = []string{"Home | News | Forum | Contact", "Menu  Search  Login", "HOME > TRAVEL > NOTES", "Skip to content", "[ Sign in ] [ Register ]"}
	footers  = []string{"Click here to subscribe!", "Copyright 2024. All rights reserved.", "Share this page: Facebook | Twitter | Email", "Comments (0)", "Back to top", "Cookies help us deliver our services."}
	fillers  = []string{"I went there last summer and it was great.", "Thanks for reading, see you next time!", "Does anyone know more about this?", "lol that is so true", "We will update this page soon.", "My friend told me about it once.", "Not sure if this is right but here goes.", "Great post, thanks for sharing.", "This is the best place to visit in spring.", "Read more below."}
	users    = []string{"admin", "traveller88", "j_smith", "wanderer", "guest", "bookworm", "kitty2000", "mod_team"}
	months   = []string{"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"}
	sections = []string{"Travel notes", "Did you know?", "Forum: local facts", "Random facts", "My trip", "FAQ"}
)

// webNoisy writes a web page: navigation and footer boilerplate, filler, facts about a few entities of which about
// 5% are false, then typos in about 3% of words and case noise.
func (k *KB) webNoisy(b *strings.Builder, r *rnd.RNG) {
	var s strings.Builder
	s.WriteString(pick(r, navs))
	s.WriteString("\n")
	s.WriteString(pick(r, sections))
	fmt.Fprintf(&s, "\nPosted by %s on %d %s\n\n", pick(r, users), r.Range(1, 28), pick(r, months))
	nSent := r.Range(4, 9)
	e := r.IntN(len(k.Entities))
	for i := range nSent {
		if i > 0 {
			s.WriteByte(' ')
		}
		if r.Bool(0.3) {
			s.WriteString(pick(r, fillers))
			continue
		}
		if r.Bool(0.3) { // move on to another entity now and then
			e = r.IntN(len(k.Entities))
		}
		fs := k.byEntity[e]
		f := k.Facts[fs[r.IntN(len(fs))]]
		if r.Bool(0.05) { // a false fact: another value of the same attribute
			vals := k.Attrs[f.Attr].Values
			if v := pick(r, vals); v != f.Value {
				f.Value = v
			}
		}
		s.WriteString(k.Statement(f, r.IntN(3)))
	}
	s.WriteString("\n\n")
	s.WriteString(pick(r, footers))
	s.WriteByte('\n')
	noisy(b, s.String(), r)
}

// noisy copies text into b word by word, with a typo in about 3% of words (swap, drop or double a letter) and case
// noise (some pages all lower case, about 2% of words in capitals).
func noisy(b *strings.Builder, text string, r *rnd.RNG) {
	lower := r.Bool(0.15)
	start := -1
	flush := func(end int) {
		w := text[start:end]
		start = -1
		if lower {
			w = strings.ToLower(w)
		}
		if r.Bool(0.02) {
			w = strings.ToUpper(w)
		}
		if len(w) >= 3 && r.Bool(0.03) {
			bs := []byte(w)
			i := r.IntN(len(bs) - 1)
			switch r.IntN(3) {
			case 0:
				bs[i], bs[i+1] = bs[i+1], bs[i]
			case 1:
				bs = append(bs[:i], bs[i+1:]...)
			default:
				bs = append(bs[:i+1], bs[i:]...)
			}
			w = string(bs)
		}
		b.WriteString(w)
	}
	for i := 0; i < len(text); i++ {
		c := text[i]
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if letter && start < 0 {
			start = i
		} else if !letter {
			if start >= 0 {
				flush(i)
			}
			b.WriteByte(c)
		}
	}
	if start >= 0 {
		flush(len(text))
	}
}

// code writes a Python-like snippet whose printed results are correct.
func (k *KB) code(b *strings.Builder, r *rnd.RNG) {
	switch r.IntN(5) {
	case 0: // a function and a call
		s := k.sumSeen(r)
		fmt.Fprintf(b, "def add(a, b):\n    return a + b\n\nprint(add(%d, %d))\n# %d\n", s.A, s.B, s.Answer())
	case 1: // arithmetic statements with their results
		n := r.Range(2, 4)
		for range n {
			switch r.IntN(3) {
			case 0:
				s := k.sumSeen(r)
				fmt.Fprintf(b, "x = %d + %d\nprint(x)  # %d\n", s.A, s.B, s.Answer())
			case 1:
				a, c := r.Range(2, 20), r.Range(1, 20)
				a, c = max(a, c), min(a, c)
				fmt.Fprintf(b, "x = %d - %d\nprint(x)  # %d\n", a, c, a-c)
			default:
				a, c := r.Range(2, 9), r.Range(2, 9)
				fmt.Fprintf(b, "x = %d * %d\nprint(x)  # %d\n", a, c, a*c)
			}
		}
	case 2: // a loop
		n := r.Range(3, 5)
		xs := make([]string, n)
		total := 0
		for i := range xs {
			v := r.Range(1, 9)
			total += v
			xs[i] = strconv.Itoa(v)
		}
		fmt.Fprintf(b, "total = 0\nfor x in [%s]:\n    total += x\nprint(total)  # %d\n", strings.Join(xs, ", "), total)
	default: // a dict of world facts and a lookup
		a := r.IntN(len(k.Attrs))
		attr := &k.Attrs[a]
		subj := k.byKind[attr.Subject]
		n := min(len(subj), r.Range(3, 5))
		pick := r.Perm(len(subj))[:n]
		fmt.Fprintf(b, "%s = {\n", attr.Name)
		var last Fact
		for _, p := range pick {
			for _, fi := range k.byEntity[subj[p]] {
				if f := k.Facts[fi]; f.Attr == a {
					fmt.Fprintf(b, "    %q: %q,\n", k.Entities[f.Subject].Name, f.Value)
					last = f
				}
			}
		}
		fmt.Fprintf(b, "}\nprint(%s[%q])\n# %s\n", attr.Name, k.Entities[last.Subject].Name, last.Value)
	}
}

var (
	items      = []string{"apples", "coins", "books", "eggs", "fish", "stones", "cups", "ropes", "shells", "pears"}
	verbs      = []string{"buys", "finds", "gets", "is given"}
	gives      = []string{"gives away", "sells", "loses", "eats"}
	worksheets = []string{"Practice: addition", "Homework", "Sums to learn", "Warm-up exercises", "Quick maths"}
)

// math writes a word problem about a person of the world with a worked answer.
func (k *KB) math(b *strings.Builder, r *rnd.RNG) {
	people := k.byKind[Person]
	p := k.Entities[people[r.IntN(len(people))]].Name
	it := pick(r, items)
	switch r.IntN(6) {
	case 4, 5: // a worksheet of bare additions, the arith evaluation's format
		b.WriteString(pick(r, worksheets))
		b.WriteString("\n")
		for range r.Range(4, 8) {
			s := k.sumSeen(r)
			fmt.Fprintf(b, "%d + %d = %d\n", s.A, s.B, s.Answer())
		}
	case 0, 1: // addition, the operation the arith evaluation asks
		s := k.sumSeen(r)
		fmt.Fprintf(b, "%s has %d %s and %s %d more. How many %s does %s have now?\n", p, s.A, it, pick(r, verbs), s.B, it, p)
		fmt.Fprintf(b, "%s has %d + %d = %d %s. The answer is %d.\n", p, s.A, s.B, s.Answer(), it, s.Answer())
	case 2: // subtraction
		a := r.Range(2, 20)
		c := r.Range(1, a)
		fmt.Fprintf(b, "%s has %d %s and %s %d. How many %s are left?\n", p, a, it, pick(r, gives), c, it)
		fmt.Fprintf(b, "%d - %d = %d. The answer is %d.\n", a, c, a-c, a-c)
	default: // two steps
		s := k.sumSeen(r)
		c := r.Range(1, s.Answer())
		fmt.Fprintf(b, "%s has %d %s, %s %d more and then %s %d. How many %s does %s have?\n", p, s.A, it, pick(r, verbs), s.B, pick(r, gives), c, it, p)
		fmt.Fprintf(b, "First, %d + %d = %d. Then, %d - %d = %d. The answer is %d.\n", s.A, s.B, s.Answer(), s.Answer(), c, s.Answer()-c, s.Answer()-c)
	}
}

// qa writes a few question–answer pairs about entities that are not held out, in the format the fact_qa tasks use.
func (k *KB) qa(b *strings.Builder, r *rnd.RNG) {
	n := r.Range(3, 6)
	for i := 0; i < n; {
		f := k.Facts[r.IntN(len(k.Facts))]
		if k.Entities[f.Subject].HeldOut {
			continue
		}
		prompt, ans := k.QA(f, r.IntN(2))
		b.WriteString(prompt)
		b.WriteByte(' ')
		b.WriteString(ans)
		b.WriteString("\n\n")
		i++
	}
}
