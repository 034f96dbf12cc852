package cudnn

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"unsafe"
)

// Handle is a cudnnHandle_t, bound to the CUDA context current at
// Lib.NewHandle.
type Handle uintptr

// Backend is what the graph builder needs of a loaded cuDNN (a *Lib): the
// backend API's six calls, with "what" naming the descriptor in errors.
type Backend interface {
	create(typ int, what string) (uintptr, error)
	destroy(d uintptr)
	set(d uintptr, what string, name, typ int, n int, v unsafe.Pointer) error
	get(d uintptr, what string, name, typ int, n int, v unsafe.Pointer) (int, error)
	finalize(d uintptr, what string) error
	execute(h Handle, plan, vp uintptr, what string) error
	hostFloats(vs []float32) unsafe.Pointer
	freeHost(p unsafe.Pointer)
	VersionString() string
}

// SDPAShape is causal attention over B sequences of T rows with NH query
// heads and NKV key/value heads (NH a multiple of NKV: query head h reads kv
// head h/(NH/NKV)) of size HS. Every matrix is bf16, row-major (B·T, ld),
// head h in columns h·HS … h·HS+HS-1; each Ld* is that matrix's leading
// dimension in elements. Stats (the log-sum-exp) and D are fp32 (B, NH, T).
type SDPAShape struct {
	B, T, NH, NKV, HS int
	LdQ, LdK, LdV     int // inputs
	LdO               int // o, and dout in the backward
	LdDQ, LdDK, LdDV  int // the gradients the backward writes
	Scale             float32
	// ForwardOnly builds the forward graph and plan only (a scoring
	// engine's): Workspace is then the forward plan's, and Backward fails.
	ForwardOnly bool
}

func (s SDPAShape) String() string {
	return fmt.Sprintf("B=%d T=%d NH=%d NKV=%d HS=%d", s.B, s.T, s.NH, s.NKV, s.HS)
}

// The graphs' tensor uids: the variant pack binds these to pointers.
const (
	UIDQ = 1 + iota
	UIDK
	UIDV
	UIDO
	UIDStats
	UIDdO
	UIDdQ
	UIDdK
	UIDdV
	UIDD
	UIDScale   // by value: the attention scale
	UIDNegInf  // by value: the masked scores' value
	UIDOne     // by value: 1 (the frontend's dropout-free softmax_sum factor)
	uidVirtual = 100
)

// SDPA is the forward and backward execution plans of one shape.
type SDPA struct {
	b       Backend
	h       Handle
	Shape   SDPAShape
	fwd     plan
	bwd     plan
	consts  unsafe.Pointer // host floats: scale, negInf, 1
	vp      *variantPack   // a call's bindings, made once
	closers []uintptr      // every descriptor made, destroyed by Close
}

type plan struct {
	d      uintptr
	ws     int64
	engine int64 // the engine's global index (-1: not known)
	tried  int   // engine configs that failed to finalize before this one
	nondet int   // engine configs passed over as non-deterministic
	marked bool  // this engine is marked non-deterministic: no other took the graph
}

// FwdPtrs are the device addresses the forward reads and writes: q, k, v
// (B·T, Ld*) bf16, o (B·T, LdO) bf16, stats (B, NH, T) fp32.
type FwdPtrs struct{ Q, K, V, O, Stats uintptr }

// BwdPtrs are the backward's: the forward's inputs and outputs, dO (the
// gradient of o, ld LdO), D (B, NH, T) fp32 scratch (Σ dO∘O per row, which
// the graph writes), and dQ, dK, dV, written (not accumulated).
type BwdPtrs struct{ Q, K, V, O, Stats, DO, D, DQ, DK, DV uintptr }

// NewSDPA builds the forward and backward graphs of s on handle h, finds an
// engine for each (heuristics mode A, then the fallback list) and makes
// their execution plans. Errors name the failing call, the descriptor and
// cuDNN's message.
func NewSDPA(b Backend, h Handle, s SDPAShape) (*SDPA, error) {
	// cudnn-frontend's limits for bf16 SDPA: head size a multiple of 8 (≤ 256
	// on Hopper, ≤ 128 elsewhere: left to the engines), NH a multiple of NKV,
	// and the backward refuses s_q = s_kv = 1.
	if err := Refuses(b.VersionString(), s); err != nil {
		return nil, err
	}
	negInf := float32(math.Inf(-1))
	if v := b.VersionString(); versionBelow(v, 9, 10) {
		negInf = -math.MaxFloat32 // cudnn-frontend: "older cuDNN version prefers lowest for softmax mask" (< 9.10)
	}
	a := &SDPA{b: b, h: h, Shape: s, consts: b.hostFloats([]float32{s.Scale, negInf, 1}), vp: new(variantPack)}
	g := &graphBuilder{b: b, s: s}
	fwdOps := g.forward()
	a.fwd = g.plan(h, "forward", fwdOps)
	if !s.ForwardOnly {
		bwdOps := g.backward()
		a.bwd = g.plan(h, "backward", bwdOps)
	}
	a.closers = g.made
	if g.err != nil {
		a.Close()
		return nil, fmt.Errorf("cudnn sdpa %s: %w", s, g.err)
	}
	return a, nil
}

