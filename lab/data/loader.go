package data

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/olmolab/olmolab/lab/data/world"
	"github.com/olmolab/olmolab/lab/plural"
)

// LoaderParams configures a Loader.
type LoaderParams struct {
	Sources   []SourceSpec
	Tokenizer Tokenizer
	SeqLen    int    // tokens per instance (the recipe's sequence_length)
	Seed      uint64 // data-order seed: shuffles and built-in documents; never the world's knowledge base
	Strict    bool   // stop at the first malformed JSON line instead of skipping it with a warning
	// Warn receives warnings (normalised ratios, skipped lines) from NewLoader and SetMix, on the caller's
	// goroutine. Nil discards them.
	Warn func(string)
	// Progress, if not nil, receives a line at most every second while a capped document source's tokens are
	// counted (a first start over 100s of GB; later starts take the counts from a cache, sizecache.go), from any
	// goroutine.
	Progress func(string)

	DType    DType     // element type of token files; 0 means DTypeFor(Tokenizer) (uint32 for dolma2)
	Prefetch int       // instances queued ahead per source; 0 means 256
	Workers  int       // tokenizing goroutines per document source; 0 means 2
	World    *world.KB // knowledge base of builtin: sources; nil means world.Default()

	heldOut bool // built-in sources serve their held-out streams (ReadValidation)
}

// Loader serves a deterministic mixture of sources as fixed-length instances of token ids.
//
// How instances are drawn: every source produces its own endless, deterministic stream of instances (token files:
// a keyed shuffle of their instances per epoch; documents: tokenized in order and packed with EOS) on its own
// goroutines, queued ahead. Next picks the source of each instance with smooth weighted round-robin over integer
// weights from the target ratios: source i is picked when its credit, raised by its weight every instance, is the
// largest, and then pays the total weight. So after n instances every source has served within one instance of
// n·ratio, there is no sampling noise, and the choice depends only on the position, never on timing. A SetMix
// changes the weights (and resets the credits) from the next instance on; queued instances stay valid because a
// source's stream does not depend on the mix.
//
// The state (per source: cursor of the last instance taken, credit, weight, counts) is small and JSON-friendly;
// Restore rebuilds the streams from the cursors, so a resumed run sees exactly the batches an uninterrupted one
// would.
//
// Next, SetMix, State, Restore and Close are meant for the training goroutine; TokensBySource, Mix and Stats may be
// called from any goroutine.
type Loader struct {
	p    LoaderParams
	open openParams
	pp   prodParams

	mu        sync.Mutex
	srcs      []*source
	ratios    []float64
	weights   []int64
	credits   []int64
	served    []int64  // instances taken per source
	cursors   []Cursor // cursor after the last instance taken per source
	repeated  []bool   // the source has started a second pass over its data
	docPass   []int64  // a document source's latest pass served (instance.pass; SourceState.Pass)
	repeats   []Repeat // repeats not yet taken by TakeRepeats
	instances int64
	err       error
	closed    bool
	waits     int64
	waited    time.Duration
}

// weightScale turns normalised ratios into integer weights: integers keep the schedule exact and identical on every
// machine (no floating-point accumulation), and 2^30 resolves ratios far below anything a recipe states.
const weightScale = 1 << 30

