package lab

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/olmolab/olmolab/lab/data"
)

// mixDraw is one stretch of a run's plan: Tokens trained on Mix, which the
// recipe gives at Field.
type mixDraw struct {
	Field  string
	Mix    []data.SourceSpec
	Tokens int64
}

// plannedDraws is what a run of the recipe plans to train on: the stretches
// its own loader serves in order (stage 1's dataset and each mix_schedule
// switch, then the anneal at anneal.auto_at), whose sources' streams carry on
// from one stretch to the next, and one soup ingredient's, which reads its
// mix afresh on a loader of its own (Tokens 0: no soup). It is drawsFrom at
// the run's first step.
func plannedDraws(rec *Recipe) (run []mixDraw, soup mixDraw) {
	return drawsFrom(rec, CheckpointState{Phase: "stage1", TotalTokens: rec.PlannedTokens(), Mix: rec.Dataset}, "dataset.sources")
}

// soupDraw is one soup ingredient's draw, after a run whose stage 1 ends on
// last: soup.mix, else anneal.mix, else last's mix; the soup's tokens, else
// the anneal's, else a quarter of the run's planned tokens (as soupSize; a
// run with a soup plans no anneal of its own); load_path's recipe
// (start_as_anneal) anneals each ingredient for max_tokens.
func soupDraw(rec *Recipe, last mixDraw) mixDraw {
	soup := mixDraw{Field: last.Field, Mix: last.Mix}
	if len(rec.Soup.Mix) > 0 {
		soup.Field, soup.Mix = "soup.mix", rec.Soup.Mix
	} else if len(rec.Anneal.Mix) > 0 {
		soup.Field, soup.Mix = "anneal.mix", rec.Anneal.Mix
	}
	n := cmp.Or(rec.Soup.Tokens, rec.Anneal.Tokens, max(rec.PlannedTokens()/4, int64(rec.GlobalBatchSize)))
	if rec.StartAsAnneal {
		n = rec.MaxTokens
	}
	soup.Tokens = wholeSteps(n, rec)
	return soup
}

// sourceCap is the strictest cap the recipe puts on one source: its entry
// (Field) with the smallest SourceSpec.Cap.
type sourceCap struct {
	Field string
	Spec  data.SourceSpec
}

// recipeCaps finds each capped source's strictest entry over every mix of the
// recipe (a name is one source, its files, in every mix), nil when none is
// capped.
func recipeCaps(rec *Recipe) map[string]sourceCap {
	var caps map[string]sourceCap
	add := func(field string, mix []data.SourceSpec) {
		for i, s := range mix {
			if !s.Capped() {
				continue
			}
			if caps == nil {
				caps = map[string]sourceCap{}
			}
			// compared by what they allow of a source of 1e12 tokens (the size cancels)
			if c, ok := caps[s.Name]; !ok || s.Cap(1e12) < c.Spec.Cap(1e12) {
				caps[s.Name] = sourceCap{Field: fmt.Sprintf("%s[%d]", field, i), Spec: s}
			}
		}
	}
	add("dataset.sources", rec.Dataset)
	add("anneal.mix", rec.Anneal.Mix)
	add("soup.mix", rec.Soup.Mix)
	for _, m := range rec.Mixes {
		add("mixes."+m.Name, m.Sources)
	}
	return caps
}

// checkDraws refuses a new run that would draw more from a source than
// olmo-cookbook's repetition_factor and max_source_ratio allow, as OLMo-core's
// source mixture refuses one at the start ("Insufficient tokens for source"):
// a source's planned tokens (its share of each stretch it is in, the soup's
// per ingredient) against size × max_source_ratio × repetition_factor. sizes
// gives one pass over a mix's sources in tokens (data.Loader.PassTokens).
func checkDraws(rec *Recipe, sizes func([]data.SourceSpec) (map[string]int64, error)) error {
	run, soup := plannedDraws(rec)
	probs, err := capProblems(rec, run, soup, drawnSoFar{}, sizes)
	if err != nil {
		return err
	}
	return joinProblems(probs)
}

// checkResumed refuses to resume a run (from the checkpoint's state st, as
// resumedState adjusts it) whose recipe.yaml now caps a source below what the
// whole run would draw from it: what it drew up to the checkpoint (its
// loader's state) plus what it still plans to draw. OLMo-core builds a
// resumed run's mixture, and checks it, for the whole run again; a source
// the run no longer draws from is not checked, since nothing left to do
// could change what it drew.
func checkResumed(rec *Recipe, st CheckpointState, sizes func([]data.SourceSpec) (map[string]int64, error)) error {
	run, soup := drawsFrom(rec, st, "the checkpoint's mix")
	drawn := drawnSoFar{at: fmt.Sprintf("up to step %d", st.Step), tokens: map[string]int64{}}
	for _, s := range st.Loader.Sources {
		drawn.tokens[s.Name] = s.Tokens
	}
	probs, err := capProblems(rec, run, soup, drawn, sizes)
	if err != nil {
		return err
	}
	return joinProblems(probs)
}