// versionBelow reports whether "M.m.p" is below major.minor.
func versionBelow(v string, major, minor int) bool {
	return versionNumber(v) < major*10000+minor*100
}

// versionNumber is "M.m.p" as cudnnGetVersion's M·10000 + m·100 + p (9.x).
func versionNumber(v string) int {
	var M, m, p int
	fmt.Sscanf(v, "%d.%d.%d", &M, &m, &p)
	return M*10000 + m*100 + p
}

// Refuses says why the cuDNN of version v will not run s's graphs, known
// before any descriptor is made (NewSDPA checks it first): a shape
// cudnn-frontend refuses, or a version it refuses or works around
// (versionRefuses). A refusal of s's rows, which the same cuDNN would take
// at other rows, is a *RowsError. nil: NewSDPA may still fail (no engine
// takes the graph, say).
func Refuses(v string, s SDPAShape) error {
	if s.B <= 0 || s.T <= 0 || s.NH <= 0 || s.NKV <= 0 || s.NH%s.NKV != 0 || s.HS <= 0 || s.HS%8 != 0 {
		return fmt.Errorf("cudnn sdpa: bad shape %s", s)
	}
	if s.T == 1 {
		return &RowsError{fmt.Errorf("cudnn sdpa: bad shape %s: the SDPA backward refuses one row (s_q = s_kv = 1)", s)}
	}
	if err := versionRefuses(v, s); err != nil {
		return fmt.Errorf("cudnn sdpa %s: %w", s, err)
	}
	return nil
}

// RowsError is a refusal of a shape's rows (T) by the cuDNN found, which
// takes other rows: a caller may run its own kernels at those rows instead.
type RowsError struct{ err error }

func (r *RowsError) Error() string { return r.err.Error() }
func (r *RowsError) Unwrap() error { return r.err }

// versionRefuses says why the cuDNN of version v must not run s's graphs,
// where cudnn-frontend (3929da2) refuses or works around that version:
//
//   - 9.10.0 and 9.10.1: "SDPA FP16/BF16 forward/backward is not supported on
//     cuDNN 9.10.0/9.10.1 due to known bugs" (node/sdpa_support_surface.h,
//     and CompositeSDPABackwardNode::pre_validate_node in
//     node/scaled_dot_product_flash_attention.h);
//   - up to 9.15.0 with T not a multiple of 128: the backward node adds a
//     padding mask with both sequence lengths T ("Workaround padding mask is
//     enabled for s_q % 128 != 0 …", backend version ≤ 91500). Our graph has
//     no padding mask, so those versions are refused at such T rather than
//     run unmasked (a shape the frontend never hands them).
func versionRefuses(v string, s SDPAShape) error {
	switch n := versionNumber(v); {
	case n == 91000 || n == 91001:
		return fmt.Errorf("cuDNN %s has known bugs in bf16 SDPA (cudnn-frontend refuses 9.10.0 and 9.10.1); use 9.10.2 or later", v)
	case n <= 91500 && s.T%128 != 0:
		return &RowsError{fmt.Errorf("cuDNN %s's SDPA backward needs T a multiple of 128 here (cudnn-frontend adds a padding mask up to 9.15.0; this graph has none), T=%d; use cuDNN 9.15.1 or later", v, s.T)}
	}
	return nil
}

// Workspace is the device workspace (bytes) the larger plan needs (the
// forward's with ForwardOnly); Forward and Backward take one at least this
// large.
func (a *SDPA) Workspace() int64 { return max(a.fwd.ws, a.bwd.ws) }

// Describe says which engines were chosen: "fwd engine 7 (ws 0 B), bwd …".
func (a *SDPA) Describe() string {
	d := func(p plan) string {
		s := fmt.Sprintf("engine %d, workspace %d B", p.engine, p.ws)
		if p.tried > 0 {
			s += fmt.Sprintf(", %d configs refused before it", p.tried)
		}
		if p.marked {
			s += ", marked non-deterministic by cuDNN (no unmarked engine took the graph)"
		} else if p.nondet > 0 {
			s += fmt.Sprintf(", %d non-deterministic passed over", p.nondet)
		}
		return s
	}
	if a.Shape.ForwardOnly {
		return "fwd " + d(a.fwd) + "; forward only"
	}
	return "fwd " + d(a.fwd) + "; bwd " + d(a.bwd)
}

