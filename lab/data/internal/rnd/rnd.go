// Package rnd is the small, explicitly specified random number generator used by lab/data and its world.
//
// Everything that decides which data a run sees (built-in documents, shuffles, held-out splits) must give the same
// result on every machine and every Go release, so it cannot depend on math/rand's unspecified algorithms. rnd is
// SplitMix64 (Steele, Lea and Flood 2014) for hashing seeds together and xoshiro256** (Blackman and Vigna 2018) for
// streams; bounded integers use Lemire's multiply-shift with rejection, floats the top 53 bits.
package rnd

import "math/bits"

// Mix is the SplitMix64 finaliser: a bijective, well-mixing hash of one 64-bit word.
func Mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// Hash combines words into one seed; order matters (Hash(a, b) != Hash(b, a)).
func Hash(words ...uint64) uint64 {
	h := uint64(0x243f6a8885a308d3) // π, so that Hash() of nothing is not zero
	for _, w := range words {
		h = Mix(h ^ Mix(w))
	}
	return h
}

// String hashes a string to a word (FNV-1a then Mix), for seeding by names.
func String(s string) uint64 {
	h := uint64(0xcbf29ce484222325)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 0x100000001b3
	}
	return Mix(h)
}

// RNG is a xoshiro256** stream. The zero value is not valid; use New.
type RNG struct{ s [4]uint64 }

// New seeds a stream from one word, expanding it with SplitMix64 as the xoshiro authors recommend.
func New(seed uint64) *RNG {
	r := &RNG{}
	r.Seed(seed)
	return r
}

// Seed resets the stream to the one New(seed) returns.
func (r *RNG) Seed(seed uint64) {
	for i := range r.s {
		seed += 0x9e3779b97f4a7c15
		z := seed
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
		z = (z ^ (z >> 27)) * 0x94d049bb133111eb
		r.s[i] = z ^ (z >> 31)
	}
}

// Uint64 returns the next 64 random bits.
func (r *RNG) Uint64() uint64 {
	s := &r.s
	out := bits.RotateLeft64(s[1]*5, 7) * 9
	t := s[1] << 17
	s[2] ^= s[0]
	s[3] ^= s[1]
	s[1] ^= s[2]
	s[0] ^= s[3]
	s[2] ^= t
	s[3] = bits.RotateLeft64(s[3], 45)
	return out
}

// IntN returns a uniform integer in [0, n); it panics if n <= 0.
func (r *RNG) IntN(n int) int {
	if n <= 0 {
		panic("rnd: IntN with n <= 0")
	}
	return int(Below(r.Uint64, uint64(n)))
}

// Range returns a uniform integer in [lo, hi].
func (r *RNG) Range(lo, hi int) int { return lo + r.IntN(hi-lo+1) }

// Float64 returns a uniform float in [0, 1).
func (r *RNG) Float64() float64 { return float64(r.Uint64()>>11) * (1.0 / (1 << 53)) }

// Bool returns true with probability p.
func (r *RNG) Bool(p float64) bool { return r.Float64() < p }

// Perm returns a uniformly random permutation of [0, n) (Fisher–Yates).
func (r *RNG) Perm(n int) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	r.Shuffle(n, func(i, j int) { p[i], p[j] = p[j], p[i] })
	return p
}

// Shuffle permutes n items with swap (Fisher–Yates, from the top).
func (r *RNG) Shuffle(n int, swap func(i, j int)) {
	for i := n - 1; i > 0; i-- {
		swap(i, r.IntN(i+1))
	}
}

// Below returns a uniform integer in [0, n) from the 64-bit source next, by Lemire's nearly-divisionless method
// ("Fast random integer generation in an interval", 2019): the high word of next()·n, rejecting the biased low
// words.
func Below(next func() uint64, n uint64) uint64 {
	hi, lo := bits.Mul64(next(), n)
	if lo < n {
		thresh := -n % n
		for lo < thresh {
			hi, lo = bits.Mul64(next(), n)
		}
	}
	return hi
}

// Pick returns a uniformly chosen element of xs.
func Pick[T any](r *RNG, xs []T) T { return xs[r.IntN(len(xs))] }
