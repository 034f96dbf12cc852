package lab

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeU16 writes n uint16 ids (10, 11, …, world's vocabulary) as a token file.
func writeU16(t *testing.T, path string, n int) string {
	t.Helper()
	b := make([]byte, 0, 2*n)
	for i := range n {
		b = append(b, byte(10+i%200), 0)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestRepetitionFactorChecked: olmo-cookbook's repetition_factor and
// max_source_ratio refuse a new run whose plan draws more from a source than
// size × max_source_ratio × repetition_factor, as OLMo-core's source mixture
// does at the start: exit 2 (InputError), naming the source, the tokens it
// needs and has and what to change, and no run directory made. They were
// ignored with a warning, and the run trained on.
func TestRepetitionFactorChecked(t *testing.T) {
	root := t.TempDir()
	web := writeU16(t, filepath.Join(root, "web.npy"), 2048) // 64 sequences of 32
	small := writeU16(t, filepath.Join(root, "small.npy"), 256)
	docs := filepath.Join(root, "docs.jsonl")
	os.WriteFile(docs, []byte(strings.Repeat(`{"text": "the cat sat on the mat"}`+"\n", 4)), 0o644)
	webSet := `dataset.sources.0.paths=["` + web + `"]`
	for _, tc := range []struct {
		name string
		sets []string
		want []string // in the error; none: the run starts
	}{
		// 0.7 of max_tokens 5120 is 3584 tokens, 1.75 passes over web's 2048
		{"no caps", []string{webSet}, nil},
		{"repetition_factor 1", []string{webSet, "dataset.sources.0.repetition_factor=1"},
			[]string{`dataset.sources[0]: the run plans to draw 3584 tokens from source "web" (0.7 of 5120 tokens on dataset.sources), which holds 2048 (one pass); repetition_factor 1 allows 2048`,
				"HINT: set dataset.sources[0].repetition_factor to 1.75 or more"}},
		{"repetition_factor 2", []string{webSet, "dataset.sources.0.repetition_factor=2"}, nil},
		{"max_source_ratio 0.5", []string{webSet, "dataset.sources.0.repetition_factor=2", "dataset.sources.0.max_source_ratio=0.5"},
			[]string{"repetition_factor 2 × max_source_ratio 0.5 allows 2048", "repetition_factor to 3.5 or more"}},
		{"max_source_ratio alone", []string{webSet, "dataset.sources.0.max_source_ratio=0.5"},
			[]string{"repetition_factor 1 (the default: no repetition) × max_source_ratio 0.5 allows 1024", "repetition_factor to 3.5 or more"}},
		// one pass holds enough: the fraction is what to raise
		{"max_source_ratio of enough", []string{`dataset.sources.0.paths=["` + web + `"]`, "dataset.sources.0.max_source_ratio=0.5", "max_tokens=2560"},
			[]string{"the run plans to draw 1792 tokens", "allows 1024", "HINT: set dataset.sources[0].max_source_ratio to 0.875 or more"}},
		// the dataset to auto_at (2560), then 2560 of the anneal's mix
		{"anneal mix", []string{`anneal={auto_at: 2560, tokens: 2560, mix: [{name: small, target_ratio: 1, repetition_factor: 1, paths: ["` + small + `"]}]}`},
			[]string{`anneal.mix[0]: the run plans to draw 2560 tokens from source "small" (1 of 2560 tokens on anneal.mix), which holds 256`}},
		// a scheduled switch trains its mix from its at_tokens to the end of stage 1
		{"mix_schedule", []string{`mixes={later: [{name: small, target_ratio: 1, repetition_factor: 1, paths: ["` + small + `"]}]}`, "mix_schedule=[{at_tokens: 2560, mix: later}]"},
			[]string{`mixes.later[0]: the run plans to draw 2560 tokens from source "small" (1 of 2560 tokens on mix_schedule[0] (mixes.later)), which holds 256`}},
		// a source in two stretches: its shares add up
		{"two stretches", []string{webSet, "dataset.sources.0.repetition_factor=2", `mixes={later: [{name: web, target_ratio: 1, paths: ["` + web + `"]}]}`, "mix_schedule=[{at_tokens: 2560, mix: later}]"},
			[]string{`the run plans to draw 4352 tokens from source "web" (0.7 of 2560 tokens on dataset.sources + 1 of 2560 tokens on mix_schedule[0] (mixes.later)), which holds 2048 (one pass); repetition_factor 2 allows 4096`}},
		// a soup's ingredients read the soup's mix afresh each
		{"soup mix", []string{`soup={ingredients: 2, tokens: 512, mix: [{name: small, target_ratio: 1, repetition_factor: 1.5, paths: ["` + small + `"]}]}`},
			[]string{`soup.mix[0]: each soup ingredient plans to draw 512 tokens from source "small"`, "repetition_factor 1.5 allows 384", "repetition_factor to 2 or more"}},
		// documents are counted by tokenizing them, where capped
		{"documents", []string{`dataset.sources.0.paths=["` + docs + `"]`, "dataset.sources.0.repetition_factor=3"},
			[]string{`dataset.sources[0]: the run plans to draw 3584 tokens from source "web"`, "which holds 40 (one pass); repetition_factor 3 allows 120"}},
		// capped in another mix only: counted all the same (it held 0)
		{"documents capped elsewhere", []string{`dataset.sources.0.paths=["` + docs + `"]`, `mixes={later: [{name: web, target_ratio: 1, repetition_factor: 90, paths: ["` + docs + `"]}]}`}, nil},
		{"documents capped elsewhere, past it", []string{`dataset.sources.0.paths=["` + docs + `"]`, `mixes={later: [{name: web, target_ratio: 1, repetition_factor: 80, paths: ["` + docs + `"]}]}`},
			[]string{`mixes.later[0]: the run plans to draw 3584 tokens from source "web" (0.7 of 5120 tokens on dataset.sources), which holds 40 (one pass); repetition_factor 80 allows 3200`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := parseTiny(t, tc.sets...)
			name := strings.ReplaceAll(tc.name, " ", "-")
			r, err := StartRun(context.Background(), RunParams{Recipe: rec, RunsDir: root, Name: name, PeakFLOPS: 1e11})
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				r.Do(Action{Kind: ActStop})
				r.Wait()
				return
			}
			if err == nil {
				r.Do(Action{Kind: ActStop})
				r.Wait()
				t.Fatalf("the run started; want it refused with %q", tc.want)
			}
			var ie *InputError
			if !errors.As(err, &ie) {
				t.Errorf("not an input error (exit 2): %T", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if _, err := os.Stat(filepath.Join(root, name)); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("the refused run left a directory (%v)", err)
			}
		})
	}
}

// TestRepetitionFactorKeys: the keys' values are checked as OLMo-core
// checks them, and are ignored with a warning where they cannot apply.
func TestRepetitionFactorKeys(t *testing.T) {
	for _, tc := range []struct {
		set, want string
	}{
		{"dataset.sources.0.repetition_factor=0.5", "dataset.sources[0].repetition_factor: want a number of at least 1"},
		{"dataset.sources.0.max_source_ratio=1.5", "dataset.sources[0].max_source_ratio: want a fraction in (0, 1]"},
		{"dataset.sources.0.max_source_ratio=0", "dataset.sources[0].max_source_ratio: want a fraction in (0, 1]"},
	} {
		if _, err := ParseRecipe("tiny.yaml", []byte(tinyRecipe), []string{tc.set}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("--set %s: %v; want %q", tc.set, err, tc.want)
		}
	}
	r := parseTiny(t, "dataset.sources.0.repetition_factor=2")
	if w := strings.Join(r.Warnings, "\n"); !strings.Contains(w, "dataset.sources[0]: repetition_factor and max_source_ratio have no effect on a built-in source") {
		t.Errorf("warnings: %s", w)
	}
	if r.Dataset[0].RepetitionFactor != 2 {
		t.Errorf("repetition_factor %v, want 2 kept", r.Dataset[0].RepetitionFactor)
	}
}

// TestPerSourceDTypeRecipe: a source's dtype reads its files, dataset.dtype
// (or the tokenizer's default) the others', so a run mixes uint16 and uint32
// token files; dataset.dtype was one setting for the whole recipe, and a
// uint32 file beside uint16 ones was refused. A name read with two dtypes in
// two mixes is refused.
func TestPerSourceDTypeRecipe(t *testing.T) {
	root := t.TempDir()
	narrow := writeU16(t, filepath.Join(root, "narrow.npy"), 1024)
	b := make([]byte, 0, 4*1024)
	for i := range 1024 {
		b = append(b, byte(10+i%200), 0, 0, 0)
	}
	wide := filepath.Join(root, "wide.npy")
	os.WriteFile(wide, b, 0o644)
	rec := parseTiny(t, `dataset.sources=[{name: narrow, target_ratio: 0.5, paths: ["`+narrow+`"]}, {name: wide, target_ratio: 0.5, dtype: uint32, paths: ["`+wide+`"]}]`)
	s, err := runToEnd(t, RunParams{Recipe: rec, RunsDir: root, Name: "mixed"})
	if err != nil {
		t.Fatal(err)
	}
	if s.Sources["narrow"] != 2560 || s.Sources["wide"] != 2560 {
		t.Errorf("tokens by source %v; want 2560 each", s.Sources)
	}
	_, err = ParseRecipe("tiny.yaml", []byte(tinyRecipe), []string{
		`dataset.sources=[{name: wide, target_ratio: 1, dtype: uint32, paths: ["` + wide + `"]}]`,
		`mixes={other: [{name: wide, target_ratio: 1, paths: ["` + wide + `"]}]}`})
	if err == nil || !strings.Contains(err.Error(), `mixes.other[0].dtype: source "wide" reads its files as the tokenizer's default here but as uint32 in dataset.sources[0]`) {
		t.Errorf("a name with two dtypes: %v", err)
	}
}

// TestRepetitionFactorOnResume: a resume checks the caps of its recipe.yaml,
// edited since the run started, against the whole run, as OLMo-core builds
// and checks a resumed run's mixture for the whole run: what the run drew up
// to the checkpoint plus what it still plans to draw. It was not checked at
// all. Here the edited cap (1.5 passes, 3072 tokens) holds what is left to
// draw (2688) but not the run's 3584, so the resume is refused, exit 2, and
// the run directory is left as it was.
func TestRepetitionFactorOnResume(t *testing.T) {
	root := t.TempDir()
	web := writeU16(t, filepath.Join(root, "web.npy"), 2048)
	rec := parseTiny(t, `dataset.sources.0.paths=["`+web+`"]`, "dataset.sources.0.repetition_factor=2")
	if _, err := runToEnd(t, RunParams{Recipe: rec, RunsDir: root, Name: "r"}); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "r")
	// as if stopped at its checkpoint at step 5
	os.Remove(filepath.Join(dir, SummaryFile))
	for _, s := range []string{"step-10", "step-15", "step-20"} {
		if err := os.RemoveAll(filepath.Join(dir, "checkpoints", s)); err != nil {
			t.Fatal(err)
		}
	}
	yml, err := os.ReadFile(filepath.Join(dir, RecipeFile))
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(yml), "repetition_factor: 2", "repetition_factor: 1.5", 1)
	if edited == string(yml) {
		t.Fatalf("no repetition_factor: 2 in %s:\n%s", RecipeFile, yml)
	}
	os.WriteFile(filepath.Join(dir, RecipeFile), []byte(edited), 0o644)
	events, _ := os.ReadFile(filepath.Join(dir, EventsFile))

	_, err = StartRun(context.Background(), RunParams{ResumeDir: dir, PeakFLOPS: 1e11})
	var ie *InputError
	if err == nil || !errors.As(err, &ie) {
		t.Fatalf("resume: %v; want an input error (exit 2)", err)
	}
	for _, w := range []string{
		`recipe.yaml: dataset.sources[0]: the run would draw in all 3584 tokens from source "web" (896 drawn up to step 5 + 0.7 of 3840 tokens on the checkpoint's mix), which holds 2048 (one pass); repetition_factor 1.5 allows 3072`,
		"HINT: set dataset.sources[0].repetition_factor to 1.75 or more",
	} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q:\n%v", w, err)
		}
	}
	if after, _ := os.ReadFile(filepath.Join(dir, EventsFile)); string(after) != string(events) {
		t.Errorf("the refused resume changed %s", EventsFile)
	}

	// the cap it started with holds the whole run: it resumes, to the end
	os.WriteFile(filepath.Join(dir, RecipeFile), yml, 0o644)
	r, err := StartRun(context.Background(), RunParams{ResumeDir: dir, PeakFLOPS: 1e11})
	if err != nil {
		t.Fatal(err)
	}
	if s, err := waitRun(t, r); err != nil || s.Steps != 20 {
		t.Errorf("resumed run: %d steps, %v; want 20", s.Steps, err)
	}
}

