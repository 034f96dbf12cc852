package plural

import (
	"fmt"
	"testing"
)

func TestN(t *testing.T) {
	for _, c := range []struct {
		n    int
		noun string
		want string
	}{
		{1, "run", "1 run"},
		{0, "run", "0 runs"},
		{2, "run", "2 runs"},
		{-1, "step", "-1 steps"},
		{1, "token file", "1 token file"},
		{3, "token file", "3 token files"},
		{2, "pass", "2 passes"},
		{2, "batch", "2 batches"},
		{2, "entry", "2 entries"},
		{2, "day", "2 days"},
		{1, "", "1 "},
	} {
		if got := N(c.n, c.noun); got != c.want {
			t.Errorf("N(%d, %q) = %q, want %q", c.n, c.noun, got, c.want)
		}
	}
}

func ExampleN() {
	fmt.Println(N(1, "run"), "·", N(3, "run"), "·", fmt.Sprintf("%d of %s", 1, N(1, "file")))
	// Output: 1 run · 3 runs · 1 of 1 file
}
