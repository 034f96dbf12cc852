//go:build cgo

package cudnn

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The tests below load testdata/fakecudnn.c, compiled here into a
// libcudnn.so.9, through the real loader, build the SDPA graphs on it, and
// read back from its log what the shim asked of cuDNN.

// fakeLib compiles the fake into a fresh directory (a fresh copy of its
// state: every test loads its own) and returns its path; env is set first.
func fakeLib(t *testing.T, env ...string) (path, log string) {
	t.Helper()
	cc := os.Getenv("CC")
	if cc == "" {
		cc = "cc"
	}
	if _, err := exec.LookPath(cc); err != nil {
		t.Skipf("no C compiler (%s): %v", cc, err)
	}
	dir := t.TempDir()
	path = filepath.Join(dir, "libcudnn.so.9")
	if out, err := exec.Command(cc, "-shared", "-fPIC", "-O1", "-o", path, "testdata/fakecudnn.c").CombinedOutput(); err != nil {
		t.Fatalf("compiling the fake cuDNN: %v\n%s", err, out)
	}
	log = filepath.Join(dir, "calls.log")
	t.Setenv("FAKE_CUDNN_LOG", log)
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	return path, log
}

// fdesc is a descriptor as the fake saw it: its type and attributes (the
// values as logged).
type fdesc struct {
	id, typ   int
	attrs     map[int][]string
	finalized bool
}

type fakeCalls struct {
	descs    map[int]*fdesc
	executes []string           // "plan=#ID vp=#ID"
	binds    [][]string         // per execute: "UID PTR [= VALUE]"
	created  map[int]int        // descriptor type → count
	lines    []string           // every line
	byUID    map[int64][]*fdesc // tensors by uid, in the order made
	graphOps map[int][]*fdesc   // operation graph id → its ops
}

func readCalls(t *testing.T, log string) *fakeCalls {
	t.Helper()
	f, err := os.Open(log)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c := &fakeCalls{descs: map[int]*fdesc{}, created: map[int]int{}, byUID: map[int64][]*fdesc{}, graphOps: map[int][]*fdesc{}}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	id := func(s string) int { n, _ := strconv.Atoi(strings.TrimPrefix(s, "#")); return n }
	for sc.Scan() {
		line := sc.Text()
		c.lines = append(c.lines, line)
		fs := strings.Fields(line)
		switch fs[0] {
		case "create":
			typ, _ := strconv.Atoi(fs[2])
			c.descs[id(fs[1])] = &fdesc{id: id(fs[1]), typ: typ, attrs: map[int][]string{}}
			c.created[typ]++
		case "set":
			name, _ := strconv.Atoi(fs[2])
			d := c.descs[id(fs[1])]
			d.attrs[name] = fs[5:]
		case "finalize":
			c.descs[id(fs[1])].finalized = true
		case "execute":
			c.executes = append(c.executes, strings.Join(fs[1:], " "))
			c.binds = append(c.binds, nil)
		case "bind":
			c.binds[len(c.binds)-1] = append(c.binds[len(c.binds)-1], strings.Join(fs[1:], " "))
		}
	}
	for _, d := range c.sorted() {
		if d.typ == descTensor {
			u, _ := strconv.ParseInt(d.attrs[attrTensorUID][0], 10, 64)
			c.byUID[u] = append(c.byUID[u], d)
		}
		if d.typ == descOpGraph {
			for _, o := range d.attrs[attrGraphOps] {
				c.graphOps[d.id] = append(c.graphOps[d.id], c.descs[id(o)])
			}
		}
	}
	return c
}

// sorted is every descriptor in the order made.
func (c *fakeCalls) sorted() []*fdesc {
	var ds []*fdesc
	for _, d := range c.descs {
		ds = append(ds, d)
	}
	slices.SortFunc(ds, func(a, b *fdesc) int { return a.id - b.id })
	return ds
}

// ref is the descriptor an attribute names.
func (c *fakeCalls) ref(d *fdesc, attr int) *fdesc {
	v := d.attrs[attr]
	if len(v) != 1 {
		return nil
	}
	n, _ := strconv.Atoi(strings.TrimPrefix(v[0], "#"))
	return c.descs[n]
}

