// Command gen writes the Go assembly kernels of package model
// (simd_amd64.s) and their Go declarations (simd_decl_amd64.go, and the
// never-called stubs of simd_decl_other.go for other architectures).
//
// Run it from model/ with `go generate` (the directive is in simd_amd64.go).
// Three kinds of kernel:
//
//   - row kernels (the kernels table): an elementwise loop over n float32s,
//     one vector per step (16 lanes in zmm for AVX-512, 8 in ymm for AVX2),
//     then one masked step for the n mod 16 (or 8) leftover elements, so no
//     kernel reads or writes past n and every element goes through the same
//     instructions. Some also reduce (a sum or a max) into one accumulator
//     register, returned as a float32; the lane order of the reduction is
//     fixed, so results are reproducible run to run. The body of each is
//     written once against a tiny emitter, which picks registers, constant
//     operands (zmm registers preloaded on AVX-512; 32-byte memory operands
//     on AVX2, which has only 16 registers) and the tail's masking (opmask K1
//     on AVX-512; VMASKMOVPS with a lane mask in Y15 on AVX2);
//   - tile kernels for attention's small products (genMM), mr×nv register
//     tiles for every mr ≤ 6 and nv up to 4 zmm / 2 ymm;
//   - a 16×16 AVX-512 register transpose (genTranspose16).
package main

import (
	"bytes"
	"fmt"
	"go/format"
	"log"
	"math"
	"os"
	"strings"
)

// isa is one instruction set the kernels are written for.
type isa struct {
	name  string // suffix of the Go function names
	v     string // vector register prefix
	vw    int    // float32 lanes per vector
	nregs int    // architectural vector registers
}

var (
	avx512 = isa{name: "AVX512", v: "Z", vw: 16, nregs: 32}
	avx2   = isa{name: "AVX2", v: "Y", vw: 8, nregs: 16}
)

// Constants of the exp approximation (see expf in simd.go for the algorithm).
// Each is stored as 16 copies, so a zmm load or a ymm memory operand reads it.
var consts = []struct {
	name string
	bits uint32
}{
	{"lo", math.Float32bits(-87)},  // below: exp underflows to 0 (no denormals)
	{"hi", math.Float32bits(88.3)}, // above: +Inf (keeps n ≤ 127)
	{"log2e", math.Float32bits(1.44269504088896341)},
	{"ln2hi", math.Float32bits(0.693359375)}, // ln 2 = ln2hi + ln2lo, ln2hi·n exact
	{"ln2lo", math.Float32bits(-2.12194440e-4)},
	{"p0", math.Float32bits(1.9875691500e-4)}, // Cephes expf polynomial
	{"p1", math.Float32bits(1.3981999507e-3)},
	{"p2", math.Float32bits(8.3334519073e-3)},
	{"p3", math.Float32bits(4.1665795894e-2)},
	{"p4", math.Float32bits(1.6666665459e-1)},
	{"p5", math.Float32bits(5.0000001201e-1)},
	{"one", math.Float32bits(1)},
	{"inf", math.Float32bits(float32(math.Inf(1)))},
	{"ninf", math.Float32bits(float32(math.Inf(-1)))},
}

func constIndex(name string) int {
	for i, c := range consts {
		if c.name == name {
			return i
		}
	}
	log.Fatalf("no constant %q", name)
	return 0
}

// kernel is one generated function:
//
//	func <name><ISA>(ptrs... *float32, n int, scal... float32) [float32]
type kernel struct {
	name  string
	doc   string
	ptrs  []string
	scal  []string
	red   string // "", "sum" or "max"
	ntemp int    // temporary vector registers the body uses
	body  func(e *emitter)
}

// emitter writes one kernel for one ISA.
type emitter struct {
	w      *bytes.Buffer
	isa    isa
	k      *kernel
	tail   bool           // writing the masked tail step
	cregs  map[string]int // AVX-512: constant → register
	accReg int
}

var ptrRegs = []string{"DI", "SI", "DX", "R8", "R9", "R10", "R11", "R12"}

func (e *emitter) p(format string, args ...any) { fmt.Fprintf(e.w, "\t"+format+"\n", args...) }

// t is temporary vector register i.
func (e *emitter) t(i int) string {
	if i >= e.k.ntemp {
		log.Fatalf("%s: temp %d of %d", e.k.name, i, e.k.ntemp)
	}
	return fmt.Sprintf("%s%d", e.isa.v, i)
}

func (e *emitter) acc() string { return fmt.Sprintf("%s%d", e.isa.v, e.accReg) }

// s is the broadcast register of scalar parameter name.
func (e *emitter) s(name string) string {
	for i, s := range e.k.scal {
		if s == name {
			return fmt.Sprintf("%s%d", e.isa.v, e.k.ntemp+1+i)
		}
	}
	log.Fatalf("%s: no scalar %q", e.k.name, name)
	return ""
}

// c is constant name as an operand: a register on AVX-512, memory on AVX2.
// Only a last source operand (the first in Go's order) may be memory.
func (e *emitter) c(name string) string {
	if e.isa == avx512 {
		r, ok := e.cregs[name]
		if !ok {
			log.Fatalf("%s: constant %q not loaded", e.k.name, name)
		}
		return fmt.Sprintf("Z%d", r)
	}
	return fmt.Sprintf("simdconst<>+%d(SB)", 64*constIndex(name))
}

