package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
)

// withArch runs f once for every kernel this machine can run (forcing it as
// the current one), plus a copy of each with tiny blocks so that small shapes
// cross every block boundary (several kc, nc and mc blocks, both B buffers).
// The tiny-block runs also send every non-tiny product down the parallel
// path (the normal threshold keeps test-sized products serial).
func withArch(t *testing.T, f func(t *testing.T)) {
	saved, savedMin := current.Load(), parallelMinFlops
	defer func() { current.Store(saved); parallelMinFlops = savedMin }()
	for _, a := range availableArches() {
		small := *a
		small.name += "-smallblocks"
		small.kc = 24 // one 16-wide assembly packing step plus a Go remainder
		small.nc = 3 * a.nr
		small.mc = 2 * a.mr
		if a.narrow != nil {
			sn := *a.narrow
			sn.kc, sn.nc, sn.mc = small.kc, 3*sn.nr, 2*sn.mr
			small.narrow = &sn
		}
		current.Store(a)
		parallelMinFlops = savedMin
		t.Run(a.name, f)
		current.Store(&small)
		parallelMinFlops = 0
		t.Run(small.name, f)
	}
}

// ref computes alpha·op(A)·op(B) + beta·C in float64 and, per element, the
// error bound |alpha|·Σ|a||b| + |beta|·|c| that float32 rounding is measured
// against.
func ref(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) (want, bound []float64) {
	want = make([]float64, m*n)
	bound = make([]float64, m*n)
	for i := range m {
		for j := range n {
			var s, sa float64
			for p := range k {
				var av, bv float32
				if transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if transB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += float64(av) * float64(bv)
				sa += math.Abs(float64(av) * float64(bv))
			}
			w := float64(alpha) * s
			bd := math.Abs(float64(alpha)) * sa
			if beta != 0 {
				w += float64(beta) * float64(c[i*ldc+j])
				bd += math.Abs(float64(beta) * float64(c[i*ldc+j]))
			}
			want[i*n+j], bound[i*n+j] = w, bd
		}
	}
	return want, bound
}

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64())
	}
	return s
}

type gemmCase struct {
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	pad            int // extra elements per row in lda, ldb, ldc
}

func (tc gemmCase) String() string {
	l := map[bool]string{false: "N", true: "T"}
	return fmt.Sprintf("%s%s_%dx%dx%d_a%g_b%g_pad%d", l[tc.transA], l[tc.transB], tc.m, tc.n, tc.k, tc.alpha, tc.beta, tc.pad)
}

// check runs one product through Sgemm (or, with batch > 0, through
// SgemmStridedBatched) and compares every element with the float64 reference,
// reporting the first differences and the largest relative error.
func check(t *testing.T, r *rand.Rand, tc gemmCase, batch int) {
	t.Helper()
	ar, ac := tc.m, tc.k
	if tc.transA {
		ar, ac = tc.k, tc.m
	}
	br, bc := tc.k, tc.n
	if tc.transB {
		br, bc = tc.n, tc.k
	}
	lda, ldb, ldc := ac+tc.pad, bc+tc.pad, tc.n+tc.pad
	sa, sb, sc := max(ar*lda, 1), max(br*ldb, 1), tc.m*ldc
	nb := max(batch, 1)
	a := randSlice(r, sa*nb)
	b := randSlice(r, sb*nb)
	c := randSlice(r, sc*nb)
	if tc.beta == 0 {
		for i := range c {
			c[i] = float32(math.NaN()) // beta = 0 must not read C
		}
	}
	c0 := append([]float32(nil), c...)
	if batch > 0 {
		SgemmStridedBatched(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, sa, b, ldb, sb, tc.beta, c, ldc, sc, batch)
	} else {
		Sgemm(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, c, ldc)
	}
	const eps = 1.0 / (1 << 23)
	for q := range nb {
		want, bound := ref(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a[q*sa:], lda, b[q*sb:], ldb, tc.beta, c0[q*sc:], ldc)
		bad, worst := 0, 0.0
		for i := range tc.m {
			for j := range tc.n {
				got := float64(c[q*sc+i*ldc+j])
				w, bd := want[i*tc.n+j], bound[i*tc.n+j]
				tol := 2*float64(tc.k+2)*eps*bd + 1e-30
				d := math.Abs(got - w)
				if bd > 0 {
					worst = max(worst, d/bd)
				}
				if !(d <= tol) {
					if bad < 3 {
						t.Errorf("%v batch %d: C[%d,%d] = %g, want %g (diff %.3g, tol %.3g)", tc, q, i, j, got, w, d, tol)
					}
					bad++
				}
			}
			// Padding between rows of C must be untouched.
			for j := tc.n; j < ldc && i < tc.m-1; j++ {
				if x, y := c[q*sc+i*ldc+j], c0[q*sc+i*ldc+j]; x != y && !(x != x && y != y) {
					t.Fatalf("%v: padding C[%d,%d] changed", tc, i, j)
				}
			}
		}
		if bad > 0 {
			t.Fatalf("%v batch %d: %d of %d elements wrong; max error %.3g of the bound", tc, q, bad, tc.m*tc.n, worst)
		}
	}
}

