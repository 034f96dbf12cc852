package data

import "github.com/olmolab/olmolab/lab/data/internal/rnd"

// permute returns the position of i in a pseudo-random permutation of [0, n) keyed by key: a 6-round balanced
// Feistel network on the smallest even number of bits covering n, with cycle walking (Black and Rogaway 2002) to
// stay inside [0, n). It needs no memory, so a shuffle of a billion instances costs nothing to hold or to resume,
// unlike OLMo's stored global index array; the expected number of walks is below 4.
func permute(i, n int64, key uint64) int64 {
	if n <= 1 {
		return 0
	}
	bits := 2
	for int64(1)<<bits < n {
		bits += 2
	}
	half := uint(bits / 2)
	mask := uint64(1)<<half - 1
	x := uint64(i)
	for {
		l, r := x>>half, x&mask
		for round := range uint64(6) {
			l, r = r, l^(rnd.Hash(key, round, r)&mask)
		}
		x = l<<half | r
		if x < uint64(n) {
			return int64(x)
		}
	}
}