// creg loads constant name into register dst and returns dst (or, on
// AVX-512, returns the constant's own register).
func (e *emitter) creg(name, dst string) string {
	if e.isa == avx512 {
		return e.c(name)
	}
	e.p("VMOVUPS %s, %s", e.c(name), dst)
	return dst
}

func (e *emitter) ptr(name string) string {
	for i, p := range e.k.ptrs {
		if p == name {
			return ptrRegs[i]
		}
	}
	log.Fatalf("%s: no pointer %q", e.k.name, name)
	return ""
}

// load reads one vector of ptr into dst; in the tail, lanes ≥ n read as 0.
func (e *emitter) load(dst, ptr string) {
	switch {
	case !e.tail:
		e.p("VMOVUPS (%s), %s", e.ptr(ptr), dst)
	case e.isa == avx512:
		e.p("VMOVUPS.Z (%s), K1, %s", e.ptr(ptr), dst)
	default:
		e.p("VMASKMOVPS (%s), Y15, %s", e.ptr(ptr), dst)
	}
}

// store writes src to one vector of ptr; in the tail, lanes ≥ n are not written.
func (e *emitter) store(src, ptr string) {
	switch {
	case !e.tail:
		e.p("VMOVUPS %s, (%s)", src, e.ptr(ptr))
	case e.isa == avx512:
		e.p("VMOVUPS %s, K1, (%s)", src, e.ptr(ptr))
	default:
		e.p("VMASKMOVPS %s, Y15, (%s)", src, e.ptr(ptr))
	}
}

// sum adds src into the accumulator; in the tail only lanes < n (src may be
// clobbered).
func (e *emitter) sum(src string) {
	switch {
	case !e.tail:
		e.p("VADDPS %s, %s, %s", src, e.acc(), e.acc())
	case e.isa == avx512:
		e.p("VADDPS %s, %s, K1, %s", src, e.acc(), e.acc())
	default:
		e.p("VANDPS Y15, %s, %s", src, src)
		e.p("VADDPS %s, %s, %s", src, e.acc(), e.acc())
	}
}

// fmaSum adds a·b into the accumulator. Tail lanes of loaded vectors are 0,
// so a·b is 0 there and no masking is needed.
func (e *emitter) fmaSum(a, b string) { e.p("VFMADD231PS %s, %s, %s", b, a, e.acc()) }

// max folds src into the accumulator's running maximum; tmp is clobbered.
func (e *emitter) max(src, tmp string) {
	switch {
	case !e.tail:
		e.p("VMAXPS %s, %s, %s", src, e.acc(), e.acc())
	case e.isa == avx512:
		e.p("VMAXPS %s, %s, K1, %s", src, e.acc(), e.acc())
	default:
		e.p("VMOVUPS %s, %s", e.c("ninf"), tmp)
		e.p("VBLENDVPS Y15, %s, %s, %s", src, tmp, tmp) // tmp = lane < n ? src : -Inf
		e.p("VMAXPS %s, %s, %s", tmp, e.acc(), e.acc())
	}
}

// neg sets dst = −src.
func (e *emitter) neg(dst, src string) {
	if e.isa == avx512 {
		e.p("VPXORD %s, %s, %s", dst, dst, dst)
	} else {
		e.p("VXORPS %s, %s, %s", dst, dst, dst)
	}
	e.p("VSUBPS %s, %s, %s", src, dst, dst)
}

// exp sets dst = exp(x) (x is kept; t1..t3 are clobbered), the algorithm of
// expf in simd.go: clamp, n = round(x·log2e), r = x − n·ln2 (two parts),
// exp(r) ≈ 1 + r + r²·P(r), times 2ⁿ built in the exponent bits; then
// x > hi gives +Inf and x < lo gives 0. The clamps keep x as the operand a
// NaN is returned from, so NaN propagates.
func (e *emitter) exp(dst, x, t1, t2, t3 string) {
	e.p("// %s = exp(%s)", dst, x)
	lo := e.creg("lo", dst)
	e.p("VMAXPS %s, %s, %s", x, lo, dst)
	hi := e.creg("hi", t1)
	e.p("VMINPS %s, %s, %s", dst, hi, dst)
	e.p("VMULPS %s, %s, %s", e.c("log2e"), dst, t1)
	if e.isa == avx512 {
		e.p("VRNDSCALEPS $0, %s, %s", t1, t1)
	} else {
		e.p("VROUNDPS $0, %s, %s", t1, t1)
	}
	e.p("VFNMADD231PS %s, %s, %s", e.c("ln2hi"), t1, dst)
	e.p("VFNMADD231PS %s, %s, %s", e.c("ln2lo"), t1, dst)
	if e.isa == avx512 {
		e.p("VMOVAPS %s, %s", e.c("p0"), t2)
	} else {
		e.p("VMOVUPS %s, %s", e.c("p0"), t2)
	}
	for _, c := range []string{"p1", "p2", "p3", "p4", "p5"} {
		e.p("VFMADD213PS %s, %s, %s", e.c(c), dst, t2)
	}
	e.p("VMULPS %s, %s, %s", dst, dst, t3)
	e.p("VFMADD213PS %s, %s, %s", dst, t3, t2) // P·r² + r
	e.p("VADDPS %s, %s, %s", e.c("one"), t2, t2)
	e.p("VCVTPS2DQ %s, %s", t1, t1)
	e.p("VPSLLD $23, %s, %s", t1, t1)
	e.p("VPADDD %s, %s, %s", e.c("one"), t1, t1) // (n+127)<<23 = bits of 2ⁿ
	e.p("VMULPS %s, %s, %s", t1, t2, dst)
	if e.isa == avx512 {
		e.p("VCMPPS $0x1e, %s, %s, K2", e.c("hi"), x) // x > hi (ordered)
		e.p("VMOVAPS %s, K2, %s", e.c("inf"), dst)
		e.p("VCMPPS $0x11, %s, %s, K3", e.c("lo"), x) // x < lo (ordered)
		e.p("VPXORD %s, %s, K3, %s", dst, dst, dst)
	} else {
		e.p("VCMPPS $0x1e, %s, %s, %s", e.c("hi"), x, t1)
		e.p("VBLENDVPS %s, %s, %s, %s", t1, e.c("inf"), dst, dst)
		e.p("VCMPPS $0x11, %s, %s, %s", e.c("lo"), x, t1)
		e.p("VANDNPS %s, %s, %s", dst, t1, dst)
	}
}