// NewLoader validates every source before anything trains (files exist, token files are whole and within the
// vocabulary, JSON lines parse, no source is empty, ratios are valid) and starts producing. Input problems are
// returned as *InputError (several joined: inputErrors).
func NewLoader(p LoaderParams) (*Loader, error) {
	if p.Warn == nil {
		p.Warn = func(string) {}
	}
	if p.Tokenizer == nil {
		panic("data: NewLoader without a Tokenizer")
	}
	if p.SeqLen <= 0 {
		return nil, &InputError{Msg: fmt.Sprintf("sequence_length %d must be positive", p.SeqLen)}
	}
	if len(p.Sources) == 0 {
		return nil, &InputError{Msg: "no data sources", Hint: "add dataset.sources to the recipe, e.g. a builtin:web_clean source"}
	}
	if p.DType == 0 {
		p.DType = DTypeFor(p.Tokenizer)
	}
	if p.Prefetch <= 0 {
		p.Prefetch = 256
	}
	if p.Workers <= 0 {
		p.Workers = 2
	}
	if p.World == nil {
		p.World = world.Default()
	}
	l := &Loader{p: p}
	l.open = openParams{tok: p.Tokenizer, seqLen: p.SeqLen, seed: p.Seed, dtype: p.DType, strict: p.Strict, kb: p.World, warn: p.Warn, progress: p.Progress, heldOut: p.heldOut}
	l.pp = prodParams{tok: p.Tokenizer, seqLen: p.SeqLen, prefetch: p.Prefetch, workers: p.Workers, strict: p.Strict}
	if err := checkNames(p.Sources); err != nil {
		return nil, err
	}
	ratios, err := checkRatios(p.Sources, p.Warn)
	if err != nil {
		return nil, err
	}
	srcs, err := l.openAll(p.Sources, p.Warn)
	if err != nil {
		return nil, err
	}
	l.srcs = srcs
	l.setWeights(ratios)
	l.served = make([]int64, len(srcs))
	l.cursors = make([]Cursor, len(srcs))
	l.repeated = make([]bool, len(srcs))
	l.docPass = make([]int64, len(srcs))
	for _, s := range srcs {
		s.prod = startProducer(s, l.pp, Cursor{})
	}
	return l, nil
}

func checkNames(specs []SourceSpec) error {
	var probs problems
	seen := map[string]bool{}
	for i, s := range specs {
		switch {
		case s.Name == "":
			probs.add(&InputError{Msg: fmt.Sprintf("source %d has no name", i+1), Hint: "give every source a name (it stands for the source in every mix, the summary and checkpoints)"})
		case seen[s.Name]:
			probs.add(&InputError{Source: s.Name, Msg: "two sources have this name", Hint: "source names must be unique"})
		}
		seen[s.Name] = true
	}
	return probs.err()
}

// openAll opens sources in parallel (each validation may read files) and collects their problems; their warnings go
// to warn.
func (l *Loader) openAll(specs []SourceSpec, warn func(string)) ([]*source, error) {
	srcs := make([]*source, len(specs))
	probs := make([]problems, len(specs))
	warns := make([][]string, len(specs))
	forEach(len(specs), func(i int) {
		op := l.open
		op.warn = func(w string) { warns[i] = append(warns[i], w) }
		srcs[i] = openSource(specs[i], op, &probs[i])
	})
	// Warnings reach warn on the caller's goroutine, in source order.
	for _, ws := range warns {
		for _, w := range ws {
			warn(w)
		}
	}
	var all problems
	for i := range probs {
		for _, e := range probs[i].errs {
			var ie *InputError
			if errors.As(e, &ie) {
				all.add(ie)
			}
		}
		all.dropped += probs[i].dropped
	}
	if err := all.err(); err != nil {
		for _, s := range srcs {
			if s != nil {
				s.close()
			}
		}
		return nil, err
	}
	return srcs, nil
}

// setWeights sets integer weights from normalised ratios and resets the credits.
func (l *Loader) setWeights(ratios []float64) {
	l.ratios = ratios
	l.weights = make([]int64, len(ratios))
	for i, r := range ratios {
		l.weights[i] = int64(math.Round(r * weightScale))
		if r > 0 && l.weights[i] == 0 {
			l.weights[i] = 1
		}
	}
	l.credits = make([]int64, len(ratios))
}

// pick chooses the next instance's source (smooth weighted round-robin, ties to the earlier source).
func (l *Loader) pick() int {
	var total int64
	best := -1
	for i, w := range l.weights {
		l.credits[i] += w
		total += w
		if w > 0 && (best < 0 || l.credits[i] > l.credits[best]) {
			best = i
		}
	}
	l.credits[best] -= total
	return best
}