// drawnSoFar is what a run drew before the draws checked: tokens by source,
// and when ("up to step 7"); none for a new run.
type drawnSoFar struct {
	tokens map[string]int64
	at     string
}

// capProblem is one source drawn past its caps: what, and what to change.
type capProblem struct{ msg, hint string }

func joinProblems(probs []capProblem) error {
	if len(probs) == 0 {
		return nil
	}
	lines := make([]string, len(probs))
	for i, p := range probs {
		lines[i] = p.msg + "\nHINT: " + p.hint
	}
	return fmt.Errorf("%s", strings.Join(lines, "\n"))
}

// drawsFrom is what a run of rec still draws from position st (its phase,
// tokens, budget, switches made and mix, named mixField): as plannedDraws,
// from st.Tokens on. In an anneal, its mix to the end; in stage 1, the mix to
// the next mix_schedule switch not yet made, the switches after, and the
// recipe's anneal at anneal.auto_at unless it has started; the soup, which
// reads its mix afresh, as planned. In a soup, the soup only.
func drawsFrom(rec *Recipe, st CheckpointState, mixField string) (run []mixDraw, soup mixDraw) {
	cur, from := mixDraw{Field: mixField, Mix: st.Mix}, st.Tokens
	switch st.Phase {
	case "anneal":
		cur.Tokens = st.TotalTokens - from
		return []mixDraw{cur}, mixDraw{} // the recipe's soup is made from stage 1 only
	case "stage1":
		stage1, anneal := st.TotalTokens, int64(0)
		if rec.Anneal.AutoAt > 0 && !st.AutoAnnealed && rec.Soup.Ingredients == 0 && !rec.StartAsAnneal {
			// it starts at the first step boundary at or after auto_at
			if at := max(wholeSteps(rec.Anneal.AutoAt, rec), from); at < stage1 {
				stage1, anneal = at, wholeSteps(rec.Anneal.Tokens, rec)
				if rec.Anneal.AutoAt+rec.Anneal.Tokens == rec.MaxTokens {
					anneal = st.TotalTokens - at
				}
			}
		}
		if rec.StartAsAnneal && rec.Soup.Ingredients > 0 {
			stage1 = from // every ingredient anneals from load_path; the run trains none itself
		}
		for i := st.MixSwitches; i < len(rec.MixSchedule); i++ {
			s := rec.MixSchedule[i]
			at := max(wholeSteps(s.AtTokens, rec), from)
			if at >= stage1 {
				break
			}
			cur.Tokens = at - from
			run = append(run, cur)
			cur, from = mixDraw{Field: fmt.Sprintf("mix_schedule[%d] (mixes.%s)", i, s.Mix), Mix: rec.NamedMixSources(s.Mix)}, at
		}
		cur.Tokens = stage1 - from
		run = append(run, cur)
		if anneal > 0 {
			if len(rec.Anneal.Mix) > 0 {
				run = append(run, mixDraw{Field: "anneal.mix", Mix: rec.Anneal.Mix, Tokens: anneal})
			} else {
				run = append(run, mixDraw{Field: cur.Field, Mix: cur.Mix, Tokens: anneal})
			}
		}
	}
	if rec.Soup.Ingredients > 0 {
		soup = soupDraw(rec, cur) // from the mix stage 1 ends on
	}
	return run, soup
}