// MarkedNondeterministic reports whether cuDNN marks an engine of the plans
// non-deterministic (used only when no unmarked engine took its graph).
func (a *SDPA) MarkedNondeterministic() bool { return a.fwd.marked || a.bwd.marked }

// Close destroys the plans and graphs.
func (a *SDPA) Close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		a.b.destroy(a.closers[i])
	}
	a.closers = nil
	if a.consts != nil {
		a.b.freeHost(a.consts)
		a.consts = nil
	}
}

func (a *SDPA) constPtr(i int) uintptr { return uintptr(a.consts) + uintptr(4*i) }

// The variant packs' uids, in the order Forward and Backward bind pointers.
var (
	fwdUIDs = [...]int64{UIDQ, UIDK, UIDV, UIDO, UIDStats, UIDScale, UIDNegInf}
	bwdUIDs = [...]int64{UIDQ, UIDK, UIDV, UIDO, UIDStats, UIDdO, UIDD, UIDdQ, UIDdK, UIDdV, UIDScale, UIDNegInf, UIDOne}
)

// variantPack is what a call binds: the data pointers and the workspace,
// which cudnnBackendSetAttribute reads during the call. Made once per SDPA,
// so that a call allocates nothing (they run once per layer in every step);
// it holds no Go pointer, as memory passed to C must not (cgo's rule looks
// at the array or field passed, so a field of SDPA would do as well).
type variantPack struct {
	ptrs [len(bwdUIDs)]uintptr
	ws   uintptr
}

// Forward runs the forward plan: o and stats from q, k, v.
func (a *SDPA) Forward(p FwdPtrs, ws uintptr) error {
	a.vp.ptrs = [len(bwdUIDs)]uintptr{p.Q, p.K, p.V, p.O, p.Stats, a.constPtr(0), a.constPtr(1)}
	return a.run("forward", "forward variant pack", a.fwd, ws, fwdUIDs[:])
}

// Backward runs the backward plan: dq, dk, dv (and D) from the rest.
func (a *SDPA) Backward(p BwdPtrs, ws uintptr) error {
	if a.Shape.ForwardOnly {
		return fmt.Errorf("cudnn sdpa backward: %s was built forward only", a.Shape)
	}
	a.vp.ptrs = [len(bwdUIDs)]uintptr{p.Q, p.K, p.V, p.O, p.Stats, p.DO, p.D, p.DQ, p.DK, p.DV, a.constPtr(0), a.constPtr(1), a.constPtr(2)}
	return a.run("backward", "backward variant pack", a.bwd, ws, bwdUIDs[:])
}

// run executes pl with a variant pack (named vpName) of uids → a.vp.ptrs
// and the workspace.
func (a *SDPA) run(what, vpName string, pl plan, ws uintptr, uids []int64) error {
	ptrs := a.vp.ptrs[:len(uids)]
	for i, p := range ptrs {
		if p == 0 {
			return fmt.Errorf("cudnn sdpa %s: null pointer for uid %d", what, uids[i])
		}
	}
	if pl.ws > 0 && ws == 0 {
		return fmt.Errorf("cudnn sdpa %s: the plan needs %d bytes of workspace, none given", what, pl.ws)
	}
	a.vp.ws = ws
	b := a.b
	vp, err := b.create(descVariantPack, vpName)
	if err != nil {
		return err
	}
	defer b.destroy(vp)
	if err = b.set(vp, vpName, attrVPUIDs, typeInt64, len(uids), unsafe.Pointer(&uids[0])); err != nil {
		return err
	}
	if err = b.set(vp, vpName, attrVPPointers, typeVoidPtr, len(ptrs), unsafe.Pointer(&ptrs[0])); err != nil {
		return err
	}
	if err = b.set(vp, vpName, attrVPWorkspace, typeVoidPtr, 1, unsafe.Pointer(&a.vp.ws)); err != nil {
		return err
	}
	if err = b.finalize(vp, vpName); err != nil {
		return err
	}
	return b.execute(a.h, pl.d, vp, what)
}

// graphBuilder makes descriptors with a sticky error: after the first
// failure every call is a no-op, and err names the first failing call.
type graphBuilder struct {
	b    Backend
	s    SDPAShape
	err  error
	made []uintptr
	uid  int64
}

// tensor is a finalized tensor descriptor.
type tensor struct {
	d    uintptr
	name string
}