func (c *fakeCalls) graphs() []int {
	var ids []int
	for id := range c.graphOps {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// opName describes an operation: "matmul", "reshape", "reduction 3",
// "pointwise 501".
func (c *fakeCalls) opName(op *fdesc) string {
	switch op.typ {
	case descOpMatmul:
		return "matmul"
	case descOpReshape:
		return "reshape"
	case descOpReduction:
		return "reduction " + c.ref(op, attrOpReductionDesc).attrs[attrReductionOp][0]
	case descOpPointwise:
		return "pointwise " + c.ref(op, attrOpPWDesc).attrs[attrPointwiseMode][0]
	}
	return fmt.Sprint("type ", op.typ)
}

func uidOf(d *fdesc) int64 {
	if d == nil {
		return -1
	}
	u, _ := strconv.ParseInt(d.attrs[attrTensorUID][0], 10, 64)
	return u
}

func ints(t *testing.T, vs []string) []int64 {
	t.Helper()
	out := make([]int64, len(vs))
	for i, v := range vs {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			t.Fatalf("%q: %v", vs, err)
		}
		out[i] = n
	}
	return out
}

// A GQA shape with the engine's layouts: q (B·T, QC), k (B·T, KC), v inside
// qkv (B·T, QC+2KC), o and dout (B·T, QC), dq/dk/dv inside dqkv.
var gqa = SDPAShape{B: 2, T: 128, NH: 4, NKV: 2, HS: 64, LdQ: 256, LdK: 128, LdV: 512, LdO: 256,
	LdDQ: 512, LdDK: 512, LdDV: 512, Scale: 0.125}

func TestFakeSDPAGraph(t *testing.T) {
	path, log := fakeLib(t)
	l, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if l.VersionString() != "9.10.2" {
		t.Fatalf("version %s", l.VersionString())
	}
	h, err := l.NewHandle(0)
	if err != nil {
		t.Fatal(err)
	}
	a, err := NewSDPA(l, h, gqa)
	if err != nil {
		t.Fatal(err)
	}
	if a.Workspace() != 1<<20 {
		t.Errorf("workspace %d, want the plan's 1048576", a.Workspace())
	}
	if !strings.Contains(a.Describe(), "engine 7") {
		t.Errorf("Describe: %s", a.Describe())
	}
	fwd := FwdPtrs{Q: 0x1000, K: 0x2000, V: 0x3000, O: 0x4000, Stats: 0x5000}
	if err := a.Forward(fwd, 0x9000); err != nil {
		t.Fatal(err)
	}
	bwd := BwdPtrs{Q: 0x1000, K: 0x2000, V: 0x3000, O: 0x4000, Stats: 0x5000, DO: 0x6000, D: 0x7000, DQ: 0x8000, DK: 0x8100, DV: 0x8200}
	if err := a.Backward(bwd, 0x9000); err != nil {
		t.Fatal(err)
	}
	a.Close()
	c := readCalls(t, log)
	if !slices.Contains(c.lines, "set_stream (nil)") {
		t.Errorf("the handle is not set to the default stream")
	}

	// every descriptor made is finalized (the variant packs too) and destroyed
	destroyed := 0
	for _, l := range c.lines {
		if strings.HasPrefix(l, "destroy ") {
			destroyed++
		}
	}
	for _, d := range c.descs {
		if !d.finalized && d.typ != descEngineCfg && d.typ != descEngine {
			t.Errorf("descriptor #%d (type %d) not finalized", d.id, d.typ)
		}
	}
	if destroyed != len(c.descs) {
		t.Errorf("%d descriptors made, %d destroyed", len(c.descs), destroyed)
	}

	// the I/O tensors: dims, strides, types
	B, NH, NKV, T, HS := int64(2), int64(4), int64(2), int64(128), int64(64)
	io := []struct {
		uid              int64
		dims, strides    []int64
		dtype            string
		count            int // graphs it is in
		virtual, byValue string
	}{
		{UIDQ, []int64{B, NH, T, HS}, []int64{T * 256, HS, 256, 1}, "9", 2, "", ""},
		{UIDK, []int64{B, NKV, HS, T}, []int64{T * 128, HS, 1, 128}, "9", 2, "", ""}, // Kᵀ
		{UIDO, []int64{B, NH, T, HS}, []int64{T * 256, HS, 256, 1}, "9", 2, "", ""},
		{UIDStats, []int64{B, NH, T, 1}, []int64{NH * T, T, 1, 1}, "0", 2, "", ""},
		{UIDdO, []int64{B, NH, T, HS}, []int64{T * 256, HS, 256, 1}, "9", 1, "", ""},
		{UIDD, []int64{B, NH, T, 1}, []int64{NH * T, T, 1, 1}, "0", 1, "", ""},
		{UIDdQ, []int64{B, NH, T, HS}, []int64{T * 512, HS, 512, 1}, "9", 1, "", ""},
		{UIDdK, []int64{B, NKV, T, HS}, []int64{T * 512, HS, 512, 1}, "9", 1, "", ""},
		{UIDdV, []int64{B, NKV, T, HS}, []int64{T * 512, HS, 512, 1}, "9", 1, "", ""},
		{UIDScale, []int64{1, 1, 1, 1}, []int64{1, 1, 1, 1}, "0", 2, "", "1"},
		{UIDNegInf, []int64{1, 1, 1, 1}, []int64{1, 1, 1, 1}, "0", 2, "", "1"},
		{UIDOne, []int64{1, 1, 1, 1}, []int64{1, 1, 1, 1}, "0", 1, "", "1"},
	}
	for _, w := range io {
		ds := c.byUID[w.uid]
		if len(ds) != w.count {
			t.Errorf("uid %d: in %d graphs, want %d", w.uid, len(ds), w.count)
			continue
		}
		for _, d := range ds {
			if got := ints(t, d.attrs[attrTensorDims]); !slices.Equal(got, w.dims) {
				t.Errorf("uid %d dims %v, want %v", w.uid, got, w.dims)
			}
			if got := ints(t, d.attrs[attrTensorStrides]); !slices.Equal(got, w.strides) {
				t.Errorf("uid %d strides %v, want %v", w.uid, got, w.strides)
			}
			if got := d.attrs[attrTensorDataType][0]; got != w.dtype {
				t.Errorf("uid %d data type %s, want %s", w.uid, got, w.dtype)
			}
			if got := strings.Join(d.attrs[attrTensorVirtual], ""); got != w.virtual {
				t.Errorf("uid %d virtual %q, want %q (the flag set only when true, as cudnn-frontend does)", w.uid, got, w.virtual)
			}
			if bv := d.attrs[attrTensorByValue]; w.byValue != "" && (len(bv) != 1 || bv[0] != w.byValue) {
				t.Errorf("uid %d by value %v", w.uid, bv)
			}
			if got := d.attrs[attrTensorAlignment][0]; got != "16" {
				t.Errorf("uid %d alignment %s", w.uid, got)
			}
		}
	}
	// V: untransposed in the forward, Vᵀ in the backward
	vs := c.byUID[UIDV]
	if len(vs) != 2 || !slices.Equal(ints(t, vs[0].attrs[attrTensorDims]), []int64{B, NKV, T, HS}) ||
		!slices.Equal(ints(t, vs[1].attrs[attrTensorStrides]), []int64{T * 512, HS, 1, 512}) {
		t.Errorf("V tensors: %v / %v", vs[0].attrs, vs[1].attrs)
	}
	// no other non-virtual tensor: nothing (an fp32 dQ accumulator, say) needs memory of ours
	for u, ds := range c.byUID {
		for _, d := range ds {
			if u >= uidVirtual && strings.Join(d.attrs[attrTensorVirtual], "") != "1" {
				t.Errorf("tensor uid %d is not virtual", u)
			}
		}
	}

	gs := c.graphs()
	if len(gs) != 2 {
		t.Fatalf("%d operation graphs, want 2", len(gs))
	}
	count := func(g int) map[string]int {
		m := map[string]int{}
		for _, op := range c.graphOps[g] {
			m[c.opName(op)]++
		}
		return m
	}
	wantFwd := map[string]int{"matmul": 2, "reduction 3": 1, "reduction 0": 1, "pointwise 1": 1, "pointwise 501": 2,
		"pointwise 303": 1, "pointwise 601": 1, "pointwise 9": 1, "pointwise 13": 1, "pointwise 15": 1, "pointwise 0": 1,
		"pointwise 6": 1}
	if got := count(gs[0]); !maps(got, wantFwd) {
		t.Errorf("forward ops %v, want %v", got, wantFwd)
	}
	// backward, GQA: dV and dK each through a head-sum reduction
	wantBwd := map[string]int{"matmul": 5, "reshape": 3, "reduction 0": 3, "pointwise 1": 5, "pointwise 501": 2,
		"pointwise 303": 1, "pointwise 601": 1, "pointwise 9": 2, "pointwise 13": 1}
	if got := count(gs[1]); !maps(got, wantBwd) {
		t.Errorf("backward ops %v, want %v", got, wantBwd)
	}

	for gi, g := range gs {
		var matmulOut []int64
		for _, op := range c.graphOps[g] {
			name := c.opName(op)
			switch name {
			case "pointwise 501": // GEN_INDEX on the scores, axis 2 (rows) or 3 (columns), int32 out
				pw := c.ref(op, attrOpPWDesc)
				ax := pw.attrs[attrPointwiseAxis][0]
				y := c.ref(op, attrOpPWY)
				if (ax != "2" && ax != "3") || y.attrs[attrTensorDataType][0] != "4" ||
					!slices.Equal(ints(t, c.ref(op, attrOpPWX).attrs[attrTensorDims]), []int64{B, NH, T, T}) {
					t.Errorf("graph %d: GEN_INDEX axis %s out %v", gi, ax, y.attrs)
				}
			case "pointwise 303": // row ≥ column, boolean
				x, b := c.ref(op, attrOpPWX), c.ref(op, attrOpPWB)
				gen := func(d *fdesc) string {
					for _, o := range c.graphOps[g] {
						if c.ref(o, attrOpPWY) == d {
							return c.ref(o, attrOpPWDesc).attrs[attrPointwiseAxis][0]
						}
					}
					return "?"
				}
				if gen(x) != "2" || gen(b) != "3" || c.ref(op, attrOpPWDesc).attrs[attrPointwiseMathPrec][0] != "11" {
					t.Errorf("graph %d: the comparison is not row ≥ column in booleans", gi)
				}
			case "pointwise 601": // select: scores where kept, else -inf
				if uidOf(c.ref(op, attrOpPWB)) != UIDNegInf || c.ref(op, attrOpPWTDesc).attrs[attrTensorDataType][0] != "11" {
					t.Errorf("graph %d: the mask's select does not take -inf where the comparison fails", gi)
				}
			}
			if op.typ == descOpPointwise && (strings.Join(op.attrs[attrOpPWAlpha1], "") != "1" || strings.Join(op.attrs[attrOpPWAlpha2], "") != "1") {
				t.Errorf("graph %d: pointwise alphas %v %v, want 1 1", gi, op.attrs[attrOpPWAlpha1], op.attrs[attrOpPWAlpha2])
			}
			switch name {
			case "pointwise 1":
				if x, b := uidOf(c.ref(op, attrOpPWX)), uidOf(c.ref(op, attrOpPWB)); b == UIDScale && x < uidVirtual {
					t.Errorf("graph %d: scale applied to tensor %d", gi, x)
				}
			case "matmul":
				if c.ref(op, attrOpMatmulDesc).attrs[attrMatmulCompType][0] != "0" {
					t.Errorf("graph %d: matmul not accumulating in fp32", gi)
				}
				matmulOut = append(matmulOut, uidOf(c.ref(op, attrOpMatmulC)))
			}
		}
		if gi == 0 && !slices.Contains(matmulOut, UIDO) {
			t.Errorf("forward: no matmul writes O (%v)", matmulOut)
		}
		if gi == 1 && !slices.Contains(matmulOut, UIDdQ) {
			t.Errorf("backward: dQ is not written by a matmul straight from dS (deterministic form): %v", matmulOut)
		}
	}
	// stats = max + log(sum): the ADD writing Stats
	for _, op := range c.graphOps[gs[0]] {
		if c.opName(op) == "pointwise 0" && uidOf(c.ref(op, attrOpPWY)) != UIDStats {
			t.Errorf("forward: the ADD does not write Stats")
		}
	}
	// the backward's virtual tensors as cudnn-frontend's
	// CompositeSDPABackwardNode::expand_node declares them: dO∘O with its
	// strides {h·s·d, s·d, h·d, 1}; the transposes Pᵀ and dSᵀ ({b, h, s_kv,
	// s_q}, strides {h·s·s, s·s, 1, s}) and K (Kᵀ's dims and strides swapped
	// back) in bf16; the GQA full-head products in bf16, packed
	for _, op := range c.graphOps[gs[1]] {
		name, y := c.opName(op), (*fdesc)(nil)
		switch name {
		case "pointwise 1":
			y = c.ref(op, attrOpPWY)
			if uidOf(c.ref(op, attrOpPWX)) != UIDdO || uidOf(c.ref(op, attrOpPWB)) != UIDO {
				continue
			}
			if got := ints(t, y.attrs[attrTensorStrides]); !slices.Equal(got, []int64{NH * T * HS, T * HS, NH * HS, 1}) ||
				y.attrs[attrTensorDataType][0] != "0" {
				t.Errorf("dO∘O: strides %v, type %s", got, y.attrs[attrTensorDataType][0])
			}
		case "reshape":
			y = c.ref(op, attrOpReshapeY)
			x := c.ref(op, attrOpReshapeX)
			want := []int64{NH * T * T, T * T, 1, T} // Pᵀ, dSᵀ
			if uidOf(x) == UIDK {
				want = []int64{T * 128, HS, 128, 1}
			}
			if got := ints(t, y.attrs[attrTensorStrides]); !slices.Equal(got, want) || y.attrs[attrTensorDataType][0] != "9" {
				t.Errorf("reshape of uid %d: strides %v, want %v, type %s, want bf16", uidOf(x), got, want, y.attrs[attrTensorDataType][0])
			}
		case "matmul":
			y = c.ref(op, attrOpMatmulC)
			if uidOf(y) >= uidVirtual && (y.attrs[attrTensorDataType][0] != "9" ||
				!slices.Equal(ints(t, y.attrs[attrTensorDims]), []int64{B, NH, T, HS})) {
				if d := ints(t, y.attrs[attrTensorDims]); d[3] == HS { // the head-sum products
					t.Errorf("full-head product %v type %s, want bf16", d, y.attrs[attrTensorDataType][0])
				}
			}
		}
	}
	// heuristics mode A, a plan per graph
	heurs := 0
	for _, d := range c.descs {
		if d.typ == descEngineHeur {
			heurs++
			if d.attrs[attrEngineHeurMode][0] != "3" {
				t.Errorf("heuristics mode %v", d.attrs[attrEngineHeurMode])
			}
		}
	}
	if heurs != 2 || c.created[descExecPlan] != 2 {
		t.Errorf("%d heuristics, %d plans; want 2 and 2", heurs, c.created[descExecPlan])
	}

	// the variant packs: our pointers, the workspace, the by-value scalars
	if len(c.binds) != 2 {
		t.Fatalf("%d executes, want 2", len(c.binds))
	}
	wantF := []string{"1 0x1000", "2 0x2000", "3 0x3000", "4 0x4000", "5 0x5000"}
	wantB := []string{"1 0x1000", "2 0x2000", "3 0x3000", "4 0x4000", "5 0x5000", "6 0x6000", "10 0x7000", "7 0x8000", "8 0x8100", "9 0x8200"}
	for i, want := range [][]string{wantF, wantB} {
		got := c.binds[i]
		if !slices.Equal(got[:len(want)], want) {
			t.Errorf("execute %d binds %q, want %q first", i, got, want)
		}
		scalars := strings.Join(got[len(want):], ";")
		if !strings.Contains(scalars, "11 0x") || !strings.Contains(scalars, "= 0.125") || !strings.Contains(scalars, "12 0x") ||
			!strings.Contains(scalars, "= -inf") {
			t.Errorf("execute %d: scale 1/8 and -inf not passed by value: %q", i, scalars)
		}
	}
	for _, d := range c.descs {
		if d.typ == descVariantPack && d.attrs[attrVPWorkspace][0] != "0x9000" {
			t.Errorf("workspace %v", d.attrs[attrVPWorkspace])
		}
	}
}

func maps(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// MHA (NKV = NH): dK and dV straight from their matmuls, no head sums.
func TestFakeSDPAMHA(t *testing.T) {
	path, log := fakeLib(t)
	l, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	s := gqa
	s.NKV, s.LdK, s.LdV, s.LdDQ, s.LdDK, s.LdDV = 4, 256, 768, 768, 768, 768
	a, err := NewSDPA(l, 0, s)
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	c := readCalls(t, log)
	var reds, mms []int64
	for _, op := range c.graphOps[c.graphs()[1]] {
		switch c.opName(op) {
		case "reduction 0":
			reds = append(reds, uidOf(c.ref(op, attrOpReductionY)))
		case "matmul":
			mms = append(mms, uidOf(c.ref(op, attrOpMatmulC)))
		}
	}
	if len(reds) != 1 || reds[0] < uidVirtual {
		t.Errorf("MHA backward: reductions into %v, want only rowsum(dO∘O)", reds)
	}
	for _, u := range []int64{UIDdQ, UIDdK, UIDdV} {
		if !slices.Contains(mms, u) {
			t.Errorf("MHA backward: no matmul writes uid %d (%v)", u, mms)
		}
	}
}

func TestFakeRefusedConfig(t *testing.T) {
	path, _ := fakeLib(t, "FAKE_CUDNN_REFUSE_PLANS=1", "FAKE_CUDNN_WS=4096")
	l, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	a, err := NewSDPA(l, 0, gqa)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if !strings.Contains(a.Describe(), "fwd engine 8, workspace 4096 B, 1 configs refused") || a.Workspace() != 4096 {
		t.Errorf("the first config refused: want the second; %s, workspace %d", a.Describe(), a.Workspace())
	}
}

// An engine cuDNN marks non-deterministic is passed over while an unmarked
// one takes the graph; if every engine is marked, the first marked one that
// takes it is used, and said so; if none takes it, the error lists them.
func TestFakeSkipsNondeterministic(t *testing.T) {
	path, _ := fakeLib(t, "FAKE_CUDNN_NONDET=1")
	l, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	a, err := NewSDPA(l, 0, gqa)
	if err != nil {
		t.Fatal(err)
	}
	if d := a.Describe(); !strings.Contains(d, "fwd engine 8, workspace 1048576 B, 1 non-deterministic passed over; bwd engine 8") ||
		a.MarkedNondeterministic() {
		t.Errorf("Describe: %s (marked %v)", d, a.MarkedNondeterministic())
	}
	a.Close()
	path, _ = fakeLib(t, "FAKE_CUDNN_NONDET=2")
	if l, err = Load(path); err != nil {
		t.Fatal(err)
	}
	if a, err = NewSDPA(l, 0, gqa); err != nil {
		t.Fatal(err)
	}
	if d := a.Describe(); !strings.Contains(d, "fwd engine 7, workspace 1048576 B, marked non-deterministic by cuDNN") ||
		!a.MarkedNondeterministic() {
		t.Errorf("every engine marked: Describe: %s (marked %v)", d, a.MarkedNondeterministic())
	}
	a.Close()
	path, _ = fakeLib(t, "FAKE_CUDNN_NONDET=2", "FAKE_CUDNN_REFUSE_PLANS=99")
	if l, err = Load(path); err != nil {
		t.Fatal(err)
	}
	if _, err := NewSDPA(l, 0, gqa); err == nil || !strings.Contains(err.Error(), "no cuDNN engine takes the graph (engine 7 is marked non-deterministic; engine 8 is marked non-deterministic") ||
		!strings.Contains(err.Error(), "fake: config refused") {
		t.Errorf("got %v", err)
	}
}

func TestFakeNoEngine(t *testing.T) {
	path, _ := fakeLib(t, "FAKE_CUDNN_CONFIGS=1", "FAKE_CUDNN_REFUSE_PLANS=9")
	l, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = NewSDPA(l, 0, gqa)
	if err == nil || !strings.Contains(err.Error(), "forward: no cuDNN engine takes the graph") ||
		!strings.Contains(err.Error(), "fake: config refused") {
		t.Fatalf("got %v", err)
	}
}

func TestFakeFailureNamesCall(t *testing.T) {
	path, _ := fakeLib(t, fmt.Sprintf("FAKE_CUDNN_FAIL_FINALIZE=%d", descOpMatmul))
	l, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = NewSDPA(l, 0, gqa)
	want := "cudnn sdpa B=2 T=128 NH=4 NKV=2 HS=64: cudnnBackendFinalize (operation matmul Q·Kᵀ): " +
		"CUDNN_STATUS_NOT_SUPPORTED_GRAPH_PATTERN: fake: no engine for this graph pattern (descriptor type 19)"
	if err == nil || err.Error() != want {
		t.Fatalf("got  %v\nwant %s", err, want)
	}
	var ce *CallError
	if !errors.As(err, &ce) || ce.Status != 3001 {
		t.Fatalf("not a CallError with the status: %#v", err)
	}
}

func TestVersionGate(t *testing.T) {
	path, _ := fakeLib(t, "FAKE_CUDNN_VERSION=8906")
	_, err := Load(path)
	if err == nil || !strings.Contains(err.Error(), "cuDNN 8.9.6, olmolab needs 9.0.0 or later") {
		t.Fatalf("got %v", err)
	}
}

// Before 9.10 cudnn-frontend masks with the lowest float instead of -inf.
func TestNegInfBefore910(t *testing.T) {
	path, log := fakeLib(t, "FAKE_CUDNN_VERSION=90800")
	l, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	a, err := NewSDPA(l, 0, gqa)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Forward(FwdPtrs{1, 2, 3, 4, 5}, 6); err != nil {
		t.Fatal(err)
	}
	a.Close()
	c := readCalls(t, log)
	if !strings.Contains(strings.Join(c.binds[0], ";"), "12 0x") || !strings.Contains(strings.Join(c.binds[0], ";"), "= -3.40282e+38") {
		t.Errorf("binds %q", c.binds[0])
	}
}

func TestLoadMissing(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "libcudnn.so.9"))
	if err == nil || !strings.Contains(err.Error(), "libcudnn.so.9") {
		t.Fatalf("got %v", err)
	}
}