func gen(w *bytes.Buffer, k *kernel, is isa, cnames []string) {
	e := &emitter{w: w, isa: is, k: k, cregs: map[string]int{}}
	e.accReg = k.ntemp
	nv := k.ntemp + 1 + len(k.scal)
	if is == avx2 && nv > 15 || is == avx512 && nv > 32-len(cnames) {
		log.Fatalf("%s%s: %d vector registers", k.name, is.name, nv)
	}
	for i, c := range cnames {
		e.cregs[c] = 32 - len(cnames) + i
	}
	// frame: pointers, n, scalars, result aligned to 8
	argSize := 8*len(k.ptrs) + 8 + 4*len(k.scal)
	retOff := (argSize + 7) &^ 7
	frame := argSize
	if k.red != "" {
		frame = retOff + 4
	}
	name := k.name + is.name
	fmt.Fprintf(w, "\n// %s\nTEXT ·%s(SB), NOSPLIT, $0-%d\n", goSig(k, name), name, frame)
	for i, p := range k.ptrs {
		e.p("MOVQ %s+%d(FP), %s", p, 8*i, ptrRegs[i])
	}
	e.p("MOVQ n+%d(FP), CX", 8*len(k.ptrs))
	for i, s := range k.scal {
		e.p("VBROADCASTSS %s+%d(FP), %s", s, 8*len(k.ptrs)+8+4*i, e.s(s))
	}
	for _, c := range cnames {
		e.p("VMOVUPS %s, Z%d", fmt.Sprintf("simdconst<>+%d(SB)", 64*constIndex(c)), e.cregs[c])
	}
	switch k.red {
	case "sum":
		if is == avx512 {
			e.p("VPXORD %s, %s, %s", e.acc(), e.acc(), e.acc())
		} else {
			e.p("VXORPS %s, %s, %s", e.acc(), e.acc(), e.acc())
		}
	case "max":
		e.p("VMOVUPS simdconst<>+%d(SB), %s", 64*constIndex("ninf"), e.acc())
	}
	e.p("CMPQ CX, $%d", is.vw)
	e.p("JB tail")
	fmt.Fprintf(w, "loop:\n")
	k.body(e)
	for i := range k.ptrs {
		e.p("ADDQ $%d, %s", 4*is.vw, ptrRegs[i])
	}
	e.p("SUBQ $%d, CX", is.vw)
	e.p("CMPQ CX, $%d", is.vw)
	e.p("JAE loop")
	fmt.Fprintf(w, "tail:\n")
	e.p("TESTQ CX, CX")
	e.p("JZ done")
	if is == avx512 {
		e.p("MOVL $1, AX")
		e.p("SHLL CX, AX")
		e.p("DECL AX")
		e.p("KMOVW AX, K1")
	} else {
		e.p("LEAQ simdtail<>(SB), AX")
		e.p("MOVQ $8, BX")
		e.p("SUBQ CX, BX")
		e.p("VMOVDQU (AX)(BX*4), Y15")
	}
	e.tail = true
	k.body(e)
	fmt.Fprintf(w, "done:\n")
	if k.red != "" {
		op := map[string]string{"sum": "VADDPS", "max": "VMAXPS"}[k.red]
		a := e.accReg
		if is == avx512 {
			e.p("VEXTRACTF64X4 $1, Z%d, Y0", a)
			e.p("%s Y0, Y%d, Y0", op, a)
		} else {
			e.p("VMOVUPS Y%d, Y0", a)
		}
		e.p("VEXTRACTF128 $1, Y0, X1")
		e.p("%s X1, X0, X0", op)
		e.p("VPERMILPS $0x4e, X0, X1")
		e.p("%s X1, X0, X0", op)
		e.p("VPERMILPS $0xb1, X0, X1")
		e.p("%s X1, X0, X0", op)
		e.p("VZEROUPPER")
		e.p("MOVSS X0, ret+%d(FP)", retOff)
	} else {
		e.p("VZEROUPPER")
	}
	e.p("RET")
}

func goSig(k *kernel, name string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "func %s(%s *float32, n int", name, strings.Join(k.ptrs, ", "))
	if len(k.scal) > 0 {
		fmt.Fprintf(&b, ", %s float32", strings.Join(k.scal, ", "))
	}
	b.WriteString(")")
	if k.red != "" {
		b.WriteString(" float32")
	}
	return b.String()
}