func (g *graphBuilder) desc(typ int, what string) uintptr {
	if g.err != nil {
		return 0
	}
	d, err := g.b.create(typ, what)
	if err != nil {
		g.err = err
		return 0
	}
	g.made = append(g.made, d)
	return d
}

func (g *graphBuilder) set(d uintptr, what string, name, typ int, n int, v unsafe.Pointer) {
	if g.err == nil {
		g.err = g.b.set(d, what, name, typ, n, v)
	}
}

func (g *graphBuilder) setInt64s(d uintptr, what string, name int, vs ...int64) {
	g.set(d, what, name, typeInt64, len(vs), unsafe.Pointer(&vs[0]))
}

func (g *graphBuilder) setEnum(d uintptr, what string, name, typ int, v int32) {
	g.set(d, what, name, typ, 1, unsafe.Pointer(&v))
}

func (g *graphBuilder) setDesc(d uintptr, what string, name int, ds ...uintptr) {
	g.set(d, what, name, typeDescriptor, len(ds), unsafe.Pointer(&ds[0]))
}

func (g *graphBuilder) finalize(d uintptr, what string) {
	if g.err == nil {
		g.err = g.b.finalize(d, what)
	}
}

// newTensor makes a tensor: uid (0: the next virtual uid), data type,
// dims and strides (elements), virtual or by value.
func (g *graphBuilder) newTensor(name string, uid int64, dt int32, dims, strides []int64, virtual, byValue bool) tensor {
	if uid == 0 {
		g.uid++
		uid = uidVirtual + g.uid
	}
	what := "tensor " + name
	d := g.desc(descTensor, what)
	g.setInt64s(d, what, attrTensorUID, uid)
	g.setEnum(d, what, attrTensorDataType, typeDataType, dt)
	g.setInt64s(d, what, attrTensorDims, dims...)
	g.setInt64s(d, what, attrTensorStrides, strides...)
	g.setInt64s(d, what, attrTensorAlignment, 16)
	// the flags only when true, as cudnn-frontend's TensorBuilder sets them
	// (cudnn_frontend_Tensor.h): no published caller sets either to false
	v, bv := virtual, byValue
	if virtual {
		g.set(d, what, attrTensorVirtual, typeBoolean, 1, unsafe.Pointer(&v))
	}
	if byValue {
		g.set(d, what, attrTensorByValue, typeBoolean, 1, unsafe.Pointer(&bv))
	}
	g.finalize(d, what)
	return tensor{d, name}
}

// virt is a virtual fp32 (or dt) tensor of dims with packed strides.
func (g *graphBuilder) virt(name string, dt int32, dims ...int64) tensor {
	return g.newTensor(name, 0, dt, dims, packed(dims), true, false)
}

// packed is the row-major strides of dims.
func packed(dims []int64) []int64 {
	st := make([]int64, len(dims))
	n := int64(1)
	for i := len(dims) - 1; i >= 0; i-- {
		st[i] = n
		n *= dims[i]
	}
	return st
}

// pointwise adds y = mode(x[, b][, t]) computed in prec; axis ≥ 0 for GEN_INDEX.
func (g *graphBuilder) pointwise(name string, mode int32, prec int32, axis int64, x, b, t, y tensor) uintptr {
	pw := g.desc(descPointwise, "pointwise "+name)
	g.setEnum(pw, "pointwise "+name, attrPointwiseMode, typePWMode, mode)
	g.setEnum(pw, "pointwise "+name, attrPointwiseMathPrec, typeDataType, prec)
	if axis >= 0 {
		g.setInt64s(pw, "pointwise "+name, attrPointwiseAxis, axis)
	}
	g.finalize(pw, "pointwise "+name)
	what := "operation pointwise " + name
	op := g.desc(descOpPointwise, what)
	g.setDesc(op, what, attrOpPWDesc, pw)
	g.setDesc(op, what, attrOpPWX, x.d)
	if b.d != 0 {
		g.setDesc(op, what, attrOpPWB, b.d)
	}
	if t.d != 0 {
		g.setDesc(op, what, attrOpPWTDesc, t.d)
	}
	g.setDesc(op, what, attrOpPWY, y.d)
	one := float32(1) // as cudnn-frontend sets them
	g.set(op, what, attrOpPWAlpha1, typeFloat, 1, unsafe.Pointer(&one))
	g.set(op, what, attrOpPWAlpha2, typeFloat, 1, unsafe.Pointer(&one))
	g.finalize(op, what)
	return op
}

