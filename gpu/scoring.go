package gpu

import (
	"fmt"
	"log"

	"github.com/olmolab/olmolab/model"
)

// Forward-only engines: scoring (olmolab eval, a run's evaluations) needs the
// weights the forward reads and one forward's activations, not the fp32
// master weights, gradients, AdamW moments and backward scratch of a
// training engine (18 bytes a parameter in bf16). Both kinds run the same
// forward code (forwardPass, head); only the plan differs (plan.go,
// planScore and planScorer):
//
//   - NewScoring's engine holds the matrices in bf16 and the embedding and
//     norms in fp32 (what the bf16 forward reads; everything in fp32 in fp32
//     mode), one residual buffer and one layer's activations, which every
//     layer overwrites, and the logits chunk. Its log-probabilities are the
//     training engine's bit for bit on the same weights.
//   - Engine.Scorer is a forward-only engine of another micro-batch over an
//     engine's device weights, shared: for requests shorter than the
//     engine's rows. Its activations borrow the engine's scratch (what every
//     engine call rewrites), so it costs no device memory when its rows are
//     no longer than the engine's.

// newScoringEngine builds a forward-only engine for cfg at (B, T) on dev
// within its free memory, with zeroed weights.
func newScoringEngine(dev device, cfg model.Config, B, T int, opts Options) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	free, err := freeMemory(dev)
	if err != nil {
		return nil, err
	}
	plan, opts, err := enginePlan(dev, cfg, B, T, free, opts, true)
	if err != nil {
		return nil, fmt.Errorf("gpu: %w", err)
	}
	return newEngineWithPlan(dev, plan, opts.Attention)
}

// scoringAttention is the attention kernels of a forward-only engine:
// opts', except that cudnn at rows cuDNN refuses runs mma (cudnnFallback),
// and auto, whose trial times backward kernels too, takes
// the choice an engine of the same shape made earlier in the process, or
// mma.
func scoringAttention(dev device, cfg model.Config, T int, opts Options) AttnKernels {
	a := cudnnFallback(dev, cfg, T, opts, "a forward-only engine").Attention.resolve(opts.FP32, cfg.HeadSize())
	if a.Kind != AttnAuto {
		return a
	}
	shape := fusedAttnShape{B: 1, T: T, NH: cfg.NumAttentionHeads, NKV: cfg.NumKeyValueHeads, HS: cfg.HeadSize()}
	if c, ok := autoChoices.Load(dev.name() + " " + shape.String()); ok {
		log.Printf("gpu: attention auto, forward only: %s, chosen earlier in this process", c.(*AttnChoice).Chosen)
		return c.(*AttnChoice).Chosen
	}
	log.Printf("gpu: attention auto, forward only: no choice at %s yet in this process; using mma", shape)
	return AttnKernels{Kind: AttnMMA}
}

// Scorer returns a forward-only engine of micro-batch (B, T) over e's device
// weights, shared and not copied: it scores what e holds, after every Step
// and WriteParams too. Its activations borrow e's scratch (Plan.Scratch
// onward, which every call of e rewrites) when they fit there and T is at
// most e's T (e's RoPE tables then serve): no device memory beyond a few
// host buffers. Otherwise it allocates its own from the device's free
// memory, or says why it cannot. A Scorer of a Scorer is one of the same
// engine.
//
// A Scorer has no gradients or optimizer state: Config, MicroBatch,
// LogProbs, Logits, the parameter reads and writes (e's weights) and Close
// are for it. It must not run while e does (a Backend is used from one
// goroutine at a time: the lab scores between steps). Closing e closes its
// Scorers.
//
// With cuDNN's attention (OLMOLAB_GPU_ATTN=cudnn, or auto's choice), a
// Scorer of rows cuDNN refuses (T not a multiple of 128 under cuDNN ≤ 9.15,
// say) runs the mma forward, decided before anything is built by the rule
// every engine follows (cudnnRows) and said once in the log per engine; one
// it takes runs cuDNN's forward graph only, and a failure to build that
// refuses the Scorer, as it refuses a forward-only engine.
func (e *Engine) Scorer(B, T int) (*Engine, error) {
	root := e
	if e.parent != nil {
		root = e.parent
	}
	if root.closed {
		panic("gpu: Scorer of a closed engine")
	}
	attn, refused := cudnnRows(root.dev, root.cfg, T, root.attn, root.plan.FP32)
	if refused != nil && !root.saidFallback {
		root.saidFallback = true
		logCuDNNRows("a scorer", T, refused, "; said once for this engine's scorers")
	}
	s, err := root.newScorer(B, T, attn)
	if err != nil {
		return nil, err
	}
	// outside the device (newScorer enters it): Close takes scorersMu, then the device
	scorersMu.Lock()
	root.scorers = append(root.scorers, s)
	scorersMu.Unlock()
	return s, nil
}

// newScorer is Scorer of root with attention kernels attn.
func (root *Engine) newScorer(B, T int, attn AttnKernels) (*Engine, error) {
	opts := Options{FP32: root.plan.FP32, Attention: attn}
	borrow := T <= root.T
	var plan *Plan
	var err error
	if borrow {
		plan, err = searchPlan(planScorer, root.cfg, B, T, root.plan.Arena-root.plan.Scratch, opts, false)
		borrow = err == nil
	}
	if !borrow {
		free, ierr := freeMemory(root.dev)
		if ierr != nil {
			return nil, ierr
		}
		if plan, err = searchPlan(planScorer, root.cfg, B, T, free-safety, opts, true); err != nil {
			return nil, fmt.Errorf("gpu: scorer at %d×%d beside the engine: %w", B, T, inFree(err, free))
		}
	}
	s, err := newView(root.dev, plan, root.lay, attn)
	if err != nil {
		return nil, err
	}
	s.parent = root
	s.f32w, s.bfw, s.wf32, s.wbf = root.f32w, root.bfw, root.wf32, root.wbf
	defer root.dev.enter()()
	if borrow {
		s.base = root.p(root.plan.Scratch)
		s.cos, s.sin = root.cos, root.sin // the first T rows of root's tables are s's
	} else {
		if s.base, err = root.dev.alloc(plan.Arena); err != nil {
			return nil, fmt.Errorf("gpu: allocating %.2f GiB for a scorer, %s: %w", gib(plan.Arena), plan, err)
		}
		s.owned = true
		s.cos, s.sin = s.p(s.o.cos), s.p(s.o.sin)
		s.ropeTables()
	}
	if err := s.buildFused(); err != nil {
		if s.owned {
			root.dev.free(s.base)
		}
		return nil, err
	}
	return s, nil
}

// SharedScorer is Scorer as a model.Backend (model.ScorerSharer): what
// model.ScoringLike and the lab's evaluator score shorter requests on.
func (e *Engine) SharedScorer(B, T int) (model.Backend, error) {
	s, err := e.Scorer(B, T)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Borrows reports whether a Scorer's activations lie in its engine's
// scratch (no device memory of its own).
func (e *Engine) Borrows() bool { return e.parent != nil && !e.owned }