// Next fills ids with len(ids)/SeqLen instances of SeqLen token ids each (row-major (B, T)). It panics if len(ids) is
// not a positive multiple of SeqLen. In steady state the instances are already queued and Next only copies; it
// waits only when the trainer outruns the producers (see Stats). An error (a file that vanished, a malformed line in
// strict mode, Close) stops the loader: every later call returns it.
func (l *Loader) Next(ids []int32) error {
	T := l.p.SeqLen
	if len(ids) == 0 || len(ids)%T != 0 {
		panic(fmt.Sprintf("data: Next: len(ids) = %d is not a positive multiple of SeqLen %d", len(ids), T))
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return l.err
	}
	for off := 0; off < len(ids); off += T {
		i := l.pick()
		prod := l.srcs[i].prod
		var in *instance
		select {
		case in = <-prod.ch:
		default:
			start := time.Now()
			in = <-prod.ch
			l.waits++
			l.waited += time.Since(start)
		}
		if in.err != nil {
			l.err = in.err
			var ie *InputError
			if !errors.As(in.err, &ie) || ie.Source == "" { // an InputError of the source names it already
				l.err = fmt.Errorf("source %q: %w", l.srcs[i].spec.Name, in.err)
			}
			return l.err
		}
		copy(ids[off:off+T], in.ids)
		prod.recycle(in.ids)
		l.cursors[i] = in.after
		l.docPass[i] = max(l.docPass[i], in.pass)
		l.served[i]++
		l.instances++
		if !l.repeated[i] && l.pass(i) > 1 {
			l.repeated[i] = true
			l.repeats = append(l.repeats, Repeat{Source: l.srcs[i].spec.Name, Tokens: l.passTokens(i), Exact: l.srcs[i].kind == srcTokens})
		}
	}
	return nil
}

// Repeat says that a source's data ran out and the source started over: from
// then on the run trains on it a second time (OLMo-core's mixtures refuse to
// repeat a source).
type Repeat struct {
	Source string
	Tokens int64 // tokens of one pass over the source; for documents, an upper bound: those served when it started over
	Exact  bool  // Tokens is the pass's size (token files), not a bound (documents, tokenized as they are read)
}

// TakeRepeats returns the sources that started their second pass since the
// last call (each source once in a loader's life; a Restore counts those of
// the checkpoint's position as reported already). It allocates nothing when
// there are none.
func (l *Loader) TakeRepeats() []Repeat {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.repeats) == 0 {
		return nil
	}
	out := l.repeats
	l.repeats = nil
	return out
}

// TakeWarnings returns the warnings found while serving since the last call: malformed lines of document files past
// what NewLoader read of them (docHeadBytes), each with its file:line, at most a few a file. A run gives them as it
// trains. It allocates nothing when there are none.
func (l *Loader) TakeWarnings() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, s := range l.srcs {
		if !s.partly {
			continue
		}
		s.warnMu.Lock()
		out = append(out, s.late...)
		s.late = nil
		s.warnMu.Unlock()
	}
	return out
}

// Passes returns, per file source that has served, the pass over its data its
// last instance came from (1: the first; 2 and more: its data repeats).
// Built-in sources are endless and not listed.
func (l *Loader) Passes() map[string]int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := map[string]int64{}
	for i, s := range l.srcs {
		if p := l.pass(i); p > 0 {
			m[s.spec.Name] = p
		}
	}
	return m
}

// pass is the pass over source i's data that its last instance taken came
// from (1 = the first), 0 before any and for built-in sources.
func (l *Loader) pass(i int) int64 {
	if l.served[i] == 0 {
		return 0
	}
	c := l.cursors[i]
	switch s := l.srcs[i]; s.kind {
	case srcTokens:
		if c.Instance == 0 {
			return 0
		}
		return (c.Instance-1)/s.instances() + 1
	case srcDocs:
		// the cursor's epoch is where its shuffle window starts; the
		// instances of a window that runs past the end of the files are
		// from the next pass
		return max(c.Epoch+1, l.docPass[i])
	}
	return 0
}

// passTokens is the size of one pass over source i in tokens: a token-file
// source's instances, else (documents, tokenized as they are read) what it
// has served.
func (l *Loader) passTokens(i int) int64 {
	if s := l.srcs[i]; s.kind == srcTokens {
		return s.instances() * int64(l.p.SeqLen)
	}
	return l.served[i] * int64(l.p.SeqLen)
}

