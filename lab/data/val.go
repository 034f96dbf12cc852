package data

import (
	"fmt"

	"github.com/olmolab/olmolab/lab/data/world"
)

// HeldOutSeed keys every validation set: ReadValidation draws with it instead of a recipe's data-order seed, so a
// validation set is the same at every evaluation of a run and in every run, whatever the run's seed.
const HeldOutSeed uint64 = 0x76616c5f73657431 // "val_set1"

// heldOutFirstDoc is where a built-in source's held-out stream starts in the document index space. A training
// stream's document i is world.KB.Document(src, Hash(seed, name), i) with i counting up from 0 (2^62 documents
// are far beyond any run), the held-out stream's are Document(src, Hash(HeldOutSeed, path), 2^62 + i): the two
// never share a (key, index) pair, whatever the training seed, so no held-out document is one a training stream
// generates. (The world is small and templated: two different documents can still have the same text, as two
// training seeds' documents can; see TestHeldOutIsNotTrainingText.)
const heldOutFirstDoc = 1 << 62

// ValidationParams says which validation set ReadValidation reads.
type ValidationParams struct {
	Source    SourceSpec // name and paths; TargetRatio is ignored
	Tokenizer Tokenizer
	SeqLen    int   // tokens per instance (the recipe's sequence_length)
	Tokens    int64 // tokens wanted, rounded down to whole instances
	DType     DType // as LoaderParams.DType
	Strict    bool
	World     *world.KB
	Warn      func(string) // a source shorter than Tokens is a warning; nil discards it
}

// ReadValidation returns the validation set of one source: Tokens/SeqLen instances, concatenated (rows·SeqLen
// ids), drawn as the Loader draws the source but with HeldOutSeed, and for a built-in source from its held-out
// stream (heldOutFirstDoc). File sources are read whole in a shuffle fixed by HeldOutSeed and the source's name; they
// must be files kept out of training (ReadValidation cannot know). A source that holds fewer instances than asked
// for gives what it holds, with a warning, rather than repeating itself; one without a single whole instance is an
// *InputError, as are missing files and the rest of NewLoader's checks.
func ReadValidation(p ValidationParams) ([]int32, error) {
	if p.SeqLen <= 0 {
		return nil, &InputError{Source: p.Source.Name, Msg: fmt.Sprintf("sequence_length %d must be positive", p.SeqLen)}
	}
	rows := p.Tokens / int64(p.SeqLen)
	if rows < 1 {
		return nil, &InputError{Source: p.Source.Name, Msg: fmt.Sprintf("%d validation tokens is less than one sequence of %d", p.Tokens, p.SeqLen),
			Hint: "ask for at least sequence_length tokens (tens of thousands give a steady loss)"}
	}
	if p.Warn == nil {
		p.Warn = func(string) {}
	}
	spec := p.Source
	spec.TargetRatio = 1
	l, err := NewLoader(LoaderParams{Sources: []SourceSpec{spec}, Tokenizer: p.Tokenizer, SeqLen: p.SeqLen, Seed: HeldOutSeed,
		Strict: p.Strict, Warn: p.Warn, DType: p.DType, World: p.World, Prefetch: int(min(rows, 64)), Workers: 1, heldOut: true})
	if err != nil {
		return nil, err
	}
	defer l.Close()
	s := l.srcs[0]
	out := make([]int32, 0, rows*int64(p.SeqLen))
	for range rows {
		in := <-s.prod.ch
		if in.err != nil {
			return nil, in.err
		}
		// the stream starts over: a token file source past its instances, a document source in its second pass
		if (s.kind == srcTokens && in.after.Instance > s.instances()) || (s.kind == srcDocs && in.after.Epoch > 0) {
			break
		}
		out = append(out, in.ids...)
	}
	if len(out) == 0 {
		return nil, &InputError{Source: p.Source.Name, Msg: fmt.Sprintf("holds less than one sequence of %d tokens", p.SeqLen),
			Hint: "give validation files with more text, or a shorter sequence_length"}
	}
	if got := int64(len(out)); got < rows*int64(p.SeqLen) {
		p.Warn(fmt.Sprintf("source %q: validation holds %d tokens, not the %d asked for (the files hold no more); using %d",
			p.Source.Name, got, rows*int64(p.SeqLen), got))
	}
	return out, nil
}

// TokenBytes returns the length in bytes of every id's text (its UTF-8 bytes, or for a byte-level BPE token the
// raw bytes it stands for), 0 for EOS, PAD and ids without text: what bits per byte divides by, special tokens
// being no text of the document.
func TokenBytes(t Tokenizer) []int32 {
	out := make([]int32, t.VocabSize())
	one := make([]int32, 1)
	for id := range out {
		if int32(id) == t.EOS() || int32(id) == t.PAD() {
			continue
		}
		one[0] = int32(id)
		out[id] = int32(len(t.Decode(one)))
	}
	return out
}
