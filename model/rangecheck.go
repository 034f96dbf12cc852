package model

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// CheckRangedAccess tests a Backend's ranged reads and writes against its
// whole-buffer ones, for engines' tests (the CPU engines here, the GPU
// engine on its emulator): reads at odd offsets and lengths (empty, one
// value, across tensors, to the end) with either moment left out; a model
// written in odd-sized ranges holds exactly what a whole write gives and
// scores the same log-probabilities bit for bit (so an engine's derived
// copies of the weights, such as a bf16 one, follow ranged writes); a
// ranged write changes its range and nothing else; a range outside the
// model panics. newBackend builds a fresh backend of a small model.
func CheckRangedAccess(newBackend func() (Backend, error)) error {
	b1, err := newBackend()
	if err != nil {
		return err
	}
	defer b1.Close()
	b2, err := newBackend()
	if err != nil {
		return err
	}
	defer b2.Close()
	lay := NewLayout(b1.Config())
	N := int(lay.Size())
	r := rand.New(rand.NewPCG(5, 6))
	params, m, v := make([]float32, N), make([]float32, N), make([]float32, N)
	Init(lay, params, 9)
	for i := range params {
		params[i] += float32(0.01 * r.NormFloat64()) // norm weights away from 1
		m[i] = float32(1e-3 * r.NormFloat64())
		v[i] = float32(1e-6 * r.Float64())
	}
	b1.WriteParams(params)
	b1.WriteOptState(m, v, 7)

	same := func(what string, off int, got, want []float32) error {
		for i := range want {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				return fmt.Errorf("%s: element %d is %v, want %v", what, off+i, got[i], want[i])
			}
		}
		return nil
	}
	t1 := lay.Tensors[1]
	ranges := [][2]int{{0, 0}, {0, 1}, {N - 1, 1}, {N, 0}, {3, 5}, {t1.Offset - 3, 7}, {t1.Offset + 1, t1.Numel() + 5}, {N/2 + 1, N - N/2 - 1}, {1, N - 2}, {0, N}}
	for _, rg := range ranges {
		off, n := rg[0], rg[1]
		what := fmt.Sprintf("[%d, %d+%d)", off, off, n)
		got, gm, gv := make([]float32, n), make([]float32, n), make([]float32, n)
		b1.ReadParamsAt(got, off)
		if err := same("ReadParamsAt"+what, off, got, params[off:off+n]); err != nil {
			return err
		}
		if s := b1.ReadOptStateAt(gm, gv, off); s != 7 {
			return fmt.Errorf("ReadOptStateAt%s: step %d, want 7", what, s)
		}
		if err := same("ReadOptStateAt"+what+" m", off, gm, m[off:off+n]); err != nil {
			return err
		}
		if err := same("ReadOptStateAt"+what+" v", off, gv, v[off:off+n]); err != nil {
			return err
		}
		clear(gm)
		b1.ReadOptStateAt(nil, gm, off)
		if err := same("ReadOptStateAt"+what+" v alone", off, gm, v[off:off+n]); err != nil {
			return err
		}
		b1.ReadOptStateAt(gm, nil, off)
		if err := same("ReadOptStateAt"+what+" m alone", off, gm, m[off:off+n]); err != nil {
			return err
		}
	}

	// b2 written in odd pieces: params forward, moments m then v backward
	for off, k := 0, 1; off < N; off, k = off+k, k*3+2 {
		k = min(k, N-off)
		b2.WriteParamsAt(params[off:off+k], off)
	}
	for end, k := N, 7; end > 0; end, k = end-k, k*2+1 {
		k = min(k, end)
		b2.WriteOptStateAt(m[end-k:end], nil, end-k, 7)
		b2.WriteOptStateAt(nil, v[end-k:end], end-k, 7)
	}
	gp, gm, gv := make([]float32, N), make([]float32, N), make([]float32, N)
	b2.ReadParams(gp)
	if s := b2.ReadOptState(gm, gv); s != 7 {
		return fmt.Errorf("after ranged writes: step %d, want 7", s)
	}
	for _, x := range []struct {
		what      string
		got, want []float32
	}{{"params", gp, params}, {"m", gm, m}, {"v", gv, v}} {
		if err := same("ranged writes: "+x.what, 0, x.got, x.want); err != nil {
			return err
		}
	}
	B, T := b1.MicroBatch()
	ids, labels := make([]int32, B*T), make([]int32, B*T)
	NewSyntheticStream(b1.Config().VocabSize, 4).Fill(ids, labels, T)
	lp1, lp2 := make([]float32, B*T), make([]float32, B*T)
	b1.LogProbs(lp1, ids, labels)
	b2.LogProbs(lp2, ids, labels)
	if err := same("log-probabilities after ranged writes", 0, lp2, lp1); err != nil {
		return err
	}

	// a ranged write changes its range only
	off, n := t1.Offset+3, 11
	patch := make([]float32, n)
	for i := range patch {
		patch[i] = float32(i) + 0.5
	}
	b2.WriteParamsAt(patch, off)
	b2.WriteOptStateAt(nil, patch, off, 8)
	want := append([]float32(nil), params...)
	copy(want[off:], patch)
	b2.ReadParams(gp)
	if err := same("after a ranged write of params", 0, gp, want); err != nil {
		return err
	}
	wantV := append([]float32(nil), v...)
	copy(wantV[off:], patch)
	if s := b2.ReadOptState(gm, gv); s != 8 {
		return fmt.Errorf("WriteOptStateAt's step: %d, want 8", s)
	}
	if err := same("after a ranged write of v: m", 0, gm, m); err != nil {
		return err
	}
	if err := same("after a ranged write of v: v", 0, gv, wantV); err != nil {
		return err
	}

	for _, bad := range []struct {
		what string
		f    func()
	}{
		{"ReadParamsAt past the end", func() { b1.ReadParamsAt(make([]float32, 2), N-1) }},
		{"WriteParamsAt at a negative offset", func() { b1.WriteParamsAt(make([]float32, 1), -1) }},
		{"ReadOptStateAt past the end", func() { b1.ReadOptStateAt(nil, make([]float32, 1), N) }},
		{"WriteOptStateAt with moments of two lengths", func() { b1.WriteOptStateAt(make([]float32, 2), make([]float32, 3), 0, 7) }},
	} {
		if !panics(bad.f) {
			return fmt.Errorf("%s does not panic", bad.what)
		}
	}
	return nil
}

func panics(f func()) (p bool) {
	defer func() { p = recover() != nil }()
	f()
	return false
}