// TestMixSwitchCapped: a person's switch (m, ActSwitchMix) or anneal onto a
// mix is refused with a warning naming the source and the numbers (the
// event's Refused field set) where the whole run would then draw past the
// source's caps, counting what it drew so far; it escaped the caps, which
// were checked for the recipe's plan only. One within them is made.
func TestMixSwitchCapped(t *testing.T) {
	root := t.TempDir()
	small := writeU16(t, filepath.Join(root, "small.npy"), 256)
	mid := writeU16(t, filepath.Join(root, "mid.npy"), 512)
	roomy := writeU16(t, filepath.Join(root, "roomy.npy"), 256)
	sets := []string{
		// mid: 0.25 of 5120 planned (1280) against 4 passes (2048)
		`dataset.sources=[{name: web, target_ratio: 0.75, paths: ["builtin:web_clean"]}, {name: mid, target_ratio: 0.25, repetition_factor: 4, paths: ["` + mid + `"]}]`,
		`mixes={small: [{name: small, target_ratio: 1, repetition_factor: 1, paths: ["` + small + `"]}], more_mid: [{name: web, target_ratio: 0.4, paths: ["builtin:web_clean"]}, {name: mid, target_ratio: 0.6, paths: ["` + mid + `"]}], roomy: [{name: roomy, target_ratio: 1, repetition_factor: 20, paths: ["` + roomy + `"]}]}`,
		"checkpoint.interval=0",
	}
	for _, tc := range []struct {
		name string
		act  func(rec *Recipe) Action
		want string // the refusal; "": the switch is made
	}{
		{"new source", func(rec *Recipe) Action { return Action{Kind: ActSwitchMix, Mix: rec.NamedMixSources("small")} },
			`switch mix: mixes.small[0]: the run would draw in all 2560 tokens from source "small" (1 of 2560 tokens on the mix switched to), which holds 256 (one pass); repetition_factor 1 allows 256`},
		// 640 drawn, then 0.6 of the 2560 left: 2176, where the 1536 left alone would fit
		{"what it drew counts", func(rec *Recipe) Action { return Action{Kind: ActSwitchMix, Mix: rec.NamedMixSources("more_mid")} },
			`switch mix: dataset.sources[1]: the run would draw in all 2176 tokens from source "mid" (640 drawn up to step 10 + 0.6 of 2560 tokens on the mix switched to), which holds 512 (one pass); repetition_factor 4 allows 2048`},
		{"anneal onto it", func(rec *Recipe) Action {
			return Action{Kind: ActAnneal, Tokens: 1024, Mix: rec.NamedMixSources("small")}
		},
			`anneal: mixes.small[0]: the run would draw in all 1024 tokens from source "small" (1 of 1024 tokens on the anneal's mix)`},
		{"within its caps", func(rec *Recipe) Action { return Action{Kind: ActSwitchMix, Mix: rec.NamedMixSources("roomy")} }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := parseTiny(t, sets...)
			name := strings.ReplaceAll(tc.name, " ", "-")
			act := tc.act(rec)
			started := actAtStep(t, name, 10, act)
			r, err := StartRun(context.Background(), RunParams{Recipe: rec, RunsDir: root, Name: name, PeakFLOPS: 1e11})
			if err != nil {
				t.Fatal(err)
			}
			started(r)
			var refused []string
			var changed bool
			for _, e := range follow(t, r, nil) {
				if e.Refused == act.Kind {
					refused = append(refused, e.Message)
				}
				changed = changed || e.Change == ChangeMix || e.Change == ChangeAnneal
			}
			if _, err := r.Wait(); err != nil {
				t.Fatal(err)
			}
			if tc.want == "" {
				if len(refused) > 0 || !changed {
					t.Errorf("refused %q, switched %v; want it switched", refused, changed)
				}
				return
			}
			if len(refused) != 1 || !strings.Contains(refused[0], tc.want) || !strings.HasSuffix(refused[0], "; nothing done") {
				t.Errorf("refusals %q; want one with %q", refused, tc.want)
			}
			if changed {
				t.Errorf("the refused %s was made", act.Kind)
			}
		})
	}
}