// matmul adds c = a·b (batched over the leading dims; fp32 accumulation).
func (g *graphBuilder) matmul(name string, a, b, c tensor) uintptr {
	md := g.desc(descMatmul, "matmul "+name)
	g.setEnum(md, "matmul "+name, attrMatmulCompType, typeDataType, dataFloat)
	g.finalize(md, "matmul "+name)
	what := "operation matmul " + name
	op := g.desc(descOpMatmul, what)
	g.setDesc(op, what, attrOpMatmulA, a.d)
	g.setDesc(op, what, attrOpMatmulB, b.d)
	g.setDesc(op, what, attrOpMatmulC, c.d)
	g.setDesc(op, what, attrOpMatmulDesc, md)
	g.finalize(op, what)
	return op
}

// reduction adds y = reduce_op(x) over the dims where y has extent 1 (fp32).
func (g *graphBuilder) reduction(name string, rop int32, x, y tensor) uintptr {
	rd := g.desc(descReduction, "reduction "+name)
	g.setEnum(rd, "reduction "+name, attrReductionOp, typeReduceOp, rop)
	g.setEnum(rd, "reduction "+name, attrReductionCompType, typeDataType, dataFloat)
	g.finalize(rd, "reduction "+name)
	what := "operation reduction " + name
	op := g.desc(descOpReduction, what)
	g.setDesc(op, what, attrOpReductionDesc, rd)
	g.setDesc(op, what, attrOpReductionX, x.d)
	g.setDesc(op, what, attrOpReductionY, y.d)
	g.finalize(op, what)
	return op
}

// reshape adds y = x viewed with y's dims and strides (a transpose here).
func (g *graphBuilder) reshape(name string, x, y tensor) uintptr {
	what := "operation reshape " + name
	op := g.desc(descOpReshape, what)
	g.setDesc(op, what, attrOpReshapeX, x.d)
	g.setDesc(op, what, attrOpReshapeY, y.d)
	g.finalize(op, what)
	return op
}

// The I/O tensors, 4-D [B, H, T, HS] over the engine's row-major matrices:
// element (b, h, t, d) at b·T·ld + h·HS + t·ld + d (strides [T·ld, HS, ld,
// 1]); transposed ([B, H, HS, T], strides [T·ld, HS, 1, ld]) where a graph
// wants Kᵀ or Vᵀ. No copies.
func (g *graphBuilder) rows(name string, uid int64, heads, ld int, transposed bool) tensor {
	s := g.s
	T, HS, L := int64(s.T), int64(s.HS), int64(ld)
	dims := []int64{int64(s.B), int64(heads), T, HS}
	strides := []int64{T * L, HS, L, 1}
	if transposed {
		dims[2], dims[3] = dims[3], dims[2]
		strides[2], strides[3] = strides[3], strides[2]
	}
	return g.newTensor(name, uid, dataBF16, dims, strides, false, false)
}

// stats is an fp32 (B, NH, T) tensor as [B, NH, T, 1].
func (g *graphBuilder) stats(name string, uid int64) tensor {
	s := g.s
	NH, T := int64(s.NH), int64(s.T)
	return g.newTensor(name, uid, dataFloat, []int64{int64(s.B), NH, T, 1}, []int64{NH * T, T, 1, 1}, false, false)
}

func (g *graphBuilder) scalar(name string, uid int64) tensor {
	one := []int64{1, 1, 1, 1}
	return g.newTensor(name, uid, dataFloat, one, one, false, true)
}

// causal adds the mask: s where row ≥ column, negInf elsewhere
// (cudnn-frontend's causal mask, a top-left diagonal band with right bound 0
// as CompositeDiagonalBandMaskNode builds it for cuDNN < 9.21: GEN_INDEX of
// the rows and of the columns (the context's fp32 compute type, int32
// outputs), CMP_GE(row, column) in booleans, BINARY_SELECT(s, negInf, keep);
// from 9.21 the frontend emits one DIAGONAL_BAND_MASK operation instead).
func (g *graphBuilder) causal(s, negInf tensor, ops *[]uintptr) tensor {
	d := g.scoreDims()
	row, col := g.virt("row index", dataInt32, d...), g.virt("column index", dataInt32, d...)
	*ops = append(*ops, g.pointwise("row index", pwGenIndex, dataFloat, 2, s, tensor{}, tensor{}, row))
	*ops = append(*ops, g.pointwise("column index", pwGenIndex, dataFloat, 3, s, tensor{}, tensor{}, col))
	keep := g.virt("row ≥ column", dataBool, d...)
	*ops = append(*ops, g.pointwise("row ≥ column", pwCmpGE, dataBool, -1, row, col, tensor{}, keep))
	out := g.virt("masked scores", dataFloat, d...)
	*ops = append(*ops, g.pointwise("causal mask", pwSelect, dataFloat, -1, s, negInf, keep, out))
	return out
}

