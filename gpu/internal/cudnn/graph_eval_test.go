//go:build cgo

package cudnn

import (
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestGraphComputesAttention runs the graphs the shim hands cuDNN (as the
// fake recorded them) through a float64 interpreter of the backend
// operations they use, on the engine's layouts (q, k, v, o in row-major
// matrices with leading dimensions wider than their heads; dq, dk, dv column
// blocks of one dqkv matrix; GQA), and holds them to causal attention
// computed directly: o and lse (natural log) forward, D, dq, dk and dv
// backward. It checks the graphs' meaning (the mask's direction, the scale,
// the statistics, the transposes, which kv head a query head reads, the
// gradient formulas, the strides), not cuDNN's acceptance of them or its
// precision.
func TestGraphComputesAttention(t *testing.T) {
	// -inf, then the lowest float as the mask value (before 9.10); up to
	// 9.15.0 the shim takes only T a multiple of 128 (versionRefuses)
	for _, run := range []struct {
		ver string
		T   int
	}{{"91600", 9}, {"90800", 128}} {
		ver := run.ver
		s := SDPAShape{B: 2, T: run.T, NH: 4, NKV: 2, HS: 8, Scale: float32(1 / math.Sqrt(8))}
		QC, KC := s.NH*s.HS, s.NKV*s.HS
		W := QC + 2*KC
		s.LdQ, s.LdK, s.LdV, s.LdO, s.LdDQ, s.LdDK, s.LdDV = QC+8, KC+16, W, QC, W, W, W
		path, log := fakeLib(t, "FAKE_CUDNN_VERSION="+ver)
		l, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		a, err := NewSDPA(l, 0, s)
		if err != nil {
			t.Fatal(err)
		}
		a.Close()
		c := readCalls(t, log)
		R := s.B * s.T
		r := rand.New(rand.NewPCG(1, 2))
		fill := func(n int) []float64 {
			x := make([]float64, n)
			for i := range x {
				x[i] = r.NormFloat64()
			}
			return x
		}
		q, k := fill(R*s.LdQ), fill(R*s.LdK)
		qkv := fill(R * W) // v in its last KC columns
		vOff := QC + KC
		dO := fill(R * s.LdO)
		// the reference
		lseRef := make([]float64, s.B*s.NH*s.T)
		oRef := make([]float64, R*QC)
		dqkvRef := make([]float64, R*W)
		Dref := make([]float64, s.B*s.NH*s.T)
		sc := float64(s.Scale)
		for b := 0; b < s.B; b++ {
			for h := 0; h < s.NH; h++ {
				g := h / (s.NH / s.NKV)
				for i := 0; i < s.T; i++ {
					ri := b*s.T + i
					sv := make([]float64, i+1)
					m := math.Inf(-1)
					for j := 0; j <= i; j++ {
						rj := b*s.T + j
						for d := 0; d < s.HS; d++ {
							sv[j] += q[ri*s.LdQ+h*s.HS+d] * k[rj*s.LdK+g*s.HS+d]
						}
						sv[j] *= sc
						m = max(m, sv[j])
					}
					z := 0.0
					for j := range sv {
						z += math.Exp(sv[j] - m)
					}
					lse := m + math.Log(z)
					lseRef[(b*s.NH+h)*s.T+i] = lse
					p := make([]float64, i+1)
					for j := range sv {
						p[j] = math.Exp(sv[j] - lse)
						for d := 0; d < s.HS; d++ {
							oRef[ri*QC+h*s.HS+d] += p[j] * qkv[(b*s.T+j)*W+vOff+g*s.HS+d]
						}
					}
					Di := 0.0
					for d := 0; d < s.HS; d++ {
						Di += dO[ri*s.LdO+h*s.HS+d] * oRef[ri*QC+h*s.HS+d]
					}
					Dref[(b*s.NH+h)*s.T+i] = Di
					for j := range sv {
						rj := b*s.T + j
						dp := 0.0
						for d := 0; d < s.HS; d++ {
							dp += dO[ri*s.LdO+h*s.HS+d] * qkv[rj*W+vOff+g*s.HS+d]
						}
						ds := p[j] * (dp - Di) * sc
						for d := 0; d < s.HS; d++ {
							dqkvRef[ri*W+h*s.HS+d] += ds * k[rj*s.LdK+g*s.HS+d]
							dqkvRef[rj*W+QC+g*s.HS+d] += ds * q[ri*s.LdQ+h*s.HS+d]
							dqkvRef[rj*W+QC+KC+g*s.HS+d] += p[j] * dO[ri*s.LdO+h*s.HS+d]
						}
					}
				}
			}
		}
		// the graphs, on the same data: o (R, LdO = QC) and lse, then D and dqkv
		o := make([]float64, R*s.LdO)
		lse := make([]float64, s.B*s.NH*s.T)
		D := make([]float64, len(lse))
		dqkv := make([]float64, R*W)
		negInf := math.Inf(-1)
		if ver == "90800" {
			negInf = -math.MaxFloat32
		}
		bind := map[int64]binding{UIDQ: {q, 0}, UIDK: {k, 0}, UIDV: {qkv, vOff}, UIDO: {o, 0}, UIDStats: {lse, 0},
			UIDdO: {dO, 0}, UIDD: {D, 0}, UIDdQ: {dqkv, 0}, UIDdK: {dqkv, QC}, UIDdV: {dqkv, QC + KC},
			UIDScale: {[]float64{float64(s.Scale)}, 0}, UIDNegInf: {[]float64{negInf}, 0}, UIDOne: {[]float64{1}, 0}}
		gs := c.graphs()
		evalGraph(t, c, gs[0], bind)
		evalGraph(t, c, gs[1], bind)
		near := func(what string, got []float64, at func(i int) int, want []float64) {
			t.Helper()
			worst := 0.0
			for i, w := range want {
				worst = max(worst, math.Abs(got[at(i)]-w)/(1+math.Abs(w)))
			}
			if worst > 1e-9 {
				t.Errorf("cuDNN %s: %s differs from direct attention by %.3g", ver, what, worst)
			}
		}
		same := func(i int) int { return i }
		near("o", o, same, oRef)
		near("lse", lse, same, lseRef)
		near("D", D, same, Dref)
		near("dq|dk|dv", dqkv, same, dqkvRef)
	}
}

// binding is a non-virtual tensor's memory: a host array and the offset of
// element (0, 0, 0, 0).
type binding struct {
	buf []float64
	off int
}

// itensor is a tensor under evaluation: memory, offset, dims and strides.
type itensor struct {
	buf           []float64
	off           int
	dims, strides []int64
}

func (x itensor) index(i [4]int64) int {
	o := x.off
	for d := range 4 {
		o += int(i[d] * x.strides[d])
	}
	return o
}

// bcast maps an index of an output of dims to x (extent 1: broadcast;
// fewer heads than the output: the group of consecutive heads sharing one).
func (x itensor) bcast(i [4]int64, dims []int64) [4]int64 {
	var j [4]int64
	for d := range 4 {
		switch {
		case x.dims[d] > dims[d]: // not a broadcast dim (a matmul's inner ones): set by the caller
			j[d] = 0
		case x.dims[d] == dims[d]:
			j[d] = i[d]
		case x.dims[d] == 1:
			j[d] = 0
		default:
			j[d] = i[d] / (dims[d] / x.dims[d])
		}
	}
	return j
}

func each(dims []int64, f func(i [4]int64)) {
	var i [4]int64
	for i[0] = 0; i[0] < dims[0]; i[0]++ {
		for i[1] = 0; i[1] < dims[1]; i[1]++ {
			for i[2] = 0; i[2] < dims[2]; i[2]++ {
				for i[3] = 0; i[3] < dims[3]; i[3]++ {
					f(i)
				}
			}
		}
	}
}

// evalGraph runs operation graph g's ops in order (the order the shim gives
// them is topological).
func evalGraph(t *testing.T, c *fakeCalls, g int, bind map[int64]binding) {
	t.Helper()
	ts := map[*fdesc]itensor{}
	tensor := func(d *fdesc) itensor {
		if x, ok := ts[d]; ok {
			return x
		}
		x := itensor{dims: ints(t, d.attrs[attrTensorDims]), strides: ints(t, d.attrs[attrTensorStrides])}
		if strings.Join(d.attrs[attrTensorVirtual], "") == "1" {
			// cuDNN never stores a virtual tensor; one whose strides
			// overlap (cudnn-frontend's dO∘O, strides {h·s·d, s·d, h·d, 1},
			// which the shim copies) is kept packed here
			if !oneToOne(x.dims, x.strides) {
				x.strides = packed(x.dims)
			}
			n := int64(1)
			for i := range x.dims {
				n += (x.dims[i] - 1) * x.strides[i]
			}
			x.buf = make([]float64, n)
		} else {
			b, ok := bind[uidOf(d)]
			if !ok {
				t.Fatalf("no memory for uid %d", uidOf(d))
			}
			x.buf, x.off = b.buf, b.off
		}
		ts[d] = x
		return x
	}
	for _, op := range c.graphOps[g] {
		switch op.typ {
		case descOpMatmul:
			A, B, C := tensor(c.ref(op, attrOpMatmulA)), tensor(c.ref(op, attrOpMatmulB)), tensor(c.ref(op, attrOpMatmulC))
			each(C.dims, func(i [4]int64) {
				// batch dims broadcast (GQA: B's heads shared by groups of C's); rows of A, columns of B
				ba, bb := A.bcast(i, C.dims), B.bcast(i, C.dims)
				ia, ib := [4]int64{ba[0], ba[1], i[2], 0}, [4]int64{bb[0], bb[1], 0, i[3]}
				sum := 0.0
				for kk := int64(0); kk < A.dims[3]; kk++ {
					ia[3], ib[2] = kk, kk
					sum += A.buf[A.index(ia)] * B.buf[B.index(ib)]
				}
				C.buf[C.index(i)] = sum
			})
		case descOpReshape:
			X, yd := tensor(c.ref(op, attrOpReshapeX)), c.ref(op, attrOpReshapeY)
			Y := itensor{buf: X.buf, off: X.off, dims: ints(t, yd.attrs[attrTensorDims]), strides: ints(t, yd.attrs[attrTensorStrides])}
			ts[yd] = Y // the same memory, seen with Y's dims and strides
		case descOpReduction:
			X, Y := tensor(c.ref(op, attrOpReductionX)), tensor(c.ref(op, attrOpReductionY))
			rop := c.ref(op, attrOpReductionDesc).attrs[attrReductionOp][0]
			init := 0.0
			if rop == strconv.Itoa(reduceMax) {
				init = math.Inf(-1)
			}
			each(Y.dims, func(i [4]int64) { Y.buf[Y.index(i)] = init })
			each(X.dims, func(i [4]int64) {
				y := &Y.buf[Y.index(Y.bcast(i, X.dims))]
				if rop == strconv.Itoa(reduceMax) {
					*y = max(*y, X.buf[X.index(i)])
				} else {
					*y += X.buf[X.index(i)]
				}
			})
		case descOpPointwise:
			pw := c.ref(op, attrOpPWDesc)
			mode, _ := strconv.Atoi(pw.attrs[attrPointwiseMode][0])
			X, Y := tensor(c.ref(op, attrOpPWX)), tensor(c.ref(op, attrOpPWY))
			var B, T itensor
			if d := c.ref(op, attrOpPWB); d != nil {
				B = tensor(d)
			}
			if d := c.ref(op, attrOpPWTDesc); d != nil {
				T = tensor(d)
			}
			each(Y.dims, func(i [4]int64) {
				x := X.buf[X.index(X.bcast(i, Y.dims))]
				bv := func() float64 { return B.buf[B.index(B.bcast(i, Y.dims))] }
				var y float64
				switch mode {
				case pwAdd:
					y = x + bv()
				case pwMul:
					y = x * bv()
				case pwSub:
					y = x - bv()
				case pwDiv:
					y = x / bv()
				case pwExp:
					y = math.Exp(x)
				case pwLog:
					y = math.Log(x)
				case pwCmpGE:
					if x >= bv() {
						y = 1
					}
				case pwGenIndex:
					ax, _ := strconv.Atoi(pw.attrs[attrPointwiseAxis][0])
					y = float64(i[ax])
				case pwSelect:
					y = bv()
					if T.buf[T.index(T.bcast(i, Y.dims))] != 0 {
						y = x
					}
				default:
					t.Fatalf("pointwise mode %d not interpreted", mode)
				}
				Y.buf[Y.index(i)] = y
			})
		default:
			t.Fatalf("operation type %d not interpreted", op.typ)
		}
	}
}

// oneToOne reports whether strides map every index of dims to its own
// element (a permutation of some packed layout).
func oneToOne(dims, strides []int64) bool {
	idx := make([]int, len(dims))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return int(strides[a] - strides[b]) })
	n := int64(1)
	for _, i := range idx {
		if dims[i] > 1 && strides[i] < n {
			return false
		}
		n = max(n, strides[i]*dims[i])
	}
	return true
}
