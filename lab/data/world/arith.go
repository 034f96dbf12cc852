package world

import (
	"fmt"
	"strconv"

	"github.com/olmolab/olmolab/lab/data/internal/rnd"
)

// Arithmetic in the world: additions of two operands in [ArithMin, ArithMax], in the math source's word problems
// ("Mara has 17 + 18 = 35 cups."), its worksheets of bare sums ("17 + 18 = 35", the evaluation's format) and the
// code source's snippets. About ArithHeldOutPercent of the ordered pairs (a, b) never appear as "a + b" in any
// source: the arith task asks them (can a model add?), arith_seen asks the others (did it learn the sums it saw?).
// (b, a) may be seen for a held-out (a, b). Measured on the quickstart recipe: arith_seen 0.50 after the anneal
// and 0.39 after the same LR decay on the stage-1 mix (chance 0.25); arith stays at chance, as a tiny model learns
// sums as facts and does not learn to add.
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

// SumDistractors returns n distinct wrong answers near s's answer with as many digits as it, drawn from the n+2
// closest in an order from seed. Same-length numbers matter: with "12" two tokens and "2" one, a distractor that
// differs by 10 wins or loses on length alone, and a model that cannot add then scores below chance.
func SumDistractors(s Sum, n int, seed uint64) []int {
	c := s.Answer()
	digits := len(strconv.Itoa(c))
	var pool []int
	for d := 1; len(pool) < n+2 && d < 1000; d++ {
		for _, v := range []int{c + d, c - d} {
			if v >= 0 && len(strconv.Itoa(v)) == digits && len(pool) < n+2 {
				pool = append(pool, v)
			}
		}
	}
	r := rnd.New(rnd.Hash(seed, rnd.String("world.sum"), uint64(s.A), uint64(s.B)))
	r.Shuffle(len(pool), func(i, j int) { pool[i], pool[j] = pool[j], pool[i] })
	return pool[:n]
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
