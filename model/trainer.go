package model

import (
	"math"
	"math/rand/v2"
)

// TrainerParams configures a Trainer: the model, the micro-batch shape (B
// sequences of T tokens) and the optimisation settings (olmo2.md §6 defaults).
type TrainerParams struct {
	Config      Config
	Batch, Seq  int     // micro-batch shape (B, T)
	Seed        uint64  // initialisation seed
	Opt         AdamW   // zero value: OLMo 2's AdamW
	MaxGradNorm float64 // 0: OLMo 2's 1.0; negative: no clipping
	ZLoss       float64 // 0: OLMo 2's 1e-5; negative: no z-loss
	Workers     int     // 0: GOMAXPROCS
}

// Trainer runs OLMo 2 optimizer steps on a Backend: gradient accumulation over
// micro-batches, OLMo-core's loss normalisation, the global grad norm, clipping,
// the non-finite check and AdamW.
type Trainer struct {
	B Backend
	P TrainerParams
}

// NewTrainer builds a CPU backend and initialises the weights with OLMo 2's init.
func NewTrainer(p TrainerParams) *Trainer {
	p = p.withDefaults()
	b := NewCPUBackend(p.Config, p.Batch, p.Seq, p.Workers)
	Init(b.E.Layout, b.E.Params, p.Seed)
	return &Trainer{B: b, P: p}
}

// NewTrainerOn wraps an existing backend (weights already loaded or initialised).
func NewTrainerOn(b Backend, p TrainerParams) *Trainer {
	p.Config = b.Config()
	p.Batch, p.Seq = b.MicroBatch()
	return &Trainer{B: b, P: p.withDefaults()}
}

func (p TrainerParams) withDefaults() TrainerParams {
	if p.Opt == (AdamW{}) {
		p.Opt = OLMo2AdamW()
	}
	if p.MaxGradNorm == 0 {
		p.MaxGradNorm = 1
	}
	if p.ZLoss == 0 {
		p.ZLoss = 1e-5
	}
	return p
}

// Close releases the backend.
func (t *Trainer) Close() { t.B.Close() }

// StepResult reports one optimizer step. Loss and ZLoss are OLMo-core's means over
// the labelled tokens of the whole step.
type StepResult struct {
	Loss, ZLoss float64
	GradNorm    float64 // before clipping
	ClipCoef    float64
	Labelled    int
	Skipped     bool // loss or gradient not finite: parameters and moments untouched
}

// Step trains on ids/labels holding k whole micro-batches (k·B·T tokens each,
// accumulated into one update) with learning rate lr.
func (t *Trainer) Step(ids, labels []int32, lr float64) StepResult {
	e := t.B
	B, T := e.MicroBatch()
	mb := B * T
	if len(ids) == 0 || len(ids)%mb != 0 || len(labels) != len(ids) {
		panic("model: Step needs whole micro-batches of ids and labels")
	}
	n := CountLabelled(labels)
	var r StepResult
	r.Labelled = n
	e.ZeroGrads()
	if n == 0 {
		r.Skipped = true
		return r
	}
	z := math.Max(t.P.ZLoss, 0)
	var ce, zs float64
	for o := 0; o < len(ids); o += mb {
		l := e.ForwardBackward(ids[o:o+mb], labels[o:o+mb], 1/float64(n), z)
		ce += l.CESum
		zs += l.ZSum
	}
	r.Loss, r.ZLoss = ce/float64(n), zs/float64(n)
	r.GradNorm = e.GradNorm()
	if !finite(r.Loss) || !finite(r.ZLoss) || !finite(r.GradNorm) {
		r.Skipped = true
		return r
	}
	r.ClipCoef = ClipCoef(r.GradNorm, t.P.MaxGradNorm)
	e.Step(t.P.Opt, lr, r.ClipCoef)
	return r
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// Save writes the current weights as an HF checkpoint (float32), streamed
// from the backend (SaveHFFrom).
func (t *Trainer) Save(dir string) error {
	return SaveHFFrom(dir, t.B, NewStreamBuf(NewLayout(t.B.Config()).Size()), "F32", 0)
}

// SyntheticStream is a learnable, deterministic token stream for smoke runs and
// tests: a sparse first-order Markov chain where each token has four likely
// successors, so a model can get from ln V down towards ln 4 nats.
type SyntheticStream struct {
	next [][4]int32
	r    *rand.Rand
	cur  int32
	V    int
}

// NewSyntheticStream builds the chain over the first V−2 ids (the top two are
// reserved for EOS and PAD, as in every preset).
func NewSyntheticStream(V int, seed uint64) *SyntheticStream {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	n := max(V-2, 1)
	s := &SyntheticStream{next: make([][4]int32, n), r: r, V: n}
	for i := range s.next {
		for j := range s.next[i] {
			s.next[i][j] = int32(r.IntN(n))
		}
	}
	return s
}

// Fill writes consecutive tokens into ids (rows of length seq) and the
// pre-shifted labels: labels[t] = ids[t+1], IgnoreIndex at each row's end.
func (s *SyntheticStream) Fill(ids, labels []int32, seq int) {
	for row := 0; row < len(ids)/seq; row++ {
		for t := 0; t <= seq; t++ {
			tok := s.cur
			if t < seq {
				ids[row*seq+t] = tok
			}
			if t > 0 {
				labels[row*seq+t-1] = tok
			}
			if t < seq {
				s.cur = s.next[s.cur][s.r.IntN(4)]
			}
		}
		labels[row*seq+seq-1] = IgnoreIndex
	}
}