// TestSideSoupCapped: a side soup (s, ActSoup) with a mix of its own is
// refused with a warning naming the source and the numbers (the event's
// Refused field set) where an ingredient, which reads the mix afresh, would
// draw past the source's caps; it escaped them, which switches and resumes
// were held to. One within them is made.
func TestSideSoupCapped(t *testing.T) {
	root := t.TempDir()
	small := writeU16(t, filepath.Join(root, "small.npy"), 256)
	roomy := writeU16(t, filepath.Join(root, "roomy.npy"), 256)
	sets := []string{
		`mixes={small: [{name: small, target_ratio: 1, repetition_factor: 1, paths: ["` + small + `"]}], roomy: [{name: roomy, target_ratio: 1, repetition_factor: 4, paths: ["` + roomy + `"]}]}`,
		"checkpoint.interval=0", "max_tokens=2560",
	}
	for _, tc := range []struct {
		name, mix string
		want      string // the refusal; "": the soup is made
	}{
		// 512 tokens of one ingredient against one pass of 256
		{"past its caps", "small", `soup: mixes.small[0]: each soup ingredient plans to draw 512 tokens from source "small" (1 of 512 tokens on mixes.small), which holds 256 (one pass); repetition_factor 1 allows 256 (the recipe's repetition_factor and max_source_ratio); nothing done`},
		{"within its caps", "roomy", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := parseTiny(t, sets...)
			name := strings.ReplaceAll(tc.name, " ", "-")
			act := Action{Kind: ActSoup, K: 1, Tokens: 512, Mix: rec.NamedMixSources(tc.mix)}
			started := actAtStep(t, name, 5, act)
			r, err := StartRun(context.Background(), RunParams{Recipe: rec, RunsDir: root, Name: name, PeakFLOPS: 1e11})
			if err != nil {
				t.Fatal(err)
			}
			started(r)
			var refused []string
			var souped bool
			for _, e := range follow(t, r, nil) {
				if e.Refused == ActSoup {
					refused = append(refused, e.Message)
				}
				souped = souped || e.Change == ChangeSoupStarting
			}
			if _, err := r.Wait(); err != nil {
				t.Fatal(err)
			}
			if tc.want == "" {
				if len(refused) > 0 || !souped {
					t.Errorf("refused %q, soup made %v; want it made", refused, souped)
				}
				return
			}
			if len(refused) != 1 || refused[0] != tc.want {
				t.Errorf("refusals %q; want one:\n%s", refused, tc.want)
			}
			if souped {
				t.Errorf("the refused soup was made")
			}
		})
	}
}