func TestRunRefusesNull(t *testing.T) {
	path, _ := fakeLib(t)
	l, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	a, err := NewSDPA(l, 0, gqa)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := a.Forward(FwdPtrs{Q: 1, K: 2, V: 3, O: 4}, 5); err == nil || !strings.Contains(err.Error(), "null pointer for uid 5") {
		t.Errorf("got %v", err)
	}
	if err := a.Forward(FwdPtrs{1, 2, 3, 4, 5}, 0); err == nil || !strings.Contains(err.Error(), "workspace") {
		t.Errorf("got %v", err)
	}
}

// The versions and shapes cudnn-frontend refuses or works around are refused
// by name before any descriptor is made (versionRefuses).
func TestVersionRefuses(t *testing.T) {
	for _, c := range []struct {
		ver  string
		T    int
		want string // "" builds
	}{
		{"91000", 128, "cuDNN 9.10.0 has known bugs"},
		{"91001", 128, "cuDNN 9.10.1 has known bugs"},
		{"91002", 128, ""},
		{"91002", 200, "needs T a multiple of 128"},
		{"91500", 4000, "needs T a multiple of 128"},
		{"91501", 200, ""},
		{"90800", 256, ""},
	} {
		path, log := fakeLib(t, "FAKE_CUDNN_VERSION="+c.ver)
		l, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		s := gqa
		s.T = c.T
		a, err := NewSDPA(l, 0, s)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s T=%d: %v", c.ver, c.T, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s T=%d: got %v, want %q", c.ver, c.T, err, c.want)
		case c.want != "":
			if _, err := os.Stat(log); err != nil { // the fake logged nothing
				break
			}
			if calls := readCalls(t, log); len(calls.descs) != 0 {
				t.Errorf("%s T=%d: %d descriptors made before the refusal", c.ver, c.T, len(calls.descs))
			}
		}
		if a != nil {
			a.Close()
		}
	}
}

