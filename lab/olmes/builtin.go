package olmes

import (
	"fmt"
	"strings"

	"github.com/olmolab/olmolab/lab/data/world"
)

// Built-in tasks over the built-in world (lab/data/world, ../shared/docs/world.md): 4-choice tasks in OLMES's RC and
// MC formulations. The world's own items (world.KB.Items: the sources' formats, distractors from the same
// attribute's values, same-length numbers for sums) make five of them; story and code are built here from the
// same knowledge base. They are split as OLMo 2 splits its suite (olmes.md §3.1): development tasks ask about
// material the training sources contain, in the form they contain it, and guide choices (mixes, anneals); unseen
// tasks ask what no source states (held-out entities, held-out sums), so they only report.
//
//	fact_qa_seen     development  "Q: What is the capital of Zorvia?\nA:" → " Kelmon", entities the qa source covers
//	fact_cloze       development  "The capital of Zorvia is" → " Kelmon" (statement template 0, all facts)
//	arith_seen       development  "a + b =" → " a+b" for the sums the math and code sources work
//	story            development  two true sentences about an entity → the true third sentence among variants
//	                              differing only in the value, as in HellaSwag (whole-sentence endings)
//	code             development  a dict of facts in the code source's format, "print(d[key])\n#" → " value";
//	                              the distractors are the dict's other values (in-context lookup)
//	fact_qa_heldout  unseen       QA about the held-out entities, known only from web text
//	arith            unseen       "a + b =" → " a+b" for the held-out sums

// BuiltinOptions size the built-in tasks.
type BuiltinOptions struct {
	Limit int // instances per task, sampled; 0 = 200, negative = all
	// Shots are solved examples before each instance, the same for every instance as in OLMES, drawn from
	// development material (seen entities, seen sums); 0 = none. Small models have short contexts.
	Shots int
	Seed  int64 // sampling and distractor seed; 0 = 1234
}

type builtinSpec struct {
	name, group string
	primaryRC   string
	build       func(kb *world.KB, seed int64) (items, pool []item)
}

// item is one built-in instance before formatting: the RC stem (context), the MC question, the choice texts
// (without the leading space) and the gold index.
type item struct {
	stem, question string
	mcPrefix       string // text between the question and the listed choices
	choices        []string
	gold           int
	id             string // native id: what the instance asks about
	end            string // what completes a solved RC example after the answer ("." for a cloze statement)
}

var builtinSpecs = []builtinSpec{
	{world.TaskFactQASeen, "development", MetricAccPerChar, worldTask(world.TaskFactQASeen, world.TaskFactQASeen)},
	{world.TaskFactCloze, "development", MetricAccPerChar, worldTask(world.TaskFactCloze, world.TaskFactCloze)},
	{world.TaskArithSeen, "development", MetricAccRaw, worldTask(world.TaskArithSeen, world.TaskArithSeen)},
	{"story", "development", MetricAccPerChar, func(kb *world.KB, seed int64) ([]item, []item) {
		it := story(kb, seed)
		return it, it
	}},
	{"code", "development", MetricAccRaw, func(kb *world.KB, seed int64) ([]item, []item) {
		it := codeLookup(kb, seed)
		return it, it
	}},
	// Unseen tasks take their shots from the matching development material.
	{world.TaskFactQAHeldOut, "unseen", MetricAccPerChar, worldTask(world.TaskFactQAHeldOut, world.TaskFactQASeen)},
	{world.TaskArith, "unseen", MetricAccRaw, worldTask(world.TaskArith, world.TaskArithSeen)},
}

// worldTask builds a task from the world's items (world.KB.Items) and its shot pool from another task's.
func worldTask(task, shots string) func(kb *world.KB, seed int64) ([]item, []item) {
	return func(kb *world.KB, seed int64) ([]item, []item) {
		return worldItems(kb, task, seed), worldItems(kb, shots, seed)
	}
}

// worldItems converts world items; the MC question restates the RC context: "Q: …?\nA:" asks "Question: …?", a
// sum "a + b =" asks "Question: What is a + b?", a cloze statement ends in "...".
func worldItems(kb *world.KB, task string, seed int64) []item {
	var out []item
	for _, it := range kb.Items(task, uint64(seed)) {
		q := it.Context + " ..."
		switch {
		case strings.HasPrefix(it.Context, "Q: ") && strings.HasSuffix(it.Context, "\nA:"):
			q = "Question: " + strings.TrimSuffix(strings.TrimPrefix(it.Context, "Q: "), "\nA:")
		case strings.HasSuffix(it.Context, " ="):
			q = "Question: What is " + strings.TrimSuffix(it.Context, " =") + "?"
		}
		end := ""
		if task == world.TaskFactCloze {
			end = "." // a solved cloze shot is the whole statement
		}
		out = append(out, item{stem: it.Context, question: q, choices: it.Choices, gold: it.Gold, id: it.Context, end: end})
	}
	return out
}