// SetMix switches the mixture from the next instance on. Every source named in mix gets its target ratio (normalised
// with a warning if they do not sum to 1); sources not named get 0. A name the loader does not have adds a new
// source from its Paths, validated as in NewLoader; a known name's Paths are ignored. Errors leave the mix
// unchanged.
func (l *Loader) SetMix(mix []SourceSpec) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return errors.New("data: SetMix on a closed Loader")
	}
	if err := checkNames(mix); err != nil {
		return err
	}
	if _, err := checkRatios(mix, func(string) {}); err != nil {
		return err
	}
	var added []SourceSpec
	for _, m := range mix {
		if l.index(m.Name) < 0 {
			if len(m.Paths) == 0 {
				return &InputError{Source: m.Name, Msg: "unknown source", Hint: "name a source of the run, or give paths to add a new one"}
			}
			added = append(added, m)
		}
	}
	newSrcs, err := l.openAll(added, l.p.Warn)
	if err != nil {
		return err
	}
	for _, s := range newSrcs {
		s.prod = startProducer(s, l.pp, Cursor{})
		l.srcs = append(l.srcs, s)
		l.served = append(l.served, 0)
		l.cursors = append(l.cursors, Cursor{})
		l.repeated = append(l.repeated, false)
		l.docPass = append(l.docPass, 0)
	}
	full := make([]SourceSpec, len(l.srcs))
	for i, s := range l.srcs {
		full[i] = SourceSpec{Name: s.spec.Name}
	}
	for _, m := range mix {
		full[l.index(m.Name)].TargetRatio = m.TargetRatio
	}
	ratios, _ := checkRatios(full, l.p.Warn)
	l.setWeights(ratios)
	return nil
}

// CheckMix validates mix as SetMix and a new Loader of mix would, without changing anything: names and ratios, and the
// files of every source that this loader does not serve under the same name and paths (a source it serves was checked
// when it was opened; a known name without paths means that source, as in SetMix). A run calls it for the mixes it
// switches to later (an anneal's, a soup's), so that a missing file stops it before it trains rather than at the
// switch. Warnings (skipped lines) are left to the switch itself.
func (l *Loader) CheckMix(mix []SourceSpec) error {
	if err := checkNames(mix); err != nil {
		return err
	}
	if _, err := checkRatios(mix, func(string) {}); err != nil {
		return err
	}
	_, err := l.sizes(mix)
	return err
}

// serves says whether the loader serves m's source as m names it: the same name, and the same paths and dtype
// where m gives them (a known name without paths means that source, as in SetMix).
func (l *Loader) serves(m SourceSpec) (*source, bool) {
	i := l.index(m.Name)
	if i < 0 {
		return nil, false
	}
	s := l.srcs[i]
	if len(m.Paths) > 0 && (!slices.Equal(s.spec.Paths, m.Paths) || cmp.Or(m.DType, l.p.DType) != cmp.Or(s.spec.DType, l.p.DType)) {
		return nil, false
	}
	return s, true
}

// sizes opens (and closes again) the sources of mix the loader does not serve, as CheckMix, and returns the size of
// one pass over each token-file source, and over each document source whose spec is Capped, in tokens (SourceSpec.Cap
// is checked against it). Built-in sources, whose documents never repeat, have none.
func (l *Loader) sizes(mix []SourceSpec) (map[string]int64, error) {
	out := map[string]int64{}
	l.mu.Lock()
	var unknown []SourceSpec
	for _, m := range mix {
		s, ok := l.serves(m)
		switch {
		case !ok || s.kind == srcDocs && m.Capped() && !s.spec.Capped(): // documents counted only where capped
			unknown = append(unknown, m)
		case s.kind != srcBuiltin:
			out[m.Name] = s.size
		}
	}
	l.mu.Unlock()
	srcs, err := l.openAll(unknown, func(string) {})
	for _, s := range srcs {
		if s != nil {
			if s.kind != srcBuiltin {
				out[s.spec.Name] = s.size
			}
			s.close()
		}
	}
	return out, err
}