func TestSgemm(t *testing.T) {
	shapes := [][3]int{
		{1, 1, 1}, {3, 5, 7}, {17, 33, 65}, {127, 129, 131}, {1, 64, 64}, {64, 1, 64},
		{40, 40, 0}, {33, 17, 300},
		{17, 300, 500},             // few rows, many columns: parallel column split
		{100, 16, 64}, {45, 9, 70}, // narrow C: the 16-column kernel where there is one
	}
	ab := [][2]float32{{1, 0}, {1, 1}, {0.5, -2}, {-1.5, 0}, {0, 0.5}}
	withArch(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(1, 2))
		for _, s := range shapes {
			for _, ta := range []bool{false, true} {
				for _, tb := range []bool{false, true} {
					for i, v := range ab {
						tc := gemmCase{transA: ta, transB: tb, m: s[0], n: s[1], k: s[2], alpha: v[0], beta: v[1], pad: i % 2 * 3}
						check(t, r, tc, 0)
					}
				}
			}
		}
	})
}

func TestSgemmStridedBatched(t *testing.T) {
	withArch(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(3, 4))
		for _, tc := range []gemmCase{
			{false, true, 16, 16, 4, 1, 0, 0},     // tiny heads: naive path
			{false, true, 33, 33, 24, 0.25, 0, 1}, // scores Q·Kᵀ
			{false, false, 33, 24, 33, 1, 1, 0},   // probabilities · V
			{true, false, 70, 64, 96, 1, 1, 2},    // big enough to pack
		} {
			check(t, r, tc, 7)
		}
		check(t, r, gemmCase{false, false, 150, 140, 130, 1, 0.5, 0}, 2)
	})
}

// TestConcurrent calls Sgemm from several goroutines at once: one gets the
// pool, the others must run on their own without corrupting each other.
func TestConcurrent(t *testing.T) {
	defer func(v float64) { parallelMinFlops = v }(parallelMinFlops)
	parallelMinFlops = 0 // every call wants the pool
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 9))
			for range 3 {
				check(t, r, gemmCase{false, true, 100, 90, 250, 1, 0.5, 1}, 0)
			}
		}()
	}
	wg.Wait()
}

// TestNegativeZeroBeta: beta = -0 means beta = 0, so C (NaN here) is not read.
func TestNegativeZeroBeta(t *testing.T) {
	withArch(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(7, 8))
		m, n, k := 40, 50, 60
		a, b := randSlice(r, m*k), randSlice(r, k*n)
		c := make([]float32, m*n)
		for i := range c {
			c[i] = float32(math.NaN())
		}
		Sgemm(false, false, m, n, k, 1, a, k, b, n, float32(math.Copysign(0, -1)), c, n)
		for i, v := range c {
			if v != v {
				t.Fatalf("C[%d] is NaN: beta = -0 read C", i)
			}
		}
	})
}

func TestShapePanics(t *testing.T) {
	a := make([]float32, 6)
	for _, f := range []func(){
		func() { Sgemm(false, false, 2, 3, 4, 1, a, 4, a, 3, 0, a, 3) },    // A too short
		func() { Sgemm(false, false, -1, 3, 1, 1, a, 1, a, 3, 0, a, 3) },   // negative m
		func() { Sgemm(false, false, 2, 3, 1, 1, a, 1, a, 3, 0, a, 2) },    // ldc < n
		func() { Sgemm(false, true, 2, 3, 2, 1, a, 2, a, 2, 0, a[:5], 3) }, // C too short
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			f()
		}()
	}
}

// TestNoAllocs: once warmed up, neither the serial path, the parallel path nor
// a batch allocates.
func TestNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	defer func(v float64) { parallelMinFlops = v }(parallelMinFlops)
	parallelMinFlops = 1e6 // 40³ serial, the others parallel (rows, columns)
	r := rand.New(rand.NewPCG(5, 6))
	for _, s := range [][3]int{{40, 40, 40}, {256, 256, 256}, {8, 512, 1024}} {
		m, n, k := s[0], s[1], s[2]
		a, b, c := randSlice(r, m*k), randSlice(r, k*n), randSlice(r, m*n)
		f := func() { Sgemm(false, true, m, n, k, 1, a, k, b, k, 1, c, n) }
		f()
		if got := testing.AllocsPerRun(20, f); got != 0 {
			t.Errorf("%v: %v allocations per call, want 0", s, got)
		}
	}
	a, b, c := randSlice(r, 8*32*16), randSlice(r, 8*32*16), randSlice(r, 8*32*32)
	f := func() {
		SgemmStridedBatched(false, true, 32, 32, 16, 1, a, 16, 32*16, b, 16, 32*16, 0, c, 32, 32*32, 8)
	}
	f()
	if got := testing.AllocsPerRun(20, f); got != 0 {
		t.Errorf("batched: %v allocations per call, want 0", got)
	}
}

func TestKernelName(t *testing.T) {
	t.Logf("kernel %s, GOMAXPROCS %d, available %d", Kernel(), runtime.GOMAXPROCS(0), len(availableArches()))
}
