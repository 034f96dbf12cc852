package world

import (
	"fmt"
	"strings"

	"github.com/olmolab/olmolab/lab/data/internal/rnd"
)

// DefaultSeed is the seed of the knowledge base that built-in sources, the world tokenizer and the built-in
// evaluation tasks share. A run's data-order seed never changes the knowledge base, so soups and seeds of the same
// recipe learn the same facts.
const DefaultSeed = 0

// Kind is the kind of an entity.
type Kind uint8

// The kinds of entity in the world.
const (
	Region Kind = iota
	Town
	Person
	Animal
)

var kindNames = [...]string{"region", "town", "person", "animal"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", k)
}

// Entity is a named thing the world talks about.
type Entity struct {
	Name string
	Kind Kind
	// HeldOut entities are never asked about in the qa source; fact_qa_heldout asks about them, so that a model
	// can only answer from what web text said. Half of each kind is held out.
	HeldOut bool
}

// Attribute is one relation, with the templates that express it.
//
// Templates contain {s} (the subject's name) and {v} (the value). Statements[0] ends with " {v}." so that
// everything before " {v}" is a cloze prompt (fact_cloze); Questions are asked in the qa source as
// "Q: <question>\nA: <value>".
type Attribute struct {
	Name    string
	Subject Kind
	// Values is the attribute's value set: every value some subject has, or the closed list it is drawn from.
	// Distractors for a 4-choice task come from here.
	Values     []string
	Statements []string
	Questions  []string
}

// Fact says that entity Subject has Value for attribute Attr (indexes into KB.Entities and KB.Attrs).
type Fact struct {
	Subject int
	Attr    int
	Value   string
}

// Config sizes a knowledge base. The default (16 regions, 48 towns, 160 people, 24 animal species: 248 entities,
// about 900 facts) is twice docs/world.md's 124 entities: with this package's generators the smaller world was
// learned almost completely before the quickstart's anneal (fact QA 0.85 → 0.99), leaving the anneal nothing to
// show. Measured on the quickstart recipe (cpu_s, 1.3M + 0.4M tokens; 200 items per task, acc_per_char): fact QA on
// seen entities 0.58 before the anneal, 0.94 after it, 0.74 after the same LR decay on the stage-1 mix (held-out
// entities 0.52, 0.72, 0.66; cloze 0.44, 0.71, 0.61).
type Config struct {
	Regions        int // regions, each with a capital
	TownsPerRegion int // towns in each region (one of them is the capital)
	People         int // people, each living in one town
	Animals        int // animal species
}

// DefaultConfig returns the default sizes (see Config).
func DefaultConfig() Config { return Config{Regions: 16, TownsPerRegion: 3, People: 160, Animals: 24} }

// KB is the world's knowledge base: entities, attributes and true facts, all generated from Seed.
// A KB is immutable after New and safe for concurrent use.
type KB struct {
	Seed     uint64
	Config   Config
	Entities []Entity
	Attrs    []Attribute
	Facts    []Fact

	byEntity  [][]int        // fact indexes per entity
	byKind    [4][]int       // entity indexes per kind
	byName    map[string]int // entity index by name
	attrIndex map[string]int
	residents [][]int // people living in each town (indexed by entity)
	townsIn   [][]int // towns of each region (indexed by entity)
	languages []string
	heldArith map[[2]int]bool
}

// Closed value lists. They are ordinary English words so that the web and code sources read like text; the
// names of entities and languages are invented syllables, so nothing about them is known in advance.
var (
	products = []string{"wool", "salt", "cheese", "glass", "copper", "honey", "paper", "rope", "silk", "pottery", "timber", "wine"}
	climates = []string{"rainy", "dry", "snowy", "windy", "foggy", "warm"}
	jobs     = []string{"baker", "miner", "weaver", "fisher", "potter", "smith", "farmer", "teacher", "doctor", "sailor", "painter", "builder", "hunter", "singer", "tailor", "merchant"}
	colours  = []string{"red", "blue", "green", "yellow", "purple", "orange", "black", "white", "grey", "brown"}
	foods    = []string{"berries", "fish", "grass", "seeds", "insects", "leaves", "roots", "mice"}
	habitats = []string{"forest", "desert", "marsh", "mountains", "river", "meadow", "cave", "coast"}
)

// attribute indexes, in the order attributes() returns them.
const (
	aCapital = iota
	aLanguage
	aNationalAnimal
	aTownRegion
	aProduct
	aClimate
	aJob
	aHome
	aColour
	aPet
	aFood
	aHabitat
	aFur
	numAttrs
)