// BuiltinTaskNames lists the built-in tasks: development ones first, then unseen ones.
func BuiltinTaskNames() []string {
	var out []string
	for _, s := range builtinSpecs {
		out = append(out, s.name)
	}
	return out
}

// BuiltinGroup returns "development" or "unseen" for a built-in task, "" for another name.
func BuiltinGroup(name string) string {
	for _, s := range builtinSpecs {
		if s.name == name {
			return s.group
		}
	}
	return ""
}

// BuiltinTask builds a built-in task over kb (nil: world.Default(), the world the built-in sources talk about).
// An unknown name is an *InputError.
func BuiltinTask(name string, f Formulation, kb *world.KB, o BuiltinOptions) (*Task, error) {
	if kb == nil {
		kb = world.Default()
	}
	if o.Seed == 0 {
		o.Seed = 1234
	}
	switch {
	case o.Limit == 0:
		o.Limit = 200
	case o.Limit < 0:
		o.Limit = 0
	}
	var spec *builtinSpec
	for i := range builtinSpecs {
		if builtinSpecs[i].name == name {
			spec = &builtinSpecs[i]
		}
	}
	if spec == nil {
		return nil, unknownTaskError(name)
	}
	items, pool := spec.build(kb, o.Seed)
	if o.Limit > 0 && len(items) > o.Limit {
		idx := NewPyRandom(o.Seed).Sample(len(items), o.Limit)
		s := make([]item, len(idx))
		for i, j := range idx {
			s[i] = items[j]
		}
		items = s
	}
	// The shots: the first of a fixed shuffle of the pool, skipping the evaluated instance itself.
	var shotOrder []int
	if o.Shots > 0 {
		shotOrder = NewPyRandom(o.Seed+1).Sample(len(pool), min(len(pool), o.Shots+1))
	}
	render := func(it item) (ctx string, conts []string) {
		if f == MC {
			return mcqPrompt(it.question, it.choices, "", it.mcPrefix), letterLabels(len(it.choices))
		}
		return it.stem, it.choices
	}
	t := &Task{Name: spec.name, Formulation: f, Group: spec.group, Primary: spec.primaryRC}
	if f == MC {
		t.Primary = MetricAccRaw
	}
	for i, it := range items {
		var prefix strings.Builder
		n := 0
		for _, j := range shotOrder {
			if n == o.Shots {
				break
			}
			s := pool[j]
			if s.id == it.id && s.stem == it.stem {
				continue
			}
			c, conts := render(s)
			end := s.end
			if f == MC {
				end = ""
			}
			prefix.WriteString(c + " " + conts[s.gold] + end + "\n\n")
			n++
		}
		ctx, conts := render(it)
		in := Instance{DocID: i, NativeID: it.id, Gold: it.gold}
		for _, c := range conts {
			in.Choices = append(in.Choices, Pair{prefix.String() + ctx, " " + c})
		}
		t.Instances = append(t.Instances, in)
	}
	return t, nil
}

// BuiltinTasks builds every built-in task in one formulation.
func BuiltinTasks(f Formulation, kb *world.KB, o BuiltinOptions) []*Task {
	var out []*Task
	for _, s := range builtinSpecs {
		t, err := BuiltinTask(s.name, f, kb, o)
		if err != nil {
			panic(err) // names come from builtinSpecs
		}
		out = append(out, t)
	}
	return out
}

// rngFor is a deterministic generator per instance: CPython's MT seeded by the task seed and a key.
func rngFor(seed int64, key ...int) *PyRandom {
	h := uint64(seed) ^ 0x9e3779b97f4a7c15
	for _, k := range key {
		h ^= uint64(k) + 0x9e3779b97f4a7c15 + h<<6 + h>>2
	}
	return NewPyRandom(int64(h >> 1))
}