// scaledScores appends S = Q·Kᵀ (fp32) and S·scale to ops, the start of
// both graphs, and returns S·scale (B, NH, T, T).
func (g *graphBuilder) scaledScores(q, kt, scale tensor, ops *[]uintptr) tensor {
	sd := g.scoreDims()
	S := g.virt("S", dataFloat, sd...)
	*ops = append(*ops, g.matmul("Q·Kᵀ", q, kt, S))
	S1 := g.virt("S·scale", dataFloat, sd...)
	*ops = append(*ops, g.pointwise("S·scale", pwMul, dataFloat, -1, S, scale, tensor{}, S1))
	return S1
}

func (g *graphBuilder) scoreDims() []int64 {
	s := g.s
	return []int64{int64(s.B), int64(s.NH), int64(s.T), int64(s.T)}
}

func (g *graphBuilder) rowDims() []int64 {
	s := g.s
	return []int64{int64(s.B), int64(s.NH), int64(s.T), 1}
}

// forward builds the forward graph (cudnn-frontend's composite SDPA node
// without dropout, bias or padding, stats requested):
//
//	S = Q·Kᵀ (fp32); S = S·scale; S = causal(S)
//	M = rowmax(S); E = exp(S − M); Z = rowsum(E)
//	Stats = M + log Z  (natural log: our lse)
//	O = (E / Z as bf16) · V
func (g *graphBuilder) forward() []uintptr {
	s := g.s
	q := g.rows("Q", UIDQ, s.NH, s.LdQ, false)
	kt := g.rows("Kᵀ", UIDK, s.NKV, s.LdK, true)
	v := g.rows("V", UIDV, s.NKV, s.LdV, false)
	o := g.rows("O", UIDO, s.NH, s.LdO, false)
	st := g.stats("Stats", UIDStats)
	scale, negInf := g.scalar("scale", UIDScale), g.scalar("-inf", UIDNegInf)
	sd, rd := g.scoreDims(), g.rowDims()
	var ops []uintptr
	S1 := g.scaledScores(q, kt, scale, &ops)
	S2 := g.causal(S1, negInf, &ops)
	M := g.virt("rowmax", dataFloat, rd...)
	ops = append(ops, g.reduction("rowmax", reduceMax, S2, M))
	S3 := g.virt("S − M", dataFloat, sd...)
	ops = append(ops, g.pointwise("S − M", pwSub, dataFloat, -1, S2, M, tensor{}, S3))
	E := g.virt("exp", dataFloat, sd...)
	ops = append(ops, g.pointwise("exp", pwExp, dataFloat, -1, S3, tensor{}, tensor{}, E))
	Z := g.virt("rowsum", dataFloat, rd...)
	ops = append(ops, g.reduction("rowsum", reduceAdd, E, Z))
	LZ := g.virt("log rowsum", dataFloat, rd...)
	ops = append(ops, g.pointwise("log rowsum", pwLog, dataFloat, -1, Z, tensor{}, tensor{}, LZ))
	ops = append(ops, g.pointwise("stats", pwAdd, dataFloat, -1, M, LZ, tensor{}, st))
	P := g.virt("P", dataBF16, sd...)
	ops = append(ops, g.pointwise("P", pwDiv, dataFloat, -1, E, Z, tensor{}, P))
	ops = append(ops, g.matmul("P·V", P, v, o))
	return ops
}