// PassTokens validates mix as CheckMix does and returns the tokens one pass over each of its sources serves, by
// name: a token-file source's whole sequences, a Capped document source's tokens with their EOS. Built-in sources
// and uncapped document sources are not listed.
func (l *Loader) PassTokens(mix []SourceSpec) (map[string]int64, error) {
	if err := checkNames(mix); err != nil {
		return nil, err
	}
	return l.sizes(mix)
}

func (l *Loader) index(name string) int {
	for i, s := range l.srcs {
		if s.spec.Name == name {
			return i
		}
	}
	return -1
}

// Mix returns the current mixture: every source with its normalised ratio and paths.
func (l *Loader) Mix() []SourceSpec {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]SourceSpec, len(l.srcs))
	for i, s := range l.srcs {
		// the whole spec but its ratio: a resume reopens the sources from it (their dtype)
		out[i] = s.spec
		out[i].TargetRatio, out[i].Paths = l.ratios[i], slices.Clone(s.spec.Paths)
	}
	return out
}

// TokensBySource returns the exact number of tokens served from each source so far (instances × SeqLen).
func (l *Loader) TokensBySource() map[string]int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := make(map[string]int64, len(l.srcs))
	for i, s := range l.srcs {
		m[s.spec.Name] = l.served[i] * int64(l.p.SeqLen)
	}
	return m
}

// LoaderStats tells whether data kept up with training.
type LoaderStats struct {
	Instances int64         // instances served
	Waits     int64         // instances Next had to wait for (zero in steady state)
	Waited    time.Duration // total time Next waited
}

// Stats returns counters of the loader's service.
func (l *Loader) Stats() LoaderStats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return LoaderStats{Instances: l.instances, Waits: l.waits, Waited: l.waited}
}

// LoaderState is the loader's position, saved in a checkpoint's state.json. It is plain JSON; Restore of a state
// taken after n instances makes the loader serve exactly what an uninterrupted loader serves after n.
type LoaderState struct {
	Version   int           `json:"version"`
	Tokenizer string        `json:"tokenizer"`
	SeqLen    int           `json:"seq_len"`
	Seed      uint64        `json:"seed"`
	Instances int64         `json:"instances"`
	Sources   []SourceState `json:"sources"`
}

// SourceState is one source's part of a LoaderState.
type SourceState struct {
	Name        string   `json:"name"`
	Paths       []string `json:"paths"`
	TargetRatio float64  `json:"target_ratio"` // normalised, as served
	Weight      int64    `json:"weight"`
	Credit      int64    `json:"credit"`
	Instances   int64    `json:"instances"`
	Tokens      int64    `json:"tokens"`
	Cursor      Cursor   `json:"cursor"`
	Total       int64    `json:"total,omitempty"` // instances per epoch of a token-file source, to notice changed files
	// Files is a document source's file count: its cursor's File indexes a
	// shuffle of that many files, so another count is another order.
	Files int `json:"files,omitempty"`
	// Shuffle is a document source's shuffle window (docShuffleWindow); 0 in a
	// state of an olmolab that served documents in file order.
	Shuffle int `json:"shuffle,omitempty"`
	// Pass is the pass over a document source's files its latest instance
	// is from, which its cursor (its shuffle window's start) can be one
	// behind; 0 in older states, whose cursors tell it.
	Pass int64 `json:"pass,omitempty"`
}

const stateVersion = 1

// State returns the loader's position after the last instance Next served.
func (l *Loader) State() LoaderState {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := LoaderState{Version: stateVersion, Tokenizer: l.p.Tokenizer.Name(), SeqLen: l.p.SeqLen, Seed: l.p.Seed, Instances: l.instances}
	for i, s := range l.srcs {
		st.Sources = append(st.Sources, SourceState{
			Name: s.spec.Name, Paths: slices.Clone(s.spec.Paths), TargetRatio: l.ratios[i], Weight: l.weights[i],
			Credit: l.credits[i], Instances: l.served[i], Tokens: l.served[i] * int64(l.p.SeqLen), Cursor: l.cursors[i],
		})
		switch s.kind {
		case srcTokens:
			st.Sources[i].Total = s.instances()
		case srcDocs:
			st.Sources[i].Files = len(s.docs)
			st.Sources[i].Shuffle = docShuffleWindow
			st.Sources[i].Pass = l.docPass[i]
		}
	}
	return st
}