// The kernels. Formulas are per element i < n; comments name the model code
// that calls them. Operation order follows the plain Go reference where it can.
var kernels = []*kernel{
	{name: "expAffSum", doc: "dst = exp(a·src − b); returns Σ dst (softmax rows: src may be dst)",
		ptrs: []string{"dst", "src"}, scal: []string{"a", "b"}, red: "sum", ntemp: 5,
		body: func(e *emitter) {
			e.load(e.t(0), "src")
			e.p("VFMSUB132PS %s, %s, %s", e.s("a"), e.s("b"), e.t(0)) // t0 = t0·a − b
			e.exp(e.t(1), e.t(0), e.t(2), e.t(3), e.t(4))
			e.store(e.t(1), "dst")
			e.sum(e.t(1))
		}},
	{name: "maxv", doc: "returns max x (−Inf when n = 0)",
		ptrs: []string{"x"}, red: "max", ntemp: 2,
		body: func(e *emitter) {
			e.load(e.t(0), "x")
			e.max(e.t(0), e.t(1))
		}},
	{name: "dot", doc: "returns Σ x·y",
		ptrs: []string{"x", "y"}, red: "sum", ntemp: 2,
		body: func(e *emitter) {
			e.load(e.t(0), "x")
			e.load(e.t(1), "y")
			e.fmaSum(e.t(0), e.t(1))
		}},
	{name: "dot3", doc: "returns Σ (x·y)·z",
		ptrs: []string{"x", "y", "z"}, red: "sum", ntemp: 3,
		body: func(e *emitter) {
			e.load(e.t(0), "x")
			e.load(e.t(1), "y")
			e.p("VMULPS %s, %s, %s", e.t(1), e.t(0), e.t(0))
			e.load(e.t(2), "z")
			e.fmaSum(e.t(0), e.t(2))
		}},
	{name: "scaleTo", doc: "dst = a·src",
		ptrs: []string{"dst", "src"}, scal: []string{"a"}, ntemp: 1,
		body: func(e *emitter) {
			e.load(e.t(0), "src")
			e.p("VMULPS %s, %s, %s", e.s("a"), e.t(0), e.t(0))
			e.store(e.t(0), "dst")
		}},
	{name: "add", doc: "dst = x + y",
		ptrs: []string{"dst", "x", "y"}, ntemp: 2,
		body: func(e *emitter) {
			e.load(e.t(0), "x")
			e.load(e.t(1), "y")
			e.p("VADDPS %s, %s, %s", e.t(1), e.t(0), e.t(0))
			e.store(e.t(0), "dst")
		}},
	{name: "rmsScale", doc: "y = w·(x·s) (RMSNorm forward)",
		ptrs: []string{"y", "x", "w"}, scal: []string{"s"}, ntemp: 2,
		body: func(e *emitter) {
			e.load(e.t(0), "x")
			e.p("VMULPS %s, %s, %s", e.s("s"), e.t(0), e.t(0))
			e.load(e.t(1), "w")
			e.p("VMULPS %s, %s, %s", e.t(1), e.t(0), e.t(0))
			e.store(e.t(0), "y")
		}},
	{name: "rmsScaleAdd", doc: "y = r + w·(x·s) (RMSNorm forward plus the residual)",
		ptrs: []string{"y", "x", "w", "r"}, scal: []string{"s"}, ntemp: 3,
		body: func(e *emitter) {
			e.load(e.t(0), "x")
			e.p("VMULPS %s, %s, %s", e.s("s"), e.t(0), e.t(0))
			e.load(e.t(1), "w")
			e.p("VMULPS %s, %s, %s", e.t(1), e.t(0), e.t(0))
			e.load(e.t(2), "r")
			e.p("VADDPS %s, %s, %s", e.t(2), e.t(0), e.t(0))
			e.store(e.t(0), "y")
		}},
	{name: "rmsBack", doc: "dx = (w·dy)·s − c·x (RMSNorm backward; dx may be dy)",
		ptrs: []string{"dx", "dy", "x", "w"}, scal: []string{"s", "c"}, ntemp: 3,
		body: func(e *emitter) {
			e.load(e.t(0), "w")
			e.load(e.t(1), "dy")
			e.p("VMULPS %s, %s, %s", e.t(1), e.t(0), e.t(0))
			e.p("VMULPS %s, %s, %s", e.s("s"), e.t(0), e.t(0))
			e.load(e.t(2), "x")
			e.p("VFNMADD231PS %s, %s, %s", e.s("c"), e.t(2), e.t(0)) // t0 −= x·c
			e.store(e.t(0), "dx")
		}},
	{name: "mulAcc", doc: "dst += (x·y)·s (RMSNorm weight gradient, by columns)",
		ptrs: []string{"dst", "x", "y"}, scal: []string{"s"}, ntemp: 3,
		body: func(e *emitter) {
			e.load(e.t(0), "x")
			e.load(e.t(1), "y")
			e.p("VMULPS %s, %s, %s", e.t(1), e.t(0), e.t(0))
			e.p("VMULPS %s, %s, %s", e.s("s"), e.t(0), e.t(0))
			e.load(e.t(2), "dst")
			e.p("VADDPS %s, %s, %s", e.t(0), e.t(2), e.t(2))
			e.store(e.t(2), "dst")
		}},
	{name: "rmsRope", doc: "a = w1·(x1·s), b = w2·(x2·s); (o1, o2) = (a·c − b·sn, b·c + a·sn) (QK-norm then RoPE, one head)",
		ptrs: []string{"o1", "o2", "x1", "x2", "w1", "w2", "c", "sn"}, scal: []string{"s"}, ntemp: 6,
		body: func(e *emitter) {
			e.load(e.t(0), "x1")
			e.p("VMULPS %s, %s, %s", e.s("s"), e.t(0), e.t(0))
			e.load(e.t(1), "w1")
			e.p("VMULPS %s, %s, %s", e.t(1), e.t(0), e.t(0)) // a
			e.load(e.t(1), "x2")
			e.p("VMULPS %s, %s, %s", e.s("s"), e.t(1), e.t(1))
			e.load(e.t(2), "w2")
			e.p("VMULPS %s, %s, %s", e.t(2), e.t(1), e.t(1)) // b
			e.load(e.t(2), "c")
			e.load(e.t(3), "sn")
			e.p("VMULPS %s, %s, %s", e.t(2), e.t(0), e.t(4))
			e.p("VFNMADD231PS %s, %s, %s", e.t(3), e.t(1), e.t(4)) // a·c − b·sn
			e.p("VMULPS %s, %s, %s", e.t(2), e.t(1), e.t(5))
			e.p("VFMADD231PS %s, %s, %s", e.t(3), e.t(0), e.t(5)) // b·c + a·sn
			e.store(e.t(4), "o1")
			e.store(e.t(5), "o2")
		}},
	{name: "ropeTo", doc: "(o1, o2) = (x1·c − x2·sn·sign, x2·c + x1·sn·sign) (RoPE; o1, o2 may be x1, x2)",
		ptrs: []string{"o1", "o2", "x1", "x2", "c", "sn"}, scal: []string{"sign"}, ntemp: 6,
		body: func(e *emitter) {
			e.load(e.t(0), "c")
			e.load(e.t(1), "sn")
			e.p("VMULPS %s, %s, %s", e.s("sign"), e.t(1), e.t(1))
			e.load(e.t(2), "x1")
			e.load(e.t(3), "x2")
			e.p("VMULPS %s, %s, %s", e.t(0), e.t(2), e.t(4))
			e.p("VFNMADD231PS %s, %s, %s", e.t(1), e.t(3), e.t(4))
			e.p("VMULPS %s, %s, %s", e.t(0), e.t(3), e.t(5))
			e.p("VFMADD231PS %s, %s, %s", e.t(1), e.t(2), e.t(5))
			e.store(e.t(4), "o1")
			e.store(e.t(5), "o2")
		}},
	{name: "swiglu", doc: "act = g/(1+exp(−g))·up, g = gate (SwiGLU forward)",
		ptrs: []string{"act", "gate", "up"}, ntemp: 6,
		body: func(e *emitter) {
			e.load(e.t(0), "gate")
			e.neg(e.t(1), e.t(0))
			e.exp(e.t(2), e.t(1), e.t(3), e.t(4), e.t(5))
			e.p("VADDPS %s, %s, %s", e.c("one"), e.t(2), e.t(2))
			e.p("VDIVPS %s, %s, %s", e.t(2), e.t(0), e.t(3)) // g/(1+e)
			e.load(e.t(4), "up")
			e.p("VMULPS %s, %s, %s", e.t(4), e.t(3), e.t(3))
			e.store(e.t(3), "act")
		}},
	{name: "swigluBack", doc: "σ = 1/(1+exp(−g)): dup = (d·g)·σ, dgate = ((d·up)·σ)·(1 + g·(1−σ)), d = dact",
		ptrs: []string{"dgate", "dup", "dact", "gate", "up"}, ntemp: 6,
		body: func(e *emitter) {
			e.load(e.t(0), "gate")
			e.neg(e.t(1), e.t(0))
			e.exp(e.t(2), e.t(1), e.t(3), e.t(4), e.t(5))
			e.p("VADDPS %s, %s, %s", e.c("one"), e.t(2), e.t(2))
			one := e.creg("one", e.t(3))
			e.p("VDIVPS %s, %s, %s", e.t(2), one, e.t(3)) // σ
			e.load(e.t(1), "dact")
			e.p("VMULPS %s, %s, %s", e.t(0), e.t(1), e.t(2))
			e.p("VMULPS %s, %s, %s", e.t(3), e.t(2), e.t(2))
			e.store(e.t(2), "dup")
			e.load(e.t(4), "up")
			e.p("VMULPS %s, %s, %s", e.t(4), e.t(1), e.t(4))
			e.p("VMULPS %s, %s, %s", e.t(3), e.t(4), e.t(4))
			one = e.creg("one", e.t(5))
			e.p("VSUBPS %s, %s, %s", e.t(3), one, e.t(5)) // 1−σ
			e.p("VMULPS %s, %s, %s", e.t(0), e.t(5), e.t(5))
			e.p("VADDPS %s, %s, %s", e.c("one"), e.t(5), e.t(5))
			e.p("VMULPS %s, %s, %s", e.t(5), e.t(4), e.t(4))
			e.store(e.t(4), "dgate")
		}},
	{name: "dsRow", doc: "ds = (p·(dp − d))·a (attention: dS = P ⊙ (dP − D)/√HS; ds may be dp)",
		ptrs: []string{"ds", "p", "dp"}, scal: []string{"d", "a"}, ntemp: 2,
		body: func(e *emitter) {
			e.load(e.t(0), "dp")
			e.p("VSUBPS %s, %s, %s", e.s("d"), e.t(0), e.t(0))
			e.load(e.t(1), "p")
			e.p("VMULPS %s, %s, %s", e.t(1), e.t(0), e.t(0))
			e.p("VMULPS %s, %s, %s", e.s("a"), e.t(0), e.t(0))
			e.store(e.t(0), "ds")
		}},
	{name: "adamw", doc: "AdamW: g' = g·gs; m = b1·m + c1·g'; v = b2·v + (c2·g')·g'; p = p·decay − (step·m)/(√v/bc2 + eps)",
		ptrs: []string{"p", "gr", "m", "v"}, scal: []string{"gs", "b1", "c1", "b2", "c2", "decay", "step", "bc2", "eps"}, ntemp: 5,
		body: func(e *emitter) {
			e.load(e.t(0), "gr")
			e.p("VMULPS %s, %s, %s", e.s("gs"), e.t(0), e.t(0))
			e.load(e.t(1), "m")
			e.p("VMULPS %s, %s, %s", e.s("b1"), e.t(1), e.t(1))
			e.p("VFMADD231PS %s, %s, %s", e.s("c1"), e.t(0), e.t(1))
			e.store(e.t(1), "m")
			e.p("VMULPS %s, %s, %s", e.s("c2"), e.t(0), e.t(2))
			e.load(e.t(3), "v")
			e.p("VMULPS %s, %s, %s", e.s("b2"), e.t(3), e.t(3))
			e.p("VFMADD231PS %s, %s, %s", e.t(0), e.t(2), e.t(3))
			e.store(e.t(3), "v")
			e.p("VSQRTPS %s, %s", e.t(3), e.t(3))
			e.p("VDIVPS %s, %s, %s", e.s("bc2"), e.t(3), e.t(3))
			e.p("VADDPS %s, %s, %s", e.s("eps"), e.t(3), e.t(3))
			e.p("VMULPS %s, %s, %s", e.s("step"), e.t(1), e.t(1))
			e.p("VDIVPS %s, %s, %s", e.t(3), e.t(1), e.t(1))
			e.load(e.t(4), "p")
			e.p("VMULPS %s, %s, %s", e.s("decay"), e.t(4), e.t(4))
			e.p("VSUBPS %s, %s, %s", e.t(1), e.t(4), e.t(4))
			e.store(e.t(4), "p")
		}},
}

