package gpu

import (
	"errors"
	"fmt"
	"log"

	"github.com/olmolab/olmolab/model"
)

// A library's fused attention (OLMOLAB_GPU_ATTN=cudnn, and auto's cuDNN
// candidate): cuDNN 9's flash attention through internal/cudnn, on the
// engine's own buffers and layouts (no copies). Only the CUDA device offers
// it (fusedAttnDevice, cudnn_cuda.go); the emulator and the tests' fake
// device do not, so there auto simply has no such candidate.
//
// The backward graph is the one cudnn-frontend builds when asked for a
// deterministic algorithm on Hopper (dQ from cuDNN's dP workspace, no fp32
// dQ accumulated with atomics): the engine's own kernels are deterministic
// and so must a replacement be. auto checks it besides the outputs: the
// candidate runs twice and is dropped unless both runs agree bit for bit.

// fusedAttnShape is one shape's attention over the engine's matrices: B
// sequences of T rows, NH query heads and NKV kv heads of size HS; leading
// dimensions (elements) of q, k, v, o (and dout) and of dq/dk/dv (all in
// dqkv); lse and D are (B, NH, T) f32.
type fusedAttnShape struct {
	B, T, NH, NKV, HS           int
	ldq, ldk, ldv, ldo, ldgrads int
	scale                       float64
	fwdOnly                     bool // build the forward only (a forward-only engine's): its workspace is the forward's
}

func (s fusedAttnShape) String() string {
	return fmt.Sprintf("B=%d T=%d NH=%d NKV=%d HS=%d", s.B, s.T, s.NH, s.NKV, s.HS)
}

// fusedAttn runs a built attention. Calls are in stream order, like launches.
type fusedAttn interface {
	// fwd: o (B·T, ldo) and lse from q, k, v.
	fwd(o, lse, q, k, v dptr) error
	// bwd writes dq, dk, dv (not accumulated) and D from dout, the
	// forward's o and lse, and q, k, v.
	bwd(dq, dk, dv, D, dout, o, lse, q, k, v dptr) error
	// describe names the library and the engines chosen, for logs.
	describe() string
	close()
}

// fusedAttnDevice is a device that offers a library's attention.
type fusedAttnDevice interface {
	// fusedAttnLib loads the library (once) and names it, or says why it
	// cannot be used.
	fusedAttnLib() (string, error)
	// newFusedAttn builds s's attention; ws returns a device workspace of
	// at least the bytes asked for, or why not.
	newFusedAttn(s fusedAttnShape, ws func(bytes int64) (dptr, error)) (fusedAttn, error)
	// fusedRefusesRows says why the library, which loads, will not take
	// s's rows (T) though it takes others (cuDNN ≤ 9.15 at T not a
	// multiple of 128), known before anything is built; nil when it may
	// take them (newFusedAttn can still fail, for other reasons).
	fusedRefusesRows(s fusedAttnShape) error
}

// fusedRowsRefused says why the device's library attention will not take
// T-row sequences of cfg's attention, where it takes other rows (nil when it
// may, or when the device has no usable library: building it says why).
// An engine asked for cudnn at such rows runs mma instead (cudnnRows:
// newEngine, scoringAttention, Scorer), and auto reserves no
// workspace there: the rows are the run's choice and the same cuDNN takes
// the run's other shapes, mma computes the same attention, and the limit
// belongs to the cuDNN found at run time, which no check before the run
// (a sweep's) can see. A library that does not load, a version refused at
// every shape or a graph no cuDNN engine takes still fails an engine asked
// for cudnn: those need the user's hand.
func fusedRowsRefused(dev device, cfg model.Config, T int) error {
	fd, ok := dev.(fusedAttnDevice)
	if !ok {
		return nil
	}
	if _, err := fd.fusedAttnLib(); err != nil {
		return nil
	}
	return fd.fusedRefusesRows(fusedAttnShape{B: 1, T: T, NH: cfg.NumAttentionHeads, NKV: cfg.NumKeyValueHeads, HS: cfg.HeadSize()})
}

// cudnnRows is the one rule of every engine asked for cudnn (a training
// engine, a forward-only one, a Scorer): attn, unless it resolves to cudnn
// and the device's cuDNN refuses T-row sequences (fusedRowsRefused, known
// from its version before anything is built); then mma and the refusal.
func cudnnRows(dev device, cfg model.Config, T int, attn AttnKernels, fp32 bool) (AttnKernels, error) {
	if attn.resolve(fp32, cfg.HeadSize()).Kind != AttnCuDNN {
		return attn, nil
	}
	if err := fusedRowsRefused(dev, cfg, T); err != nil {
		return AttnKernels{Kind: AttnMMA}, err
	}
	return attn, nil
}