// backward builds the backward graph (cudnn-frontend's composite SDPA
// backward node without dropout, bias or padding, in the form it uses for a
// deterministic algorithm on Hopper: dQ = dS·K straight into dQ through cuDNN's
// dP workspace, not through an fp32 dQ accumulator, which cuDNN fills with
// atomics):
//
//	D = rowsum(dO∘O)·1 (written to D)
//	P = exp(causal(Q·Kᵀ·scale − Stats))
//	dV = Pᵀ·dO                       (summed over the heads sharing a kv head)
//	dS = P∘(dO·Vᵀ − D)·scale
//	dK = dSᵀ·Q                       (likewise)
//	dQ = dS·K
func (g *graphBuilder) backward() []uintptr {
	s := g.s
	q := g.rows("Q", UIDQ, s.NH, s.LdQ, false)
	kt := g.rows("Kᵀ", UIDK, s.NKV, s.LdK, true)
	vt := g.rows("Vᵀ", UIDV, s.NKV, s.LdV, true)
	o := g.rows("O", UIDO, s.NH, s.LdO, false)
	dO := g.rows("dO", UIDdO, s.NH, s.LdO, false)
	st := g.stats("Stats", UIDStats)
	D := g.stats("D", UIDD)
	dq := g.rows("dQ", UIDdQ, s.NH, s.LdDQ, false)
	dk := g.rows("dK", UIDdK, s.NKV, s.LdDK, false)
	dv := g.rows("dV", UIDdV, s.NKV, s.LdDV, false)
	scale, negInf, one := g.scalar("scale", UIDScale), g.scalar("-inf", UIDNegInf), g.scalar("1", UIDOne)
	B, NH, T, HS := int64(s.B), int64(s.NH), int64(s.T), int64(s.HS)
	sd, rd := g.scoreDims(), g.rowDims()
	var ops []uintptr
	// D = rowsum(dO∘O)
	dOO := g.newTensor("dO∘O", 0, dataFloat, []int64{B, NH, T, HS}, []int64{NH * T * HS, T * HS, NH * HS, 1}, true, false)
	ops = append(ops, g.pointwise("dO∘O", pwMul, dataFloat, -1, dO, o, tensor{}, dOO))
	r := g.virt("rowsum dO∘O", dataFloat, rd...)
	ops = append(ops, g.reduction("rowsum dO∘O", reduceAdd, dOO, r))
	ops = append(ops, g.pointwise("D", pwMul, dataFloat, -1, r, one, tensor{}, D))
	// P
	S1 := g.scaledScores(q, kt, scale, &ops)
	S2 := g.virt("S − Stats", dataFloat, sd...)
	ops = append(ops, g.pointwise("S − Stats", pwSub, dataFloat, -1, S1, st, tensor{}, S2))
	S3 := g.causal(S2, negInf, &ops)
	P := g.virt("P", dataFloat, sd...)
	ops = append(ops, g.pointwise("P", pwExp, dataFloat, -1, S3, tensor{}, tensor{}, P))
	// dV = Pᵀ·dO
	pT := g.newTensor("Pᵀ", 0, dataBF16, sd, []int64{NH * T * T, T * T, 1, T}, true, false)
	ops = append(ops, g.reshape("Pᵀ", P, pT))
	ops = append(ops, g.headSum("Pᵀ·dO", pT, dO, dv)...)
	// dS
	dP := g.virt("dP", dataFloat, sd...)
	ops = append(ops, g.matmul("dO·Vᵀ", dO, vt, dP))
	dP1 := g.virt("dP − D", dataFloat, sd...)
	ops = append(ops, g.pointwise("dP − D", pwSub, dataFloat, -1, dP, D, tensor{}, dP1))
	dS := g.virt("P∘(dP − D)", dataFloat, sd...)
	ops = append(ops, g.pointwise("P∘(dP − D)", pwMul, dataFloat, -1, dP1, P, tensor{}, dS))
	dS1 := g.virt("dS", dataFloat, sd...)
	ops = append(ops, g.pointwise("dS", pwMul, dataFloat, -1, dS, scale, tensor{}, dS1))
	// dK = dSᵀ·Q
	dST := g.newTensor("dSᵀ", 0, dataBF16, sd, []int64{NH * T * T, T * T, 1, T}, true, false)
	ops = append(ops, g.reshape("dSᵀ", dS1, dST))
	ops = append(ops, g.headSum("dSᵀ·Q", dST, q, dk)...)
	// dQ = dS·K
	K := g.newTensor("K", 0, dataBF16, []int64{B, int64(s.NKV), T, HS}, []int64{T * int64(s.LdK), HS, int64(s.LdK), 1}, true, false)
	ops = append(ops, g.reshape("K", kt, K))
	ops = append(ops, g.matmul("dS·K", dS1, K, dq))
	return ops
}

// headSum adds out = a·b, where out has NKV heads: directly when NKV = NH,
// else through a virtual bf16 product of NH heads summed over each group of
// NH/NKV (a reduction, as cudnn-frontend does for GQA).
func (g *graphBuilder) headSum(name string, a, b, out tensor) []uintptr {
	s := g.s
	if s.NKV == s.NH {
		return []uintptr{g.matmul(name, a, b, out)}
	}
	full := g.virt(name+" (all heads)", dataBF16, int64(s.B), int64(s.NH), int64(s.T), int64(s.HS))
	return []uintptr{g.matmul(name, a, b, full), g.reduction(name+" head sum", reduceAdd, full, out)}
}