// withDistractors returns gold and three distinct wrong values drawn from candidates, in a random order, and the
// gold's position. Ties go to the first choice, so the gold must not sit in a fixed place.
func withDistractors(r *PyRandom, gold string, candidates []string) ([]string, int) {
	var wrong []string
	seen := map[string]bool{gold: true}
	for _, c := range candidates {
		if !seen[c] {
			seen[c] = true
			wrong = append(wrong, c)
		}
	}
	pick := r.Sample(len(wrong), min(3, len(wrong)))
	choices := []string{gold}
	for _, j := range pick {
		choices = append(choices, wrong[j])
	}
	r.Shuffle(len(choices), func(i, j int) { choices[i], choices[j] = choices[j], choices[i] })
	for i, c := range choices {
		if c == gold {
			return choices, i
		}
	}
	panic("unreachable")
}

// story: for each fact of an entity with at least three facts, the entity's other facts (up to two, statement
// templates 1–2 as web_clean writes them) are the context and the fact is the ending, rendered with one template
// for every choice and values varied.
func story(kb *world.KB, seed int64) []item {
	var out []item
	for e := range kb.Entities {
		fis := kb.FactsAbout(e)
		if len(fis) < 3 {
			continue
		}
		for k, fi := range fis {
			f := kb.Facts[fi]
			r := rngFor(seed, 3, e, k)
			var ctx []string
			for _, oj := range fis {
				if oj != fi && len(ctx) < 2 {
					ctx = append(ctx, kb.Statement(kb.Facts[oj], 1+r.RandBelow(2)))
				}
			}
			tpl := 1 + r.RandBelow(2)
			vals, gold := withDistractors(r, f.Value, kb.Attrs[f.Attr].Values)
			endings := make([]string, len(vals))
			for i, v := range vals {
				g := f
				g.Value = v
				endings[i] = kb.Statement(g, tpl)
			}
			c := strings.Join(ctx, " ")
			out = append(out, item{stem: c, question: c, mcPrefix: "Choose the best continuation:\n", choices: endings,
				gold: gold, id: fmt.Sprintf("%s.%s", kb.Entities[e].Name, kb.Attrs[f.Attr].Name)})
		}
	}
	return out
}

// codeLookup writes the code source's dict snippet (lab/data/world gen.go, case "a dict of world facts"): 3–5
// subjects of one attribute and a print of the last one's value, answered after "#".
func codeLookup(kb *world.KB, seed int64) []item {
	var out []item
	for a, attr := range kb.Attrs {
		subj := kb.EntitiesOf(attr.Subject)
		for k := range subj {
			r := rngFor(seed, 4, a, k)
			n := min(len(subj), 3+r.RandBelow(3))
			pick := r.Sample(len(subj), n)
			// the looked-up subject is subj[k], written last
			for i, p := range pick {
				if p == k {
					pick[i], pick[n-1] = pick[n-1], pick[i]
					break
				}
			}
			if pick[n-1] != k {
				pick[n-1] = k
			}
			var b strings.Builder
			fmt.Fprintf(&b, "%s = {\n", attr.Name)
			var inDict []string
			var gold string
			for _, p := range pick {
				e := subj[p]
				for _, fi := range kb.FactsAbout(e) {
					if f := kb.Facts[fi]; f.Attr == a {
						fmt.Fprintf(&b, "    %q: %q,\n", kb.Entities[e].Name, f.Value)
						inDict = append(inDict, f.Value)
						gold = f.Value
					}
				}
			}
			if gold == "" {
				continue
			}
			fmt.Fprintf(&b, "}\nprint(%s[%q])\n#", attr.Name, kb.Entities[subj[k]].Name)
			// Distractors: the dict's other values, topped up from the attribute's values.
			wrong := distinctExcept(inDict, gold)
			if len(wrong) < 3 {
				extra := distinctExcept(attr.Values, gold)
				r.Shuffle(len(extra), func(i, j int) { extra[i], extra[j] = extra[j], extra[i] })
				wrong = distinctExcept(append(wrong, extra...), gold)[:3]
			}
			choices, g := withDistractors(r, gold, wrong)
			code := b.String()
			out = append(out, item{stem: code, question: strings.TrimSuffix(code, "\n#"), choices: choices, gold: g,
				id: fmt.Sprintf("%s[%s]", attr.Name, kb.Entities[subj[k]].Name)})
		}
	}
	return out
}

// distinctExcept returns the distinct values of xs other than x, in order.
func distinctExcept(xs []string, x string) []string {
	seen := map[string]bool{x: true}
	var out []string
	for _, v := range xs {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}
