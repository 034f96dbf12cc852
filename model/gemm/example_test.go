package gemm_test

import (
	"fmt"

	"github.com/olmolab/olmolab/model/gemm"
)

// A Linear layer's forward pass, y = x·Wᵀ, with the weight stored [out, in].
func ExampleSgemm() {
	x := []float32{ // (2 tokens, 3 in)
		1, 2, 3,
		4, 5, 6,
	}
	w := []float32{ // (2 out, 3 in)
		1, 0, 0,
		0, 1, 1,
	}
	y := make([]float32, 2*2) // (2 tokens, 2 out)
	gemm.Sgemm(false, true, 2, 2, 3, 1, x, 3, w, 3, 0, y, 2)
	fmt.Println(y)
	// Output: [1 5 4 11]
}

// Attention scores for 2 heads at once: S_h = Q_h·K_hᵀ, each (T, T) from (T, hd).
func ExampleSgemmStridedBatched() {
	const heads, T, hd = 2, 2, 2
	q := []float32{1, 0, 0, 1, 2, 0, 0, 2} // (heads, T, hd)
	k := []float32{1, 1, 1, 0, 1, 1, 0, 1} // (heads, T, hd)
	s := make([]float32, heads*T*T)        // (heads, T, T)
	gemm.SgemmStridedBatched(false, true, T, T, hd, 1, q, hd, T*hd, k, hd, T*hd, 0, s, T, T*T, heads)
	fmt.Println(s)
	// Output: [1 1 1 0 2 0 2 2]
}