// Restore moves the loader to a state from State (of this run, usually read back from a checkpoint). The loader must
// have the same tokenizer, sequence length and seed. Sources in the state that the loader lacks (added by a SetMix
// before the checkpoint) are added from their saved paths; sources the state lacks restart from the beginning with
// ratio 0. Input problems are *InputError.
func (l *Loader) Restore(st LoaderState) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return errors.New("data: Restore on a closed Loader")
	}
	switch {
	case st.Version != stateVersion:
		return &InputError{Msg: fmt.Sprintf("data state version %d, want %d", st.Version, stateVersion)}
	case st.Tokenizer != l.p.Tokenizer.Name() || st.SeqLen != l.p.SeqLen || st.Seed != l.p.Seed:
		return &InputError{Msg: fmt.Sprintf("checkpoint data state is for tokenizer %s, sequence length %d, seed %d; this run has %s, %d, %d",
			st.Tokenizer, st.SeqLen, st.Seed, l.p.Tokenizer.Name(), l.p.SeqLen, l.p.Seed), Hint: "resume with the recipe the checkpoint was written by"}
	}
	if err := checkSourceStates(st); err != nil {
		return err
	}
	var added []SourceSpec
	for _, ss := range st.Sources {
		if l.index(ss.Name) < 0 {
			added = append(added, SourceSpec{Name: ss.Name, TargetRatio: ss.TargetRatio, Paths: ss.Paths})
		}
	}
	newSrcs, err := l.openAll(added, l.p.Warn)
	if err != nil {
		return err
	}
	l.srcs = append(l.srcs, newSrcs...)
	n := len(l.srcs)
	l.ratios, l.weights, l.credits = make([]float64, n), make([]int64, n), make([]int64, n)
	l.served, l.cursors = make([]int64, n), make([]Cursor, n)
	l.repeated, l.repeats, l.docPass = make([]bool, n), nil, make([]int64, n)
	for _, ss := range st.Sources {
		i := l.index(ss.Name)
		l.ratios[i], l.weights[i], l.credits[i] = ss.TargetRatio, ss.Weight, ss.Credit
		l.served[i], l.cursors[i] = ss.Instances, ss.Cursor
		if l.srcs[i].kind == srcDocs {
			l.docPass[i] = ss.Pass
		}
		if s := l.srcs[i]; s.kind == srcTokens && ss.Total != 0 && ss.Total != s.instances() {
			l.p.Warn(fmt.Sprintf("source %q had %s when the checkpoint was written and has %d now; "+
				"resuming, but not on the same data order", ss.Name, plural.N(int(ss.Total), "instance"), s.instances()))
		}
		switch s := l.srcs[i]; {
		case s.kind != srcDocs:
		case ss.Files != 0 && ss.Files != len(s.docs):
			// a file added or removed, or a README beside JSONL files that
			// olmolab read as documents before it skipped them
			l.p.Warn(fmt.Sprintf("source %q had %s when the checkpoint was written and has %d now; "+
				"resuming, but not on the same data order (documents of this epoch may be repeated or left out)", ss.Name, plural.N(ss.Files, "file"), len(s.docs)))
		case ss.Files == 0 && s.skipped > 0:
			// a state from before the file count, written when the
			// skipped files were read as documents
			l.p.Warn(fmt.Sprintf("source %q: the checkpoint is from an olmolab that read the %s now skipped beside its JSONL files as documents; "+
				"resuming, but not on the same data order (documents of this epoch may be repeated or left out)", ss.Name, plural.N(s.skipped, "text file")))
		}
		if s := l.srcs[i]; s.kind == srcDocs && ss.Shuffle != docShuffleWindow {
			l.p.Warn(fmt.Sprintf("source %q: the checkpoint is from an olmolab that served its documents in file order (the same whatever the seed); "+
				"resuming, but not on the same data order: from here its instances are shuffled by the seed", ss.Name))
		}
		if s := l.srcs[i]; s.kind == srcDocs && ss.Files == 0 {
			// a state from before the file count, written when a glob's
			// wildcards matched hidden files and directories too
			if hidden := hiddenGlobData(s.spec.Paths); len(hidden) > 0 {
				l.p.Warn(fmt.Sprintf("source %q: the checkpoint is from an olmolab whose globs also read the %s they now skip (%s); "+
					"resuming, but not on the same data order (documents of this epoch may be repeated or left out); name them in a pattern to read them",
					ss.Name, plural.N(len(hidden), "hidden file"), strings.Join(hidden[:min(3, len(hidden))], ", ")))
			}
		}
	}
	var total int64
	for _, w := range l.weights {
		total += w
	}
	if total <= 0 {
		return &InputError{Msg: "checkpoint data state has no source with a positive ratio"}
	}
	for i, s := range l.srcs {
		if s.prod != nil {
			s.prod.stop()
		}
		s.prod = startProducer(s, l.pp, l.cursors[i])
	}
	for i := range l.srcs { // repeats before the checkpoint were reported then
		l.repeated[i] = l.pass(i) > 1
	}
	l.instances = st.Instances
	l.err = nil
	return nil
}