// cudnnFallback is opts with cudnnRows' attention, its refusal said in one
// log line; what (an engine, a forward-only engine) names the engine in it.
func cudnnFallback(dev device, cfg model.Config, T int, opts Options, what string) Options {
	a, err := cudnnRows(dev, cfg, T, opts.Attention, opts.FP32)
	if err != nil {
		logCuDNNRows(what, T, err, "")
		opts.Attention = a
	}
	return opts
}

// logCuDNNRows says that cudnn refused what's T-token rows (why), which run
// mma instead; more is appended to the line.
func logCuDNNRows(what string, T int, why error, more string) {
	log.Printf("gpu: attention cudnn cannot take %s of %d-token rows (%s): it runs mma instead, the same attention on our kernels (OLMOLAB_GPU_ATTN=mma chooses it without this line)%s",
		what, T, oneLine(why), more)
}

// errNoFused: the device has no library attention (the emulator, the tests'
// fake device).
var errNoFused = errors.New("this device offers no cuDNN (only the CUDA engine does)")

// fusedShape is the engine's attention as a fusedAttnShape for B sequences
// (the forward only on a forward-only engine).
func (e *Engine) fusedShape(B int) fusedAttnShape {
	return fusedAttnShape{B: B, T: e.T, NH: e.NH, NKV: e.NKV, HS: e.HS, ldq: e.QC, ldk: e.KC, ldv: e.qkvW, ldo: e.QC,
		ldgrads: e.qkvW, scale: e.scale, fwdOnly: e.plan != nil && e.plan.Scoring}
}

// fusedWorkspace is what a training plan reserves for cuDNN's attention at mb
// sequences a pass: its deterministic backward keeps dP, the (T, T) bf16
// scores' gradient per head, in the workspace (cudnn-frontend sizes it
// b·h·⌈T⌉₆₄²·2 bytes), plus an fp32 (B·T, NH·HS) buffer and 64 MiB for
// anything else an engine asks. The plan checks the engine's real figure
// against this at start (unverified on a GPU: gpu/README.md). A
// forward-only plan reserves none: its engine builds the forward graph only
// and allocates what that asks for (newFused).
func fusedWorkspace(mb, NH, T, HS int) int64 {
	t := int64((T + 63) / 64 * 64)
	return int64(mb)*int64(NH)*t*t*2 + int64(mb)*int64(NH)*t*int64(HS)*4 + 64<<20
}

// newFused builds the engine's fused attention for B sequences a pass: a
// training engine's workspace in the arena's region for it; a forward-only
// engine's, the forward plan's bytes only (cuDNN tells them once the plan is
// made; reportedly a few bytes), allocated on their own and freed at Close.
func (e *Engine) newFused(B int) (fusedAttn, error) {
	fd, ok := e.dev.(fusedAttnDevice)
	if !ok {
		return nil, errNoFused
	}
	if e.plan.Scoring {
		return fd.newFusedAttn(e.fusedShape(B), func(bytes int64) (dptr, error) {
			if bytes <= 0 {
				return 0, nil
			}
			p, err := e.dev.alloc(bytes)
			if err != nil {
				return 0, fmt.Errorf("allocating cuDNN's forward workspace of %d bytes: %w", bytes, err)
			}
			e.fusedWS = p
			return p, nil
		})
	}
	if e.o.attnWS < 0 {
		return nil, errors.New("the memory plan reserved no workspace for it")
	}
	return fd.newFusedAttn(e.fusedShape(B), func(bytes int64) (dptr, error) {
		if bytes > e.o.attnWSBytes {
			return 0, fmt.Errorf("cuDNN asks for %.2f GiB of workspace, the memory plan reserved %.2f GiB",
				gib(bytes), gib(e.o.attnWSBytes))
		}
		return e.p(e.o.attnWS), nil
	})
}

// freeFused closes the fused attention and frees a forward-only engine's
// workspace.
func (e *Engine) freeFused() {
	if e.fa != nil {
		e.fa.close()
		e.fa = nil
	}
	if e.fusedWS != 0 {
		e.must("free", e.dev.free(e.fusedWS))
		e.fusedWS = 0
	}
}

// fused panics on a failed library call, as launch does on a failed launch.
func (e *Engine) fused(what string, err error) {
	if err != nil {
		panic(fmt.Errorf("gpu: cudnn attention %s: %w", what, err))
	}
	if e.prof != nil {
		e.stamp(e.opLabel("attn_cudnn")) // "attention", as our kernels are labelled
	}
}