func attributes() []Attribute {
	return []Attribute{
		aCapital: {Name: "capital", Subject: Region,
			Statements: []string{"The capital of {s} is {v}.", "{v} is the capital of {s}.", "{s} is governed from its capital, {v}."},
			Questions:  []string{"What is the capital of {s}?", "Which town is the capital of {s}?"}},
		aLanguage: {Name: "language", Subject: Region,
			Statements: []string{"The language spoken in {s} is {v}.", "People in {s} speak {v}.", "In {s} most people speak {v}."},
			Questions:  []string{"What language is spoken in {s}?", "Which language do people in {s} speak?"}},
		aNationalAnimal: {Name: "national_animal", Subject: Region,
			Statements: []string{"The national animal of {s} is the {v}.", "The {v} is the national animal of {s}.", "{s} chose the {v} as its national animal."},
			Questions:  []string{"What is the national animal of {s}?", "Which animal is the symbol of {s}?"}},
		aTownRegion: {Name: "region", Subject: Town,
			Statements: []string{"The town of {s} is in {v}.", "{s} is a town in the region of {v}.", "{s} lies in {v}."},
			Questions:  []string{"In which region is {s}?", "Which region is {s} in?"}},
		aProduct: {Name: "product", Subject: Town, Values: products,
			Statements: []string{"The main product of {s} is {v}.", "{s} is known for its {v}.", "Traders come to {s} to buy {v}."},
			Questions:  []string{"What is the main product of {s}?", "What is {s} known for?"}},
		aClimate: {Name: "climate", Subject: Town, Values: climates,
			Statements: []string{"The weather in {s} is usually {v}.", "{s} has a {v} climate.", "Visitors say that {s} is often {v}."},
			Questions:  []string{"What is the weather like in {s}?", "What kind of climate does {s} have?"}},
		aJob: {Name: "job", Subject: Person, Values: jobs,
			Statements: []string{"{s} works as a {v}.", "{s} is a {v} by trade.", "Everyone knows {s} as a skilled {v}."},
			Questions:  []string{"What is the job of {s}?", "What does {s} do for a living?"}},
		aHome: {Name: "home", Subject: Person,
			Statements: []string{"{s} lives in {v}.", "The home town of {s} is {v}.", "{s} grew up in {v} and still lives there."},
			Questions:  []string{"Where does {s} live?", "In which town does {s} live?"}},
		aColour: {Name: "favourite_colour", Subject: Person, Values: colours,
			Statements: []string{"The favourite colour of {s} is {v}.", "{s} likes the colour {v} best.", "{s} always wears something {v}."},
			Questions:  []string{"What is the favourite colour of {s}?", "Which colour does {s} like best?"}},
		aPet: {Name: "pet", Subject: Person,
			Statements: []string{"{s} keeps a pet {v}.", "The pet of {s} is a {v}.", "At home, {s} looks after a {v}."},
			Questions:  []string{"What pet does {s} keep?", "What kind of animal is the pet of {s}?"}},
		aFood: {Name: "food", Subject: Animal, Values: foods,
			Statements: []string{"The {s} mostly eats {v}.", "The favourite food of the {s} is {v}.", "A hungry {s} looks for {v}."},
			Questions:  []string{"What does the {s} eat?", "What is the favourite food of the {s}?"}},
		aHabitat: {Name: "habitat", Subject: Animal, Values: habitats,
			Statements: []string{"The {s} lives in the {v}.", "You can find the {s} in the {v}.", "The home of the {s} is the {v}."},
			Questions:  []string{"Where does the {s} live?", "In what kind of place does the {s} live?"}},
		aFur: {Name: "colour", Subject: Animal, Values: colours,
			Statements: []string{"The fur of the {s} is {v}.", "The {s} has {v} fur.", "A {s} is easy to spot by its {v} coat."},
			Questions:  []string{"What colour is the fur of the {s}?", "What colour is the {s}?"}},
	}
}

