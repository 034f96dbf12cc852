package model

import (
	"errors"
	"testing"
)

// sharer is a backend of another kind that offers a shared scorer
// (ScorerSharer), as the GPU engine does.
type sharer struct {
	Backend
	scorer Backend
	err    error
	asked  [2]int
}

func (s *sharer) SharedScorer(B, T int) (Backend, error) {
	s.asked = [2]int{B, T}
	return s.scorer, s.err
}

// TestScoringLikeShares: ScoringLike gives any ScorerSharer's own scorer
// (no second engine, no copy of the weights), passes on its refusal rather
// than building a copy, and copies only for a backend that shares nothing.
func TestScoringLikeShares(t *testing.T) {
	cfg := smallTrainConfig()
	tr := NewCPUBackend(cfg, 2, 16, 1)
	defer tr.Close()
	Init(tr.E.Layout, tr.E.Params, 3)
	sc := tr.Scorer(4, 8)
	defer sc.Close()
	s := &sharer{Backend: tr, scorer: sc}
	got, shared, err := ScoringLike(s, 4, 8)
	if err != nil || !shared || got != Backend(sc) || s.asked != [2]int{4, 8} {
		t.Errorf("ScoringLike of a sharer: %v shared=%v err=%v asked %v; want its scorer at 4×8, shared", got, shared, err, s.asked)
	}
	s.err = errors.New("no room beside training")
	if got, _, err := ScoringLike(s, 4, 8); err == nil || got != nil {
		t.Errorf("a sharer's refusal: got %v, err %v; want its error and no backend", got, err)
	}
	// the CPU engines share theirs
	got, shared, err = ScoringLike(tr, 4, 8)
	if err != nil || !shared {
		t.Fatalf("ScoringLike(cpu): shared=%v err=%v", shared, err)
	}
	got.Close()
	// a backend that shares nothing gets a copy
	got, shared, err = ScoringLike(struct{ Backend }{tr}, 4, 8)
	if err != nil || shared {
		t.Fatalf("ScoringLike of a plain backend: shared=%v err=%v; want a copy", shared, err)
	}
	got.Close()
}

// TestRegisterScoringBackend: NewScoringBackend builds a registered
// forward-only form rather than the training backend of that name.
func TestRegisterScoringBackend(t *testing.T) {
	var built [2]int
	t.Cleanup(func() { delete(backends, "test-train-only"); delete(scoringBackends, "test-train-only") })
	RegisterBackend("test-train-only", func(cfg Config, B, T int) (Backend, error) {
		return nil, errors.New("the training engine was built")
	})
	RegisterScoringBackend("test-train-only", func(cfg Config, B, T int) (Backend, error) {
		built = [2]int{B, T}
		return NewCPUBackend(cfg, B, T, 1), nil
	})
	b, err := NewScoringBackend("test-train-only", smallTrainConfig(), 2, 8)
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
	if built != [2]int{2, 8} {
		t.Errorf("scoring factory called with %v, want [2 8]", built)
	}
}
