//go:build race

package gemm

// raceEnabled: the race detector makes some stack values escape, so allocation counts do not hold.
const raceEnabled = true
