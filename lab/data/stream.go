package data

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"

	"github.com/olmolab/olmolab/lab/data/internal/rnd"
)

// Cursor is a source's position in its own stream of instances: enough to regenerate every following instance
// exactly. Which fields are used depends on the source:
//
//   - token files: Instance, the number of instances taken; instance k is permutation_epoch(k mod N) with epoch
//     k / N, N the source's instance count.
//   - documents: Epoch (pass over the files), File (index in that epoch's shuffled file order), Doc (0-based line
//     of the document in the file) and Token (tokens of that document, EOS included, already taken).
//   - built-in: Doc (document index) and Token.
type Cursor struct {
	Instance int64 `json:"instance,omitempty"`
	Epoch    int64 `json:"epoch,omitempty"`
	File     int   `json:"file,omitempty"`
	Doc      int64 `json:"doc,omitempty"`
	Token    int   `json:"token,omitempty"`
}

// instance is one SeqLen-token instance, or the error that stopped its source.
type instance struct {
	ids   []int32
	after Cursor // the source's cursor once this instance is taken
	err   error
}

// producer fills a source's queue ahead of the trainer on its own goroutines.
type producer struct {
	ch     chan *instance
	free   chan []int32
	seqLen int
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

type prodParams struct {
	tok      Tokenizer
	seqLen   int
	prefetch int
	workers  int
	strict   bool
}

// startProducer starts producing s's instances from cursor from.
func startProducer(s *source, pp prodParams, from Cursor) *producer {
	ctx, cancel := context.WithCancel(context.Background())
	p := &producer{
		ch:     make(chan *instance, pp.prefetch),
		free:   make(chan []int32, pp.prefetch+2),
		seqLen: pp.seqLen,
		cancel: cancel,
	}
	switch s.kind {
	case srcTokens:
		p.wg.Go(func() { p.runTokens(ctx, s, from) })
	case srcBuiltin:
		p.runDocs(ctx, &builtinDocs{s: s, idx: from.Doc}, from, pp)
	case srcDocs:
		p.runDocs(ctx, &fileDocs{s: s, strict: pp.strict, epoch: from.Epoch, file: from.File, skipTo: from.Doc}, from, pp)
	}
	return p
}

// stop ends the producer's goroutines and waits for them; queued instances are dropped.
func (p *producer) stop() {
	p.cancel()
	p.wg.Wait()
}

func (p *producer) buffer() []int32 {
	select {
	case b := <-p.free:
		return b
	default:
		return make([]int32, p.seqLen)
	}
}

// recycle returns an instance's buffer for reuse.
func (p *producer) recycle(b []int32) {
	select {
	case p.free <- b:
	default:
	}
}

func (p *producer) send(ctx context.Context, in *instance) bool {
	select {
	case p.ch <- in:
		return true
	case <-ctx.Done():
		return false
	}
}

// runTokens serves a token-file source: instance k of the stream is instance permute(k mod N) of the files' N
// instances, reshuffled every epoch (OLMo's global shuffle, one source at a time).
func (p *producer) runTokens(ctx context.Context, s *source, from Cursor) {
	total := s.instances()
	for k := from.Instance; ; k++ {
		epoch := k / total
		j := permute(k%total, total, rnd.Hash(s.key, uint64(epoch)))
		f := sort.Search(len(s.files), func(i int) bool { return s.cum[i+1] > j })
		buf := p.buffer()
		s.files[f].read(buf, (j-s.cum[f])*int64(p.seqLen))
		if !p.send(ctx, &instance{ids: buf, after: Cursor{Instance: k + 1}}) {
			return
		}
	}
}

// docStream yields a source's documents in order with their positions (Token always 0).
type docStream interface {
	next() (pos Cursor, text func() string, err error)
}

// builtinDocs is the endless stream of a built-in source: document i is world.KB.Document(src, key, i), generated
// by the workers.
type builtinDocs struct {
	s   *source
	idx int64
}

func (b *builtinDocs) next() (Cursor, func() string, error) {
	i := b.idx
	b.idx++
	kb, src, key := b.s.kb, b.s.wsrc, b.s.key
	return Cursor{Doc: i}, func() string { return kb.Document(src, key, uint64(i)) }, nil
}

// fileDocs streams a document source's files: each epoch visits every file once in an order shuffled by
// (seed, name, epoch), each file's documents in file order.
type fileDocs struct {
	s       *source
	strict  bool
	epoch   int64
	file    int
	skipTo  int64 // skip documents before this 0-based line in the first file (resuming)
	order   []int
	r       *docReader
	inEpoch int64 // documents returned in this epoch
}

func (f *fileDocs) next() (Cursor, func() string, error) {
	for {
		if f.order == nil {
			f.order = rnd.New(rnd.Hash(f.s.key, uint64(f.epoch), 1)).Perm(len(f.s.docs))
		}
		if f.r == nil {
			if f.file >= len(f.order) {
				if f.inEpoch == 0 {
					return Cursor{}, nil, &InputError{Source: f.s.spec.Name, Msg: "no documents left in any file (did the files change while training?)"}
				}
				f.epoch, f.file, f.order, f.inEpoch = f.epoch+1, 0, nil, 0
				continue
			}
			r, err := openDocs(f.s.docs[f.order[f.file]])
			if err != nil {
				return Cursor{}, nil, withSource(err, f.s.spec.Name)
			}
			f.r = r
		}
		d, err := f.r.next()
		if err == io.EOF {
			f.r.Close()
			f.r = nil
			f.file++
			f.skipTo = 0
			continue
		}
		if err != nil {
			if isMalformed(err) && !f.strict {
				continue // warned about when the loader scanned the file
			}
			return Cursor{}, nil, withSource(err, f.s.spec.Name)
		}
		line := int64(d.Line - 1)
		if line < f.skipTo {
			continue
		}
		f.inEpoch++
		text := d.Text
		return Cursor{Epoch: f.epoch, File: f.file, Doc: line}, func() string { return text }, nil
	}
}

// isMalformed reports whether err is a malformed JSON line (docReader.next's *InputError).
func isMalformed(err error) bool {
	var ie *InputError
	return errors.As(err, &ie) && ie.Msg == msgMalformed
}

func withSource(err error, name string) error {
	var ie *InputError
	if errors.As(err, &ie) && ie.Source == "" {
		ie.Source = name
	}
	return err
}

// runDocs tokenizes a document stream on pp.workers goroutines, keeps the documents in stream order, appends EOS to
// each and packs them into SeqLen instances (documents run across instance boundaries, as in OLMo's
// concatenated token files). The first document's first from.Token tokens are skipped (resuming mid-document).
func (p *producer) runDocs(ctx context.Context, ds docStream, from Cursor, pp prodParams) {
	type job struct {
		pos  Cursor
		text func() string
		ids  []int32
		err  error
		done chan struct{}
	}
	workers := max(pp.workers, 1)
	jobs := make(chan *job, 2*workers)
	order := make(chan *job, 4*workers)
	eos := pp.tok.EOS()
	p.wg.Go(func() { // reader: documents in order
		defer close(jobs)
		defer close(order)
		for {
			pos, text, err := ds.next()
			j := &job{pos: pos, text: text, err: err, done: make(chan struct{})}
			if err != nil {
				close(j.done)
			}
			select {
			case order <- j:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
			select {
			case jobs <- j:
			case <-ctx.Done():
				return
			}
		}
	})
	for range workers {
		p.wg.Go(func() {
			for j := range jobs {
				t := j.text()
				j.ids = append(pp.tok.Encode(make([]int32, 0, len(t)/3+8), t), eos)
				close(j.done)
			}
		})
	}
	p.wg.Go(func() { // packer
		buf, n := p.buffer(), 0
		skip := from.Token
		for j := range order {
			select {
			case <-j.done:
			case <-ctx.Done():
				return
			}
			if j.err != nil {
				p.send(ctx, &instance{err: j.err})
				return
			}
			ids := j.ids
			off := min(skip, len(ids))
			skip = 0
			for off < len(ids) {
				c := copy(buf[n:], ids[off:])
				n += c
				off += c
				if n == p.seqLen {
					after := j.pos
					after.Token = off
					if !p.send(ctx, &instance{ids: buf, after: after}) {
						return
					}
					buf, n = p.buffer(), 0
				}
			}
		}
		if ctx.Err() == nil {
			p.send(ctx, &instance{err: fmt.Errorf("data: document stream ended")})
		}
	})
}