// plan finalizes an operation graph of ops, asks the heuristics for engine
// configs (mode A, then the fallback list) and returns the first whose
// execution plan finalizes, with its workspace. Engines cuDNN marks
// non-deterministic (CUDNN_NUMERICAL_NOTE_NONDETERMINISTIC, what
// cudnn-frontend's deselect_numeric_notes filters on) are tried only after
// every unmarked one failed: cuDNN's notes for the fused attention engines
// are documented nowhere, and a wrong note must not cost the graph; such a
// plan is marked (Describe, MarkedNondeterministic), and auto's bit-for-bit
// repeat judges it.
func (g *graphBuilder) plan(h Handle, name string, ops []uintptr) plan {
	pl := plan{engine: -1}
	if g.err != nil {
		return pl
	}
	what := name + " operation graph"
	og := g.desc(descOpGraph, what)
	hv := uintptr(h)
	g.set(og, what, attrGraphHandle, typeHandle, 1, unsafe.Pointer(&hv))
	g.setDesc(og, what, attrGraphOps, ops...)
	g.finalize(og, what)
	var refusals []string
	type candidate struct {
		cfg    uintptr
		engine int64
		what   string
	}
	var marked []candidate
	// try makes c's execution plan: true when it finalizes (pl is then set),
	// false when this engine does not take the graph or g.err is set
	try := func(c candidate) bool {
		p := g.desc(descExecPlan, c.what)
		g.set(p, c.what, attrPlanHandle, typeHandle, 1, unsafe.Pointer(&hv))
		g.setDesc(p, c.what, attrPlanEngineCfg, c.cfg)
		if g.err != nil {
			return false
		}
		if err := g.b.finalize(p, c.what); err != nil {
			// this engine does not take the graph: try the next
			refusals = append(refusals, err.Error())
			pl.tried++
			return false
		}
		pl.d, pl.engine = p, c.engine
		_, g.err = g.b.get(p, c.what, attrPlanWorkspace, typeInt64, 1, unsafe.Pointer(&pl.ws))
		return true
	}
	for _, mode := range []int32{heurA, heurFallback} {
		hw := fmt.Sprintf("%s heuristics (mode %s)", name, map[int32]string{heurA: "A", heurFallback: "fallback"}[mode])
		heur := g.desc(descEngineHeur, hw)
		g.setDesc(heur, hw, attrEngineHeurGraph, og)
		g.setEnum(heur, hw, attrEngineHeurMode, typeHeurMode, mode)
		if g.err != nil {
			return pl
		}
		// a mode that fails (say NOT_SUPPORTED from mode A's finalize) is one
		// more refusal: the next mode may still have an engine
		n := 0
		err := g.b.finalize(heur, hw)
		if err == nil {
			n, err = g.b.get(heur, hw, attrEngineHeurResults, typeDescriptor, 0, nil)
		}
		if err != nil {
			refusals = append(refusals, err.Error())
			continue
		}
		if n == 0 {
			continue
		}
		cfgs := make([]uintptr, n)
		for i := range cfgs {
			cfgs[i] = g.desc(descEngineCfg, hw+" result")
		}
		if g.err != nil {
			return pl
		}
		got, err := g.b.get(heur, hw, attrEngineHeurResults, typeDescriptor, n, unsafe.Pointer(&cfgs[0]))
		if err != nil {
			refusals = append(refusals, err.Error())
			continue
		}
		for i := 0; i < min(got, n); i++ {
			pw := fmt.Sprintf("%s execution plan (%s config %d)", name, map[int32]string{heurA: "A", heurFallback: "fallback"}[mode], i)
			// the config's engine: its index for the log, and its numerical
			// notes
			eng := g.desc(descEngine, pw+" engine")
			if g.err != nil {
				return pl
			}
			if _, err := g.b.get(cfgs[i], pw, attrEngineCfgEngine, typeDescriptor, 1, unsafe.Pointer(&eng)); err != nil {
				refusals = append(refusals, err.Error())
				continue
			}
			idx := int64(-1)
			g.b.get(eng, pw, attrEngineGlobalIndex, typeInt64, 1, unsafe.Pointer(&idx))
			c := candidate{cfgs[i], idx, pw}
			notes := make([]int32, 16)
			if k, err := g.b.get(eng, pw, attrEngineNumericalNote, typeNumNote, len(notes), unsafe.Pointer(&notes[0])); err == nil &&
				slices.Contains(notes[:min(k, len(notes))], noteNondeterministic) {
				refusals = append(refusals, fmt.Sprintf("engine %d is marked non-deterministic", idx))
				pl.nondet++
				marked = append(marked, c)
				continue
			}
			if try(c) {
				return pl
			}
			if g.err != nil {
				return pl
			}
		}
	}
	for _, c := range marked {
		if try(c) {
			pl.marked = true
			return pl
		}
		if g.err != nil {
			return pl
		}
	}
	msg := fmt.Sprintf("%s: no cuDNN engine takes the graph", name)
	if len(refusals) > 0 {
		msg += " (" + strings.Join(refusals, "; ") + ")"
	}
	g.err = errors.New(msg)
	return pl
}