// capProblems finds the sources that run (the run's stretches, after drawn)
// and soup (each ingredient's, read afresh) draw past the recipe's caps:
// per source, drawn plus its share of each stretch it is in against size ×
// max_source_ratio × repetition_factor. An error is a mix whose sizes do not
// read (sizes: one pass over a mix's sources in tokens).
func capProblems(rec *Recipe, run []mixDraw, soup mixDraw, drawn drawnSoFar, sizes func([]data.SourceSpec) (map[string]int64, error)) ([]capProblem, error) {
	caps := recipeCaps(rec)
	if caps == nil {
		return nil, nil
	}
	check := func(draws []mixDraw, drawn drawnSoFar, who string) ([]capProblem, error) {
		planned := map[string]float64{}
		parts := map[string][]string{}
		size := map[string]int64{}
		for _, d := range draws {
			if d.Tokens <= 0 || len(d.Mix) == 0 {
				continue
			}
			var sum float64
			for _, s := range d.Mix {
				sum += s.TargetRatio
			}
			if !(sum > 0) {
				continue
			}
			var have map[string]int64
			for _, s := range d.Mix {
				if _, capped := caps[s.Name]; !capped || s.TargetRatio <= 0 {
					continue
				}
				if have == nil {
					// with each name's caps: a document source is counted
					// only where its spec is capped, and this mix's entry
					// (or the checkpoint's, or a person's) may not be
					withCaps := slices.Clone(d.Mix)
					for i, m := range withCaps {
						if c, ok := caps[m.Name]; ok {
							withCaps[i].RepetitionFactor, withCaps[i].MaxSourceRatio = c.Spec.RepetitionFactor, c.Spec.MaxSourceRatio
						}
					}
					var err error
					if have, err = sizes(withCaps); err != nil {
						return nil, fmt.Errorf("%s: %w", d.Field, err)
					}
				}
				n, ok := have[s.Name]
				if !ok {
					continue // a built-in source: its documents never repeat
				}
				if _, ok := planned[s.Name]; !ok && drawn.tokens[s.Name] > 0 {
					planned[s.Name] = float64(drawn.tokens[s.Name])
					parts[s.Name] = []string{fmt.Sprintf("%s drawn %s", HumanCount(drawn.tokens[s.Name]), drawn.at)}
				}
				size[s.Name] = n
				planned[s.Name] += s.TargetRatio / sum * float64(d.Tokens)
				parts[s.Name] = append(parts[s.Name], fmt.Sprintf("%.3g of %s tokens on %s", s.TargetRatio/sum, HumanCount(d.Tokens), d.Field))
			}
		}
		var probs []capProblem
		for _, name := range sortedKeys(planned) {
			c, need, n := caps[name], int64(math.Ceil(planned[name])), size[name]
			allowed := c.Spec.Cap(n)
			if need <= allowed {
				continue
			}
			// the cap that would do: a max_source_ratio where one pass
			// holds enough, else the repetition_factor at its max_source_ratio
			set := fmt.Sprintf("%s.repetition_factor to %s or more (each pass past the first repeats its data)",
				c.Field, ceil3(float64(need)/(float64(n)*cmp.Or(c.Spec.MaxSourceRatio, 1))))
			if need <= n && c.Spec.RepetitionFactor <= 1 {
				set = fmt.Sprintf("%s.max_source_ratio to %s or more", c.Field, ceil3(float64(need)/float64(n)))
			}
			probs = append(probs, capProblem{
				msg: fmt.Sprintf("%s: %s %s tokens from source %q (%s), which holds %s (one pass); %s allows %s",
					c.Field, who, HumanCount(need), name, strings.Join(parts[name], " + "), HumanCount(n), capsSaid(c.Spec), HumanCount(allowed)),
				hint: fmt.Sprintf("set %s, give the source more data, or lower its target_ratio or the tokens trained", set)})
		}
		return probs, nil
	}
	who := "the run plans to draw"
	if drawn.at != "" {
		who = "the run would draw in all"
	}
	probs, err := check(run, drawn, who)
	if err != nil || len(probs) > 0 {
		return probs, err
	}
	if soup.Tokens > 0 {
		return check([]mixDraw{soup}, drawnSoFar{}, "each soup ingredient plans to draw")
	}
	return nil, nil
}

// capsSaid says the caps of s as a recipe gives them, the defaults named.
func capsSaid(s data.SourceSpec) string {
	var b strings.Builder
	fmt.Fprintf(&b, "repetition_factor %g", cmp.Or(s.RepetitionFactor, 1))
	if s.RepetitionFactor == 0 {
		b.WriteString(" (the default: no repetition)")
	}
	if s.MaxSourceRatio > 0 {
		fmt.Fprintf(&b, " × max_source_ratio %g", s.MaxSourceRatio)
	}
	return b.String()
}

// ceil3 is x rounded up to 3 significant digits, as a hint gives it.
func ceil3(x float64) string {
	if x <= 0 || math.IsInf(x, 0) || math.IsNaN(x) {
		return fmt.Sprint(x)
	}
	p := math.Pow(10, 2-math.Floor(math.Log10(x)))
	return fmt.Sprint(math.Ceil(x*p-1e-9) / p)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// capsWhyNot says why the run does not take a person's switch to mix (an
// anneal onto it over annealTokens, when that is not 0): the whole run would
// then draw more from a source than the recipe's caps allow, what it drew so
// far plus what it would draw from here, as checkResumed counts it. A mix
// whose files do not read is left to the switch to refuse, as it does.
func (r *Run) capsWhyNot(mix []data.SourceSpec, annealTokens int64) string {
	if len(mix) == 0 && annealTokens > 0 {
		mix = r.st.Mix // an anneal that keeps the mix draws on it for its tokens
	}
	if len(mix) == 0 {
		return ""
	}
	st := r.st
	st.Mix = mix
	field := "the mix switched to"
	if annealTokens > 0 {
		st.Phase, st.TotalTokens = "anneal", st.Tokens+annealTokens
		field = "the anneal's mix"
	}
	run, soup := drawsFrom(r.Recipe, st, field)
	drawn := drawnSoFar{tokens: r.loader.TokensBySource(), at: fmt.Sprintf("up to step %d", st.Step)}
	probs, err := capProblems(r.Recipe, run, soup, drawn, r.loader.PassTokens)
	if err != nil || len(probs) == 0 {
		return ""
	}
	return capsRefusal(probs)
}

// capsRefusal is why a person's action is not taken: probs, its sources
// drawn past their caps, on one line.
func capsRefusal(probs []capProblem) string {
	msgs := make([]string, len(probs))
	for i, p := range probs {
		msgs[i] = p.msg
	}
	return strings.Join(msgs, "; ") + " (the recipe's repetition_factor and max_source_ratio)"
}
