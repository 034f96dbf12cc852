package bpe

import "sort"

// Train learns size-256 merges from texts, deterministically: pieces are counted (Split), then the most frequent
// adjacent pair is merged, ties broken by the smaller (left, right) ids, until the vocabulary has size tokens or no
// pair occurs twice. The result depends only on the multiset of pieces, never on map order or goroutines.
func Train(texts []string, size int) *Model {
	counts := map[string]int64{}
	for _, t := range texts {
		Split(t, func(p string) { counts[p]++ })
	}
	// Words in sorted order, so that the word indexes (and everything below) are deterministic.
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	type word struct {
		syms []int32
		n    int64
	}
	words := make([]word, len(keys))
	type pair = [2]int32
	pairs := map[pair]int64{}
	where := map[pair]map[int32]struct{}{}
	addPairs := func(w int32, sign int64) {
		s := words[w].syms
		for i := 0; i+1 < len(s); i++ {
			p := pair{s[i], s[i+1]}
			pairs[p] += sign * words[w].n
			if sign > 0 {
				if where[p] == nil {
					where[p] = map[int32]struct{}{}
				}
				where[p][w] = struct{}{}
			}
		}
	}
	for i, k := range keys {
		s := make([]int32, len(k))
		for j := 0; j < len(k); j++ {
			s[j] = int32(k[j])
		}
		words[i] = word{s, counts[k]}
		addPairs(int32(i), 1)
	}

	var merges [][2]int32
	for next := int32(256); int(next) < size; next++ {
		var best pair
		var bestN int64
		for p, n := range pairs {
			if n > bestN || n == bestN && (p[0] < best[0] || p[0] == best[0] && p[1] < best[1]) {
				best, bestN = p, n
			}
		}
		if bestN < 2 {
			break
		}
		merges = append(merges, best)
		// Rewrite every word that contains the pair; sort the word indexes so the update order is fixed.
		ws := make([]int32, 0, len(where[best]))
		for w := range where[best] {
			ws = append(ws, w)
		}
		sort.Slice(ws, func(i, j int) bool { return ws[i] < ws[j] })
		for _, w := range ws {
			addPairs(w, -1)
			s := words[w].syms
			out := s[:0]
			for i := 0; i < len(s); i++ {
				if i+1 < len(s) && s[i] == best[0] && s[i+1] == best[1] {
					out = append(out, next)
					i++
				} else {
					out = append(out, s[i])
				}
			}
			words[w].syms = out
			addPairs(w, 1)
		}
		delete(pairs, best)
		delete(where, best)
		for p, n := range pairs {
			if n == 0 {
				delete(pairs, p)
			}
		}
	}
	m, err := NewModel(merges)
	if err != nil {
		panic(err) // Train only merges defined tokens
	}
	return m
}
