package world

import (
	"fmt"

	"github.com/olmolab/olmolab/lab/data/internal/rnd"
)

// Arithmetic in the world: additions of two operands in [ArithMin, ArithMax]. About ArithHeldOutPercent of the
// ordered pairs (a, b) never appear as "a + b" in the math or code sources; the arith evaluation asks them, so a
// model must add rather than recall. (b, a) may still be seen for a held-out (a, b).
const (
	ArithMin            = 1
	ArithMax            = 20
	ArithHeldOutPercent = 15
)

// Sum is one addition problem.
type Sum struct{ A, B int }

// Prompt is the evaluation context, "a + b =": the sources contain "a + b = c", so the continuation is " c".
func (s Sum) Prompt() string { return fmt.Sprintf("%d + %d =", s.A, s.B) }

// Answer is a + b.
func (s Sum) Answer() int { return s.A + s.B }

func heldOutArith(seed uint64) map[[2]int]bool {
	h := map[[2]int]bool{}
	for a := ArithMin; a <= ArithMax; a++ {
		for b := ArithMin; b <= ArithMax; b++ {
			if rnd.Hash(seed, rnd.String("world.arith"), uint64(a), uint64(b))%100 < ArithHeldOutPercent {
				h[[2]int{a, b}] = true
			}
		}
	}
	return h
}

// ArithHeldOut reports whether a + b is held out of the training sources.
func (k *KB) ArithHeldOut(a, b int) bool { return k.heldArith[[2]int{a, b}] }

// Sums returns every addition in range that is held out (heldOut true) or seen in training (false), in order of
// (a, b).
func (k *KB) Sums(heldOut bool) []Sum {
	var out []Sum
	for a := ArithMin; a <= ArithMax; a++ {
		for b := ArithMin; b <= ArithMax; b++ {
			if k.ArithHeldOut(a, b) == heldOut {
				out = append(out, Sum{a, b})
			}
		}
	}
	return out
}

// SumDistractors returns n distinct wrong answers near s's answer (±1, ±2, ±10, ±3, …), non-negative, in an order
// drawn from seed: close numbers, so that magnitude alone does not give the answer away.
func SumDistractors(s Sum, n int, seed uint64) []int {
	r := rnd.New(rnd.Hash(seed, rnd.String("world.sum"), uint64(s.A), uint64(s.B)))
	c := s.Answer()
	var cand []int
	for _, d := range []int{1, -1, 2, -2, 10, -10, 3, -3, 4, -4, 5, -5, 11, 9} {
		if v := c + d; v >= 0 {
			cand = append(cand, v)
		}
	}
	// Prefer the closest four, then draw n of them, so the set varies but stays near.
	pool := cand[:min(len(cand), n+3)]
	out := append([]int(nil), pool...)
	r.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out[:n]
}

// sumSeen draws an addition that is not held out.
func (k *KB) sumSeen(r *rnd.RNG) Sum {
	for {
		s := Sum{r.Range(ArithMin, ArithMax), r.Range(ArithMin, ArithMax)}
		if !k.ArithHeldOut(s.A, s.B) {
			return s
		}
	}
}