// New generates a knowledge base from seed: names from random syllables, facts drawn uniformly, and half of each
// kind of entity held out of the qa source.
func New(seed uint64, c Config) *KB {
	if c.Regions < 4 || c.TownsPerRegion < 1 || c.People < 4 || c.Animals < 4 {
		panic("world: Config needs at least 4 regions, 1 town per region, 4 people and 4 animals")
	}
	k := &KB{Seed: seed, Config: c, Attrs: attributes(), byName: map[string]int{}, attrIndex: map[string]int{}}
	for i, a := range k.Attrs {
		k.attrIndex[a.Name] = i
	}
	r := rnd.New(rnd.Hash(seed, rnd.String("world.kb")))
	names := newNamer(r)
	add := func(kind Kind) int {
		k.Entities = append(k.Entities, Entity{Name: names.next(2, 2), Kind: kind})
		i := len(k.Entities) - 1
		k.byName[k.Entities[i].Name] = i
		k.byKind[kind] = append(k.byKind[kind], i)
		return i
	}
	for range c.Regions {
		add(Region)
	}
	for range c.Regions * c.TownsPerRegion {
		add(Town)
	}
	for range c.People {
		add(Person)
	}
	for range c.Animals {
		add(Animal)
	}
	// Languages are values, not entities: one per region, each named like "Velosh".
	for range c.Regions {
		k.languages = append(k.languages, names.next(1, 2)+pick(r, []string{"ish", "ese", "ic", "an"}))
	}

	k.byEntity = make([][]int, len(k.Entities))
	k.residents = make([][]int, len(k.Entities))
	k.townsIn = make([][]int, len(k.Entities))
	fact := func(s, a int, v string) {
		k.Facts = append(k.Facts, Fact{Subject: s, Attr: a, Value: v})
		k.byEntity[s] = append(k.byEntity[s], len(k.Facts)-1)
	}
	regions, towns, people, animals := k.byKind[Region], k.byKind[Town], k.byKind[Person], k.byKind[Animal]
	for ri, reg := range regions {
		mine := towns[ri*c.TownsPerRegion : (ri+1)*c.TownsPerRegion]
		k.townsIn[reg] = mine
		fact(reg, aCapital, k.Entities[mine[r.IntN(len(mine))]].Name)
		fact(reg, aLanguage, k.languages[ri])
		fact(reg, aNationalAnimal, k.Entities[animals[r.IntN(len(animals))]].Name)
		for _, t := range mine {
			fact(t, aTownRegion, k.Entities[reg].Name)
			fact(t, aProduct, pick(r, products))
			fact(t, aClimate, pick(r, climates))
		}
	}
	for _, p := range people {
		home := towns[r.IntN(len(towns))]
		k.residents[home] = append(k.residents[home], p)
		fact(p, aJob, pick(r, jobs))
		fact(p, aHome, k.Entities[home].Name)
		fact(p, aColour, pick(r, colours))
		fact(p, aPet, k.Entities[animals[r.IntN(len(animals))]].Name)
	}
	for _, a := range animals {
		fact(a, aFood, pick(r, foods))
		fact(a, aHabitat, pick(r, habitats))
		fact(a, aFur, pick(r, colours))
	}
	// Value sets of the attributes whose values are entities: the values that occur (capitals, regions, towns,
	// animals), so that distractors are of the right type.
	for ai := range k.Attrs {
		if k.Attrs[ai].Values != nil {
			continue
		}
		seen := map[string]bool{}
		var vs []string
		switch ai {
		case aHome:
			for _, t := range towns {
				vs = append(vs, k.Entities[t].Name)
			}
		case aNationalAnimal, aPet:
			for _, a := range animals {
				vs = append(vs, k.Entities[a].Name)
			}
		case aTownRegion:
			for _, g := range regions {
				vs = append(vs, k.Entities[g].Name)
			}
		default:
			for _, f := range k.Facts {
				if f.Attr == ai && !seen[f.Value] {
					seen[f.Value] = true
					vs = append(vs, f.Value)
				}
			}
		}
		k.Attrs[ai].Values = vs
	}
	// Hold out half of each kind (rounded down), chosen at random.
	for kind := range k.byKind {
		ids := k.byKind[kind]
		for j, p := range r.Perm(len(ids)) {
			if j < len(ids)/2 {
				k.Entities[ids[p]].HeldOut = true
			}
		}
	}
	k.heldArith = heldOutArith(seed)
	return k
}

var defaultKB = New(DefaultSeed, DefaultConfig())

// Default returns the knowledge base of DefaultSeed and DefaultConfig, shared by built-in sources and evaluation.
func Default() *KB { return defaultKB }

// Entity returns the index of the entity with the given name, or -1.
func (k *KB) Entity(name string) int {
	if i, ok := k.byName[name]; ok {
		return i
	}
	return -1
}

// Attr returns the index of the attribute with the given name, or -1.
func (k *KB) Attr(name string) int {
	if i, ok := k.attrIndex[name]; ok {
		return i
	}
	return -1
}