// constsOf lists the constants k's body uses (found by a dry run of both
// steps on AVX2, where constants are memory operands); AVX-512 preloads them.
func constsOf(k *kernel) []string {
	var b bytes.Buffer
	e := &emitter{w: &b, isa: avx2, k: k}
	k.body(e)
	e.tail = true
	k.body(e)
	var out []string
	for _, c := range consts {
		if strings.Contains(b.String(), fmt.Sprintf("simdconst<>+%d(SB)", 64*constIndex(c.name))) {
			out = append(out, c.name)
		}
	}
	return out
}

// mmMR and mmNV bound the tile kernels: up to 6 rows of C and nv vectors
// of columns (4 zmm = 64 floats on AVX-512, 2 ymm = 16 floats on AVX2), so
// mr·nv accumulators + nv B vectors + 1 broadcast fit the register file.
const mmMR = 6

func mmNV(is isa) int {
	if is == avx512 {
		return 4
	}
	return 2
}

func mmName(is isa, mr, nv int) string { return fmt.Sprintf("mm%dx%d%s", mr, nv, is.name) }

const mmSig = "(k int, a *float32, ai, ap int, b *float32, ldb int, c *float32, ldc int, acc int)"

// genMM writes the tile kernel
//
//	C[i, j] = Σ_{p<k} a[i·ai + p·ap] · b[p·ldb + j] (+ C[i, j] if acc ≠ 0)
//
// for i < mr, j < nv·vw. A is read by broadcasts with any strides, so the
// same kernel serves A and Aᵀ (attention's P·V and Pᵀ·dO); B and C rows are
// contiguous vectors. Row i of A is at a + i·ai, addressed from one base with
// the index registers ai, 3ai, 5ai and scales 1, 2, 4.
func genMM(w *bytes.Buffer, is isa, mr, nv int) {
	p := func(format string, args ...any) { fmt.Fprintf(w, "\t"+format+"\n", args...) }
	name := mmName(is, mr, nv)
	fmt.Fprintf(w, "\n// func %s%s\nTEXT ·%s(SB), NOSPLIT, $0-72\n", name, mmSig, name)
	v := func(i int) string { return fmt.Sprintf("%s%d", is.v, i) }
	accR := func(i, j int) string { return v(i*nv + j) }
	bR := func(j int) string { return v(is.nregs - 1 - mmNV(is) + j) } // Z27.. or Y13..
	bc := v(is.nregs - 1)
	p("MOVQ k+0(FP), CX")
	p("MOVQ a+8(FP), SI")
	p("MOVQ ai+16(FP), R8")
	p("SHLQ $2, R8")
	p("MOVQ ap+24(FP), R9")
	p("SHLQ $2, R9")
	p("MOVQ b+32(FP), DX")
	p("MOVQ ldb+40(FP), R10")
	p("SHLQ $2, R10")
	p("MOVQ c+48(FP), DI")
	p("MOVQ ldc+56(FP), R11")
	p("SHLQ $2, R11")
	p("LEAQ (R8)(R8*2), R12")
	p("LEAQ (R8)(R8*4), R13")
	for i := 0; i < mr; i++ {
		for j := 0; j < nv; j++ {
			if is == avx512 {
				p("VPXORD %s, %s, %s", accR(i, j), accR(i, j), accR(i, j))
			} else {
				p("VXORPS %s, %s, %s", accR(i, j), accR(i, j), accR(i, j))
			}
		}
	}
	addr := []string{"(SI)", "(SI)(R8*1)", "(SI)(R8*2)", "(SI)(R12*1)", "(SI)(R8*4)", "(SI)(R13*1)"}
	p("TESTQ CX, CX")
	p("JZ store")
	fmt.Fprintf(w, "loop:\n")
	for j := 0; j < nv; j++ {
		p("VMOVUPS %d(DX), %s", 4*is.vw*j, bR(j))
	}
	for i := 0; i < mr; i++ {
		p("VBROADCASTSS %s, %s", addr[i], bc)
		for j := 0; j < nv; j++ {
			p("VFMADD231PS %s, %s, %s", bR(j), bc, accR(i, j))
		}
	}
	p("ADDQ R9, SI")
	p("ADDQ R10, DX")
	p("DECQ CX")
	p("JNZ loop")
	fmt.Fprintf(w, "store:\n")
	p("MOVQ acc+64(FP), AX")
	p("TESTQ AX, AX")
	p("JZ put")
	p("MOVQ DI, BX")
	for i := 0; i < mr; i++ {
		for j := 0; j < nv; j++ {
			p("VADDPS %d(BX), %s, %s", 4*is.vw*j, accR(i, j), accR(i, j))
		}
		if i < mr-1 {
			p("ADDQ R11, BX")
		}
	}
	fmt.Fprintf(w, "put:\n")
	for i := 0; i < mr; i++ {
		for j := 0; j < nv; j++ {
			p("VMOVUPS %s, %d(DI)", accR(i, j), 4*is.vw*j)
		}
		if i < mr-1 {
			p("ADDQ R11, DI")
		}
	}
	p("VZEROUPPER")
	p("RET")
}