// Refuses tells a refusal of the rows (a *RowsError: the same cuDNN takes
// other T, so the engine may run its own kernels there) from one of the
// version or of the shape itself, before any descriptor is made.
func TestRefusesRows(t *testing.T) {
	for _, c := range []struct {
		ver  string
		T    int
		HS   int
		want string // "" takes it
		rows bool
	}{
		{"9.10.2", 200, 64, "needs T a multiple of 128", true},
		{"9.15.0", 4000, 64, "needs T a multiple of 128", true},
		{"9.15.1", 200, 64, "", false},
		{"9.10.2", 4096, 64, "", false},
		{"9.10.2", 1, 64, "refuses one row", true},
		{"9.10.0", 4096, 64, "known bugs", false},
		{"9.10.1", 200, 64, "known bugs", false},
		{"9.15.1", 128, 60, "bad shape", false},
	} {
		s := gqa
		s.T, s.HS = c.T, c.HS
		err := Refuses(c.ver, s)
		var re *RowsError
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s T=%d: %v", c.ver, c.T, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s T=%d: got %v, want %q", c.ver, c.T, err, c.want)
		case errors.As(err, &re) != c.rows:
			t.Errorf("%s T=%d HS=%d: %v: a refusal of the rows %v, want %v", c.ver, c.T, c.HS, err, !c.rows, c.rows)
		}
	}
}