// TestDrawsFromStart: what a run plans to draw (plannedDraws, drawsFrom at
// its first step), for the recipes' shapes the caps check: switches, an
// anneal at auto_at (planned to end at max_tokens or not), a soup. The
// tiny recipe trains 5120 tokens in steps of 512.
func TestDrawsFromStart(t *testing.T) {
	const later = `mixes={later: [{name: qa, target_ratio: 1, paths: ["builtin:qa"]}]}`
	for _, c := range []struct {
		sets []string
		want string
	}{
		{nil, "dataset.sources 5120; | soup  0"},
		{[]string{later, "mix_schedule=[{at_tokens: 1000, mix: later}]"}, "dataset.sources 1024; mix_schedule[0] (mixes.later) 4096; | soup  0"},
		{[]string{later, "mix_schedule=[{at_tokens: 1000, mix: later}]", "anneal.auto_at=3000", "anneal.tokens=1000"},
			"dataset.sources 1024; mix_schedule[0] (mixes.later) 2048; mix_schedule[0] (mixes.later) 1024; | soup  0"},
		{[]string{"anneal.auto_at=3000", "anneal.tokens=2120", "max_tokens=5120"}, "dataset.sources 3072; dataset.sources 2048; | soup  0"},
		{[]string{later, `anneal={auto_at: 2560, tokens: 2560, mix: [{name: web, target_ratio: 1, paths: ["builtin:web_clean"]}]}`},
			"dataset.sources 2560; anneal.mix 2560; | soup  0"},
		{[]string{`soup={ingredients: 2, tokens: 512, mix: [{name: qa, target_ratio: 1, paths: ["builtin:qa"]}]}`}, "dataset.sources 5120; | soup soup.mix 512"},
		{[]string{"soup.ingredients=2", "anneal.auto_at=2560", "anneal.tokens=512"}, "dataset.sources 2560; | soup dataset.sources 512"},
	} {
		rec := parseTiny(t, c.sets...)
		run, soup := plannedDraws(rec)
		var got string
		for _, d := range run {
			got += fmt.Sprintf("%s %d; ", d.Field, d.Tokens)
		}
		got += fmt.Sprintf("| soup %s %d", soup.Field, soup.Tokens)
		if got != c.want {
			t.Errorf("%q:\nplanned %s\nwant    %s", c.sets, got, c.want)
		}
	}
}