const transposeSig = "(dst *float32, ldd int, src *float32, lds int, nblk int)"

// genTranspose16 writes
//
//	func transpose16AVX512(dst *float32, ldd int, src *float32, lds int, nblk int)
//
// dst[(16·b + c)·ldd + r] = src[r·lds + 16·b + c] for r, c < 16, b < nblk: 16
// rows transposed 16 columns at a time, in registers. Stage 1 interleaves row
// pairs (VUNPCK*PS), stage 2 pairs of pairs (VUNPCK*PD), after which register
// 4m+c holds, in 128-bit lane L, rows 4m..4m+3 of column 4L+c; stages 3 and 4
// transpose those lanes (VSHUFF32X4) so that column 4L+c is whole.
func genTranspose16(w *bytes.Buffer) {
	p := func(format string, args ...any) { fmt.Fprintf(w, "\t"+format+"\n", args...) }
	fmt.Fprintf(w, "\n// func transpose16AVX512%s\nTEXT ·transpose16AVX512(SB), NOSPLIT, $0-40\n", transposeSig)
	p("MOVQ dst+0(FP), DI")
	p("MOVQ ldd+8(FP), R8")
	p("SHLQ $2, R8")
	p("MOVQ src+16(FP), SI")
	p("MOVQ lds+24(FP), R9")
	p("SHLQ $2, R9")
	p("MOVQ nblk+32(FP), CX")
	p("TESTQ CX, CX")
	p("JZ done")
	fmt.Fprintf(w, "block:\n")
	p("MOVQ SI, R10")
	for r := 0; r < 16; r++ {
		p("VMOVUPS (R10), Z%d", r)
		if r < 15 {
			p("ADDQ R9, R10")
		}
	}
	for k := 0; k < 8; k++ {
		p("VUNPCKLPS Z%d, Z%d, Z%d", 2*k+1, 2*k, 16+2*k)
		p("VUNPCKHPS Z%d, Z%d, Z%d", 2*k+1, 2*k, 16+2*k+1)
	}
	for m := 0; m < 4; m++ {
		lo0, hi0, lo1, hi1 := 16+4*m, 16+4*m+1, 16+4*m+2, 16+4*m+3
		p("VUNPCKLPD Z%d, Z%d, Z%d", lo1, lo0, 4*m+0)
		p("VUNPCKHPD Z%d, Z%d, Z%d", lo1, lo0, 4*m+1)
		p("VUNPCKLPD Z%d, Z%d, Z%d", hi1, hi0, 4*m+2)
		p("VUNPCKHPD Z%d, Z%d, Z%d", hi1, hi0, 4*m+3)
	}
	for c := 0; c < 4; c++ {
		x0, x1, x2, x3 := c, 4+c, 8+c, 12+c
		p("VSHUFF32X4 $0x44, Z%d, Z%d, Z16", x1, x0)
		p("VSHUFF32X4 $0xEE, Z%d, Z%d, Z17", x1, x0)
		p("VSHUFF32X4 $0x44, Z%d, Z%d, Z18", x3, x2)
		p("VSHUFF32X4 $0xEE, Z%d, Z%d, Z19", x3, x2)
		p("VSHUFF32X4 $0x88, Z18, Z16, Z20") // column c
		p("VSHUFF32X4 $0xDD, Z18, Z16, Z21") // column 4+c
		p("VSHUFF32X4 $0x88, Z19, Z17, Z22") // column 8+c
		p("VSHUFF32X4 $0xDD, Z19, Z17, Z23") // column 12+c
		for L := 0; L < 4; L++ {
			// row 4L+c of the output: dst + (4L+c)·ldd
			p("MOVQ $%d, AX", 4*L+c)
			p("IMULQ R8, AX")
			p("VMOVUPS Z%d, (DI)(AX*1)", 20+L)
		}
	}
	p("ADDQ $64, SI")
	p("MOVQ R8, AX")
	p("SHLQ $4, AX")
	p("ADDQ AX, DI")
	p("DECQ CX")
	p("JNZ block")
	fmt.Fprintf(w, "done:\n")
	p("VZEROUPPER")
	p("RET")
}

