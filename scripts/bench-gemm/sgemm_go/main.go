// Command sgemm_go prints the GFLOP/s of olmolab's gemm.Sgemm the same way
// sgemm_openblas.c measures cblas_sgemm: square n, row-major, one warm-up
// call, then the median of reps samples, each repeating the product until it
// has done ≥ 5 GFLOP. Threads: GOMAXPROCS.
//
//	go run ./scripts/bench-gemm/sgemm_go N REPS [NN|NT|TN]
package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/olmolab/olmolab/model/gemm"
)

func main() {
	n, reps, layout := 1024, 5, "NN"
	if len(os.Args) > 1 {
		n, _ = strconv.Atoi(os.Args[1])
	}
	if len(os.Args) > 2 {
		reps, _ = strconv.Atoi(os.Args[2])
	}
	if len(os.Args) > 3 {
		layout = os.Args[3]
	}
	ta, tb := layout[0] == 'T', layout[1] == 'T'
	a, b, c := make([]float32, n*n), make([]float32, n*n), make([]float32, n*n)
	for i := range a {
		a[i] = rand.Float32() - 0.5
		b[i] = rand.Float32() - 0.5
	}
	gemm.Sgemm(ta, tb, n, n, n, 1, a, n, b, n, 0, c, n)
	flops := 2 * float64(n) * float64(n) * float64(n)
	inner := 1
	for float64(inner)*flops < 5e9 {
		inner *= 2
	}
	g := make([]float64, reps)
	for r := range g {
		t0 := time.Now()
		for range inner {
			gemm.Sgemm(ta, tb, n, n, n, 1, a, n, b, n, 0, c, n)
		}
		g[r] = flops * float64(inner) / time.Since(t0).Seconds() / 1e9
	}
	slices.Sort(g)
	fmt.Printf("%.1f\n", g[reps/2])
	fmt.Fprintf(os.Stderr, "kernel %s\n", gemm.Kernel())
}