// EntitiesOf returns the indexes of the entities of a kind.
func (k *KB) EntitiesOf(kind Kind) []int { return k.byKind[kind] }

// FactsAbout returns the indexes into Facts of the facts whose subject is entity e.
func (k *KB) FactsAbout(e int) []int { return k.byEntity[e] }

// HeldOutFacts returns the facts about held-out entities (heldOut true) or about entities seen in qa (false).
func (k *KB) HeldOutFacts(heldOut bool) []Fact {
	var fs []Fact
	for _, f := range k.Facts {
		if k.Entities[f.Subject].HeldOut == heldOut {
			fs = append(fs, f)
		}
	}
	return fs
}

// Statement renders fact f with statement template t (taken modulo the number of templates), capitalised.
func (k *KB) Statement(f Fact, t int) string {
	a := &k.Attrs[f.Attr]
	return render(a.Statements[t%len(a.Statements)], k.Entities[f.Subject].Name, f.Value)
}

// Question renders the question for fact f with question template t (modulo the number of templates).
func (k *KB) Question(f Fact, t int) string {
	a := &k.Attrs[f.Attr]
	return render(a.Questions[t%len(a.Questions)], k.Entities[f.Subject].Name, f.Value)
}

// QA returns the prompt and gold answer of fact f in the qa source's format: the source contains
// prompt + " " + answer, so an evaluation scores the continuation " "+answer after prompt.
//
//	prompt: "Q: What is the capital of Zorvia?\nA:"   answer: "Kelmon"
func (k *KB) QA(f Fact, t int) (prompt, answer string) {
	return "Q: " + k.Question(f, t) + "\nA:", f.Value
}

// Cloze returns statement template 0 of fact f cut before its value: the source contains prompt + " " + answer + ".".
//
//	prompt: "The capital of Zorvia is"   answer: "Kelmon"
func (k *KB) Cloze(f Fact) (prompt, answer string) {
	tpl := k.Attrs[f.Attr].Statements[0]
	cut := strings.Index(tpl, " {v}")
	return render(tpl[:cut], k.Entities[f.Subject].Name, ""), f.Value
}

// Distractors returns n distinct wrong answers for fact f from its attribute's value set, in an order drawn from
// seed (the same seed, the same distractors). It panics if the value set has fewer than n+1 values.
func (k *KB) Distractors(f Fact, n int, seed uint64) []string {
	vals := k.Attrs[f.Attr].Values
	var wrong []string
	for _, v := range vals {
		if v != f.Value {
			wrong = append(wrong, v)
		}
	}
	if len(wrong) < n {
		panic(fmt.Sprintf("world: attribute %s has %d wrong values, need %d", k.Attrs[f.Attr].Name, len(wrong), n))
	}
	r := rnd.New(rnd.Hash(seed, rnd.String("world.distractors"), uint64(f.Subject), uint64(f.Attr)))
	r.Shuffle(len(wrong), func(i, j int) { wrong[i], wrong[j] = wrong[j], wrong[i] })
	return wrong[:n]
}

// render fills a template and capitalises its first letter (templates may start with a lower-case value).
func render(tpl, s, v string) string {
	out := strings.ReplaceAll(strings.ReplaceAll(tpl, "{s}", s), "{v}", v)
	if out != "" && out[0] >= 'a' && out[0] <= 'z' {
		out = string(out[0]-'a'+'A') + out[1:]
	}
	return out
}

func pick[T any](r *rnd.RNG, xs []T) T { return xs[r.IntN(len(xs))] }

// namer invents unique pronounceable names from syllables.
type namer struct {
	r    *rnd.RNG
	used map[string]bool
}

var (
	onsets = []string{"b", "d", "f", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br", "dr", "gr", "kr", "st", "th", "sh", "tr", "pl"}
	vowels = []string{"a", "e", "i", "o", "u", "a", "o", "ai", "ea", "ou"}
	codas  = []string{"", "", "", "", "", "n", "r", "l", "s", "m", "th", "k"}
)

func newNamer(r *rnd.RNG) *namer { return &namer{r: r, used: map[string]bool{}} }

func (n *namer) next(minSyl, maxSyl int) string {
	for {
		var b strings.Builder
		for range n.r.Range(minSyl, maxSyl) {
			b.WriteString(pick(n.r, onsets))
			b.WriteString(pick(n.r, vowels))
			b.WriteString(pick(n.r, codas))
		}
		s := b.String()
		name := strings.ToUpper(s[:1]) + s[1:]
		if len(name) >= 4 && !n.used[name] {
			n.used[name] = true
			return name
		}
	}
}
