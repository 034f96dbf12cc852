package tui

import "math"

// stepPoint is one optimizer step as the charts need it.
type stepPoint struct {
	Step, Tokens   int64
	Loss, Grad, LR float64
	Skipped        bool
}

// curve is a series of steps of one model: the run itself or one soup
// ingredient. It is held by column, about 12 bytes a step (48 as a slice of
// stepPoint, 48 MB for a million steps): steps and tokens as arithmetic runs
// (one run each while the batch size holds), loss, grad norm and LR as
// float32 (the chart's cells and labels resolve 3–4 digits; float32 keeps 7),
// skipped steps as a bitset. A loss-only curve (the runs view's overlay)
// keeps no grad norm or LR: 4 bytes a step.
type curve struct {
	Name          string
	soup          int // an ingredient's: which soup of the run (runData.soupGen)
	lossOnly      bool
	steps, tokens xseq
	loss, grad    []float32
	lr            []float32
	skipped       []uint64 // bit i: point i was skipped
	version       int      // counts changes to an overlay curve, so its chart is drawn once
	best          float64  // bestLoss over the first bestN points, so a frame scans only the new ones
	bestN         int
}

// len is the number of points.
func (c *curve) len() int { return c.steps.n }

// at returns point i (Loss, Grad and LR at float32 precision).
func (c *curve) at(i int) stepPoint {
	p := stepPoint{Step: c.steps.at(i), Tokens: c.tokens.at(i), Loss: float64(c.loss[i]), Skipped: c.isSkipped(i)}
	if !c.lossOnly {
		p.Grad, p.LR = float64(c.grad[i]), float64(c.lr[i])
	}
	return p
}

func (c *curve) isSkipped(i int) bool { return c.skipped[i/64]&(1<<(i%64)) != 0 }

// add appends p.
func (c *curve) add(p stepPoint) {
	i := c.len()
	c.steps.add(p.Step)
	c.tokens.add(p.Tokens)
	c.loss = append(c.loss, float32(p.Loss))
	if !c.lossOnly {
		c.grad = append(c.grad, float32(p.Grad))
		c.lr = append(c.lr, float32(p.LR))
	}
	if i%64 == 0 {
		c.skipped = append(c.skipped, 0)
	}
	if p.Skipped {
		c.skipped[i/64] |= 1 << (i % 64)
	}
}

// dropAfter removes the points after step.
func (c *curve) dropAfter(step int64) {
	n := c.len()
	for n > 0 && c.steps.at(n-1) > step {
		n--
	}
	if n == c.len() {
		return
	}
	c.steps.truncate(n)
	c.tokens.truncate(n)
	c.loss = c.loss[:n]
	if !c.lossOnly {
		c.grad, c.lr = c.grad[:n], c.lr[:n]
	}
	if n < c.bestN { // the best may have been among the dropped points
		c.bestN = 0
	}
	c.skipped = c.skipped[:(n+63)/64]
	if n%64 != 0 {
		c.skipped[n/64] &= 1<<(n%64) - 1
	}
}

// metric is one of the chart's metrics (chartLoss, chartGrad, chartLR) of
// point i.
func (c *curve) metric(which, i int) float64 {
	switch which {
	case chartGrad:
		if c.lossOnly {
			return math.NaN()
		}
		return float64(c.grad[i])
	case chartLR:
		if c.lossOnly {
			return math.NaN()
		}
		return float64(c.lr[i])
	}
	return float64(c.loss[i])
}

// xRange is the first and last x (step or tokens); false for no points.
func (c *curve) xRange(byTokens bool) (x0, x1 float64, ok bool) {
	n := c.len()
	if n == 0 {
		return 0, 0, false
	}
	s := &c.steps
	if byTokens {
		s = &c.tokens
	}
	return float64(s.at(0)), float64(s.at(n - 1)), true
}

// series returns the x values (step or tokens) and one metric of a curve.
func (c *curve) series(byTokens bool, which int) (xs, ys []float64) {
	n := c.len()
	xs, ys = make([]float64, 0, n), make([]float64, n)
	s := &c.steps
	if byTokens {
		s = &c.tokens
	}
	s.each(func(x int64) { xs = append(xs, float64(x)) })
	for i := range ys {
		ys[i] = c.metric(which, i)
	}
	return xs, ys
}

func (c *curve) lastTokens() int64 {
	if c.len() == 0 {
		return 0
	}
	return c.tokens.at(c.len() - 1)
}

// bestLoss is the lowest finite loss of the run's own curve. The runs view
// asks for it every frame: it scans only the points added since it last did.
func (c *curve) bestLoss() float64 {
	if c.bestN == 0 {
		c.best = math.NaN()
	}
	for i := c.bestN; i < c.len(); i++ {
		if l := float64(c.loss[i]); !c.isSkipped(i) && (math.IsNaN(c.best) || l < c.best) {
			c.best = l
		}
	}
	c.bestN = c.len()
	return c.best
}

// lastLoss is the mean of the last up to 10 finite losses (as the lab's
// summary's final loss).
func (c *curve) lastLoss() float64 {
	var s float64
	n := 0
	for i := c.len() - 1; i >= 0 && n < 10; i-- {
		if !c.isSkipped(i) {
			s += float64(c.loss[i])
			n++
		}
	}
	if n == 0 {
		return math.NaN()
	}
	return s / float64(n)
}

// xseq is a sequence of int64 held as arithmetic runs: steps 1, 2, 3… are
// one run, and so are the tokens while the batch size holds.
type xseq struct {
	runs []xrun
	n    int
}

// xrun: points i, i+1, … up to the next run's i are x0, x0+dx, ….
type xrun struct {
	i      int
	x0, dx int64
}

func (s *xseq) add(x int64) {
	if k := len(s.runs) - 1; k >= 0 {
		r := &s.runs[k]
		switch {
		case s.n-r.i == 1: // a run of one takes any step
			r.dx = x - r.x0
			s.n++
			return
		case x == r.x0+int64(s.n-r.i)*r.dx:
			s.n++
			return
		}
	}
	s.runs = append(s.runs, xrun{i: s.n, x0: x})
	s.n++
}

// run is the index of the run holding point i.
func (s *xseq) run(i int) int {
	lo, hi := 0, len(s.runs)-1
	for lo < hi { // the last run with r.i <= i
		mid := (lo + hi + 1) / 2
		if s.runs[mid].i <= i {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo
}

func (s *xseq) at(i int) int64 {
	r := s.runs[s.run(i)]
	return r.x0 + int64(i-r.i)*r.dx
}

func (s *xseq) truncate(n int) {
	if n == 0 {
		s.runs, s.n = s.runs[:0], 0
		return
	}
	s.runs = s.runs[:s.run(n-1)+1]
	s.n = n
}

// each calls fn with every x in order.
func (s *xseq) each(fn func(int64)) {
	for k, r := range s.runs {
		end := s.n
		if k+1 < len(s.runs) {
			end = s.runs[k+1].i
		}
		for i := r.i; i < end; i++ {
			fn(r.x0 + int64(i-r.i)*r.dx)
		}
	}
}
