package olmes

import (
	"slices"
	"testing"
)

// TestPyRandomSample checks random.Random(1234).sample(range(n), 1000)[:8] against CPython for the sizes OLMES
// samples (olmes.md §3; the same orders are the doc orders of the shipped rc_5shot dumps). n ≤ 4117 takes
// Python's pool branch, HellaSwag's 10042 the set branch.
func TestPyRandomSample(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want []int
	}{
		{1838, []int{1593, 902, 239, 15, 185, 1652, 1192, 71}},       // PIQA validation
		{1954, []int{1593, 902, 239, 15, 185, 1865, 1930, 1923}},     // SIQA validation
		{3270, []int{3187, 1805, 478, 30, 371, 2384, 143, 2750}},     // BoolQ validation
		{2376, []int{1805, 478, 30, 371, 143, 343, 403, 1452}},       // ARC-Easy test
		{10042, []int{7220, 1914, 122, 1485, 9539, 572, 1375, 1612}}, // HellaSwag validation
	} {
		got := NewPyRandom(1234).Sample(tc.n, 1000)
		if !slices.Equal(got[:8], tc.want) {
			t.Errorf("n=%d: got %v, want %v", tc.n, got[:8], tc.want)
		}
		seen := map[int]bool{}
		for _, j := range got {
			if j < 0 || j >= tc.n || seen[j] {
				t.Fatalf("n=%d: index %d out of range or repeated", tc.n, j)
			}
			seen[j] = true
		}
	}
}

// TestPyRandomStream checks the raw generator and its helpers against values printed by CPython 3.
func TestPyRandomStream(t *testing.T) {
	r := NewPyRandom(1234)
	for i, want := range []uint64{4150886329, 3342196574, 1892932127} {
		if got := r.GetRandBits(32); got != want {
			t.Errorf("Random(1234).getrandbits(32) #%d = %d, want %d", i, got, want)
		}
	}
	for _, tc := range []struct {
		seed int64
		want uint64
	}{{0, 3626764237}, {1 << 32, 485306839}, {-7, 1390851128}, {1<<40 + 5, 2166296868}} {
		if got := NewPyRandom(tc.seed).GetRandBits(32); got != tc.want {
			t.Errorf("Random(%d).getrandbits(32) = %d, want %d", tc.seed, got, tc.want)
		}
	}
	r = NewPyRandom(42)
	if got := r.Random(); got != 0.6394267984578837 {
		t.Errorf("Random(42).random() = %v", got)
	}
	if got := r.GetRandBits(40); got != 811856239313 {
		t.Errorf("getrandbits(40) = %d", got)
	}
	if got := r.RandBelow(1000); got != 281 {
		t.Errorf("randrange(1000) = %d", got)
	}
	r = NewPyRandom(1234)
	if got := r.Sample(10, 10); !slices.Equal(got, []int{7, 1, 0, 9, 4, 6, 5, 3, 8, 2}) {
		t.Errorf("sample(range(10), 10) = %v", got)
	}
	if got := r.Random(); got != 0.017428048184618405 {
		t.Errorf("random() after sample = %v", got)
	}
	x := []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}
	NewPyRandom(7).Shuffle(len(x), func(i, j int) { x[i], x[j] = x[j], x[i] })
	if !slices.Equal(x, []int{8, 3, 1, 4, 7, 0, 9, 6, 2, 5}) {
		t.Errorf("Random(7).shuffle = %v", x)
	}
}