func main() {
	var s bytes.Buffer
	fmt.Fprintf(&s, "// Code generated by _asm/gen.go; DO NOT EDIT.\n\n//go:build !purego\n\n")
	fmt.Fprintf(&s, "// Row kernels (see simd.go). The AVX512 functions need AVX-512F, the AVX2\n// functions AVX2 and FMA; simd_amd64.go picks one set at run time.\n\n")
	fmt.Fprintf(&s, "#include \"textflag.h\"\n\n")
	for i, c := range consts {
		for j := 0; j < 16; j++ {
			fmt.Fprintf(&s, "DATA simdconst<>+%d(SB)/4, $0x%08x\n", 64*i+4*j, c.bits)
		}
	}
	fmt.Fprintf(&s, "GLOBL simdconst<>(SB), RODATA|NOPTR, $%d\n\n", 64*len(consts))
	fmt.Fprintf(&s, "// Eight all-ones lanes, then eight zero lanes: the AVX2 tail mask for r\n// lanes is the 8 lanes starting at lane 8−r.\n")
	for j := 0; j < 16; j++ {
		v := "0xffffffff"
		if j >= 8 {
			v = "0x00000000"
		}
		fmt.Fprintf(&s, "DATA simdtail<>+%d(SB)/4, $%s\n", 4*j, v)
	}
	fmt.Fprintf(&s, "GLOBL simdtail<>(SB), RODATA|NOPTR, $64\n")

	var d, o, decls bytes.Buffer
	fmt.Fprintf(&d, "// Code generated by _asm/gen.go; DO NOT EDIT.\n\n//go:build !purego\n\npackage model\n")
	fmt.Fprintf(&o, "// Code generated by _asm/gen.go; DO NOT EDIT.\n\n//go:build !amd64 || purego\n\npackage model\n\n")
	fmt.Fprintf(&o, "// Stubs: simdLevel is always simdGo here, so these are never called.\n")
	for _, k := range kernels {
		cn := constsOf(k)
		for _, is := range []isa{avx512, avx2} {
			var pre []string
			if is == avx512 {
				pre = cn
			}
			gen(&s, k, is, pre)
			fmt.Fprintf(&d, "\n// %s: %s.\n//\n//go:noescape\n%s\n", k.name+is.name, k.doc, goSig(k, k.name+is.name))
			fmt.Fprintf(&o, "\nfunc %s { panic(\"model: no SIMD kernels\") }\n", strings.TrimPrefix(goSig(k, k.name+is.name), "func "))
		}
	}
	fmt.Fprintf(&d, "\n// Tile kernels (genMM in _asm/gen.go): mmRxV computes R rows of C and V\n// vectors of columns.\n")
	for _, is := range []isa{avx512, avx2} {
		fmt.Fprintf(&d, "\n// mmTable%s[mr-1][nv-1] is the mr×nv tile kernel.\nvar mmTable%s = [%d][%d]mmKernel{\n", is.name, is.name, mmMR, mmNV(is))
		fmt.Fprintf(&o, "\nvar mmTable%s [%d][%d]mmKernel\n", is.name, mmMR, mmNV(is))
		for mr := 1; mr <= mmMR; mr++ {
			var names []string
			for nv := 1; nv <= mmNV(is); nv++ {
				genMM(&s, is, mr, nv)
				names = append(names, mmName(is, mr, nv))
				fmt.Fprintf(&decls, "\n//go:noescape\nfunc %s%s\n", mmName(is, mr, nv), mmSig)
			}
			fmt.Fprintf(&d, "\t{%s},\n", strings.Join(names, ", "))
		}
		fmt.Fprintf(&d, "}\n")
	}
	genTranspose16(&s)
	fmt.Fprintf(&decls, "\n// transpose16AVX512: 16 rows of src transposed into dst, 16 columns at a time (genTranspose16).\n//\n//go:noescape\nfunc transpose16AVX512%s\n", transposeSig)
	fmt.Fprintf(&o, "\nfunc transpose16AVX512%s { panic(\"model: no SIMD kernels\") }\n", transposeSig)
	d.Write(decls.Bytes())
	for _, f := range []struct {
		name string
		b    *bytes.Buffer
	}{{"simd_amd64.s", &s}, {"simd_decl_amd64.go", &d}, {"simd_decl_other.go", &o}} {
		out := f.b.Bytes()
		if strings.HasSuffix(f.name, ".go") {
			var err error
			if out, err = format.Source(out); err != nil {
				log.Fatalf("%s: %v", f.name, err)
			}
		}
		if err := os.WriteFile(f.name, out, 0o644); err != nil {
			log.Fatal(err)
		}
	}
}
