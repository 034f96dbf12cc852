package olmes

import (
	"fmt"
	"math"
	"math/bits"
)

// PyRandom reproduces CPython's random.Random exactly (Modules/_randommodule.c and Lib/random.py): MT19937 seeded
// by init_by_array with the 32-bit words of |seed|, getrandbits, _randbelow by rejection, and sample. OLMES picks
// its 1000-instance subsets with random.Random(1234).sample(docs, 1000) (olmes.md §3), so the order matters as much
// as the set.
type PyRandom struct {
	mt  [mtN]uint32
	idx int
}

const (
	mtN         = 624
	mtM         = 397
	mtMatrixA   = 0x9908b0df
	mtUpperMask = 0x80000000
	mtLowerMask = 0x7fffffff
)

// NewPyRandom returns the generator random.Random(seed) would be.
func NewPyRandom(seed int64) *PyRandom {
	r := &PyRandom{}
	r.Seed(seed)
	return r
}

// Seed is random.seed(n) for an int n: the key is |n| split into 32-bit words, least significant first ([0] for 0).
func (r *PyRandom) Seed(seed int64) {
	u := uint64(seed)
	if seed < 0 {
		u = uint64(-seed) // |MinInt64| wraps to itself, which is 2^63 as an unsigned value: correct.
	}
	key := []uint32{uint32(u)}
	if hi := uint32(u >> 32); hi != 0 {
		key = append(key, hi)
	}
	r.initByArray(key)
}

func (r *PyRandom) initGenrand(s uint32) {
	r.mt[0] = s
	for i := 1; i < mtN; i++ {
		r.mt[i] = 1812433253*(r.mt[i-1]^(r.mt[i-1]>>30)) + uint32(i)
	}
	r.idx = mtN
}

func (r *PyRandom) initByArray(key []uint32) {
	r.initGenrand(19650218)
	i, j := 1, 0
	k := max(mtN, len(key))
	for ; k > 0; k-- {
		r.mt[i] = (r.mt[i] ^ ((r.mt[i-1] ^ (r.mt[i-1] >> 30)) * 1664525)) + key[j] + uint32(j)
		i++
		j++
		if i >= mtN {
			r.mt[0] = r.mt[mtN-1]
			i = 1
		}
		if j >= len(key) {
			j = 0
		}
	}
	for k = mtN - 1; k > 0; k-- {
		r.mt[i] = (r.mt[i] ^ ((r.mt[i-1] ^ (r.mt[i-1] >> 30)) * 1566083941)) - uint32(i)
		i++
		if i >= mtN {
			r.mt[0] = r.mt[mtN-1]
			i = 1
		}
	}
	r.mt[0] = 0x80000000
}

// Uint32 is genrand_uint32: the next tempered MT19937 output.
func (r *PyRandom) Uint32() uint32 {
	if r.idx >= mtN {
		var kk int
		for kk = 0; kk < mtN-mtM; kk++ {
			y := (r.mt[kk] & mtUpperMask) | (r.mt[kk+1] & mtLowerMask)
			r.mt[kk] = r.mt[kk+mtM] ^ (y >> 1) ^ ((y & 1) * mtMatrixA)
		}
		for ; kk < mtN-1; kk++ {
			y := (r.mt[kk] & mtUpperMask) | (r.mt[kk+1] & mtLowerMask)
			r.mt[kk] = r.mt[kk+(mtM-mtN)] ^ (y >> 1) ^ ((y & 1) * mtMatrixA)
		}
		y := (r.mt[mtN-1] & mtUpperMask) | (r.mt[0] & mtLowerMask)
		r.mt[mtN-1] = r.mt[mtM-1] ^ (y >> 1) ^ ((y & 1) * mtMatrixA)
		r.idx = 0
	}
	y := r.mt[r.idx]
	r.idx++
	y ^= y >> 11
	y ^= (y << 7) & 0x9d2c5680
	y ^= (y << 15) & 0xefc60000
	y ^= y >> 18
	return y
}

// GetRandBits is random.getrandbits(k) for 0 ≤ k ≤ 64: 32-bit words, least significant first, the last one
// shifted right to keep its top bits.
func (r *PyRandom) GetRandBits(k int) uint64 {
	if k < 0 || k > 64 {
		panic(fmt.Sprintf("olmes: getrandbits(%d) outside [0,64]", k))
	}
	if k == 0 {
		return 0
	}
	if k <= 32 {
		return uint64(r.Uint32() >> (32 - k))
	}
	lo := uint64(r.Uint32())
	hi := uint64(r.Uint32() >> (64 - k))
	return lo | hi<<32
}

// RandBelow is Random._randbelow_with_getrandbits(n): draws of n.bit_length() bits until one is below n.
// It panics if n ≤ 0.
func (r *PyRandom) RandBelow(n int) int {
	if n <= 0 {
		panic(fmt.Sprintf("olmes: randbelow(%d)", n))
	}
	k := bits.Len64(uint64(n))
	for {
		if v := r.GetRandBits(k); v < uint64(n) {
			return int(v)
		}
	}
}

// Random is random.random(): 53 bits from two draws, (a·2^26 + b) / 2^53.
func (r *PyRandom) Random() float64 {
	a := r.Uint32() >> 5
	b := r.Uint32() >> 6
	return (float64(a)*67108864 + float64(b)) * (1.0 / 9007199254740992.0)
}

// Shuffle is random.shuffle(x) over n elements: for i from n-1 down to 1, swap(i, randbelow(i+1)).
func (r *PyRandom) Shuffle(n int, swap func(i, j int)) {
	for i := n - 1; i > 0; i-- {
		swap(i, r.RandBelow(i+1))
	}
}

// Sample is random.sample(range(n), k): k distinct indices in [0, n), in the order Python returns them. Python
// uses a shrinking pool when n is at most setsize = 21 (+ 4^ceil(log4(3k)) for k > 5) and otherwise redraws
// into a set; both are reproduced. It panics unless 0 ≤ k ≤ n.
func (r *PyRandom) Sample(n, k int) []int {
	if k < 0 || k > n {
		panic(fmt.Sprintf("olmes: sample %d of %d", k, n))
	}
	out := make([]int, k)
	setsize := 21
	if k > 5 {
		// Python: 4 ** _ceil(_log(k * 3, 4)), with _log(x, base) = log(x)/log(base) in float64.
		setsize += int(math.Pow(4, math.Ceil(math.Log(float64(k*3))/math.Log(4))))
	}
	if n <= setsize {
		pool := make([]int, n)
		for i := range pool {
			pool[i] = i
		}
		for i := range k {
			j := r.RandBelow(n - i)
			out[i] = pool[j]
			pool[j] = pool[n-i-1]
		}
		return out
	}
	selected := make(map[int]bool, k)
	for i := range k {
		j := r.RandBelow(n)
		for selected[j] {
			j = r.RandBelow(n)
		}
		selected[j] = true
		out[i] = j
	}
	return out
}
