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
// mix afresh on a loader of its own (Tokens 0: no soup).
func plannedDraws(rec *Recipe) (run []mixDraw, soup mixDraw) {
	end := rec.PlannedTokens()
	stage1, anneal := end, int64(0)
	if rec.Anneal.AutoAt > 0 && rec.Anneal.AutoAt < end && rec.Soup.Ingredients == 0 && !rec.StartAsAnneal {
		stage1, anneal = wholeSteps(rec.Anneal.AutoAt, rec), wholeSteps(rec.Anneal.Tokens, rec)
		if rec.Anneal.AutoAt+rec.Anneal.Tokens == rec.MaxTokens { // as train: it ends at max_tokens' last step
			anneal = end - stage1
		}
	}
	if rec.StartAsAnneal && rec.Soup.Ingredients > 0 {
		stage1 = 0 // every ingredient anneals from load_path; the run trains none itself
	}
	cur := mixDraw{Field: "dataset.sources", Mix: rec.Dataset}
	var from int64
	for i, s := range rec.MixSchedule {
		at := wholeSteps(s.AtTokens, rec)
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
	if rec.Soup.Ingredients > 0 {
		soup = mixDraw{Field: cur.Field, Mix: cur.Mix}
		if len(rec.Soup.Mix) > 0 {
			soup.Field, soup.Mix = "soup.mix", rec.Soup.Mix
		} else if len(rec.Anneal.Mix) > 0 {
			soup.Field, soup.Mix = "anneal.mix", rec.Anneal.Mix
		}
		// as soupSize: the soup's tokens, else the anneal's, else a quarter of the run's
		n := cmp.Or(rec.Soup.Tokens, rec.Anneal.Tokens, max(stage1/4, int64(rec.GlobalBatchSize)))
		if rec.StartAsAnneal {
			n = rec.MaxTokens
		}
		soup.Tokens = wholeSteps(n, rec)
	}
	return run, soup
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
	caps := recipeCaps(rec)
	if caps == nil {
		return nil
	}
	run, soup := plannedDraws(rec)
	check := func(draws []mixDraw, who string) error {
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
					var err error
					if have, err = sizes(d.Mix); err != nil {
						return fmt.Errorf("%s: %w", d.Field, err)
					}
				}
				n, ok := have[s.Name]
				if !ok {
					continue // a built-in source: its documents never repeat
				}
				size[s.Name] = n
				planned[s.Name] += s.TargetRatio / sum * float64(d.Tokens)
				parts[s.Name] = append(parts[s.Name], fmt.Sprintf("%.3g of %s tokens on %s", s.TargetRatio/sum, HumanCount(d.Tokens), d.Field))
			}
		}
		var probs []string
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
			probs = append(probs, fmt.Sprintf("%s: %s plans to draw %s tokens from source %q (%s), which holds %s (one pass); %s allows %s\nHINT: set %s, give the source more data, or lower its target_ratio or the tokens trained",
				c.Field, who, HumanCount(need), name, strings.Join(parts[name], " + "), HumanCount(n), capsSaid(c.Spec), HumanCount(allowed), set))
		}
		if len(probs) > 0 {
			return fmt.Errorf("%s", strings.Join(probs, "\n"))
		}
		return nil
	}
	if err := check(run, "the run"); err != nil {
		return err
	}
	if soup.Tokens > 0 {
		return check([]mixDraw{soup}, "each soup ingredient")
	}
	return nil
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