// checkSourceStates refuses a state (state.json's "loader", hand-edited or
// damaged) whose sources the loader cannot continue from: a name twice, a
// negative count, weight or cursor position (a credit may be negative: the
// round robin takes the total off the source it picks), a ratio that is not a
// non-negative number. The field is named as state.json spells it.
func checkSourceStates(st LoaderState) error {
	if st.Instances < 0 {
		return &InputError{Msg: fmt.Sprintf("field loader.instances: %d is negative", st.Instances)}
	}
	seen := map[string]bool{}
	for i, ss := range st.Sources {
		field := func(f string) string { return fmt.Sprintf("field loader.sources[%d].%s (%q)", i, f, ss.Name) }
		if seen[ss.Name] {
			return &InputError{Msg: fmt.Sprintf("%s: source %q is given twice", field("name"), ss.Name)}
		}
		seen[ss.Name] = true
		if math.IsNaN(ss.TargetRatio) || math.IsInf(ss.TargetRatio, 0) || ss.TargetRatio < 0 {
			return &InputError{Msg: fmt.Sprintf("%s: %v", field("target_ratio"), ss.TargetRatio)}
		}
		c := ss.Cursor
		for _, f := range []struct {
			name string
			v    int64
		}{{"weight", ss.Weight}, {"instances", ss.Instances}, {"tokens", ss.Tokens}, {"total", ss.Total}, {"files", int64(ss.Files)}, {"pass", ss.Pass},
			{"cursor.instance", c.Instance}, {"cursor.epoch", c.Epoch}, {"cursor.file", int64(c.File)}, {"cursor.doc", c.Doc}, {"cursor.token", int64(c.Token)}, {"cursor.window", int64(c.Window)}} {
			if f.v < 0 {
				return &InputError{Msg: fmt.Sprintf("%s: %d is negative", field(f.name), f.v), Hint: "the checkpoint's state.json is damaged: resume from an earlier checkpoint"}
			}
		}
		if c.Window >= docShuffleWindow {
			return &InputError{Msg: fmt.Sprintf("%s: %d is not below the shuffle window of %d instances", field("cursor.window"), c.Window, docShuffleWindow),
				Hint: "the checkpoint's state.json is damaged: resume from an earlier checkpoint"}
		}
	}
	return nil
}

// Close stops the producers and releases the files. Next after Close returns an error.
func (l *Loader) Close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	l.closed = true
	for _, s := range l.srcs {
		s.prod.stop()
		s.close()
	}
	if l.err == nil {
		l.err = errors.New("data: loader closed")
	}
}