// TestDrawsFromMidRun: what a resumed run (or one at a person's switch) still
// draws: the switches not yet made, from where it is; the recipe's anneal
// unless it has started; in an anneal, its mix to the end.
func TestDrawsFromMidRun(t *testing.T) {
	rec := parseTiny(t, `mixes={later: [{name: qa, target_ratio: 1, paths: ["builtin:qa"]}]}`, "mix_schedule=[{at_tokens: 2560, mix: later}]",
		"anneal.auto_at=4096", "anneal.tokens=1024")
	say := func(run []mixDraw) string {
		var parts []string
		for _, d := range run {
			parts = append(parts, fmt.Sprintf("%s %d", d.Field, d.Tokens))
		}
		return strings.Join(parts, ", ")
	}
	for _, tc := range []struct {
		st   CheckpointState
		want string
	}{
		// the anneal (no anneal.mix) keeps the mix it starts on
		{CheckpointState{Phase: "stage1", Tokens: 1280, TotalTokens: 5120}, "ck 1280, mix_schedule[0] (mixes.later) 1536, mix_schedule[0] (mixes.later) 1024"},
		{CheckpointState{Phase: "stage1", Tokens: 3072, TotalTokens: 5120, MixSwitches: 1}, "ck 1024, ck 1024"},
		// a switch due, not made: made at once
		{CheckpointState{Phase: "stage1", Tokens: 3072, TotalTokens: 5120}, "ck 0, mix_schedule[0] (mixes.later) 1024, mix_schedule[0] (mixes.later) 1024"},
		{CheckpointState{Phase: "stage1", Tokens: 4096, TotalTokens: 5120, MixSwitches: 1, AutoAnnealed: true}, "ck 1024"},
		{CheckpointState{Phase: "anneal", Tokens: 4352, TotalTokens: 5120, MixSwitches: 1}, "ck 768"},
	} {
		st := tc.st
		st.Mix = rec.Dataset
		run, _ := drawsFrom(rec, st, "ck")
		if say(run) != tc.want {
			t.Errorf("%s at %d of %d, %d switches made: %s; want %s", tc.st.Phase, tc.st.Tokens, tc.st.TotalTokens, tc.st.MixSwitches, say(run), tc.want)
		}
	}
}
