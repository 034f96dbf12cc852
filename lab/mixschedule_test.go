package lab

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/olmolab/olmolab/lab/data"
)

// scheduleSets give the tiny recipe a named mix "qa" and evaluations every 2
// steps (the moments at which actingEval acts); with mix_schedule the run
// switches to qa by itself after step 6 (1536 tokens).
var (
	qaMix        = []data.SourceSpec{{Name: "qa", TargetRatio: 1, Paths: []string{"builtin:qa"}}}
	webMix       = []data.SourceSpec{{Name: "web", TargetRatio: 1, Paths: []string{"builtin:web_clean"}}}
	scheduleBase = []string{`mixes={qa: [{name: qa, target_ratio: 1, paths: ["builtin:qa"]}]}`,
		"eval.tasks=[fake]", "eval.interval=2", "checkpoint.interval=0", "checkpoint.keep=0"}
	scheduleSet = "mix_schedule=[{at_tokens: 1536, mix: qa}]"
)

// switchEvents lists the run's mix switches from events.jsonl as "step message".
func switchEvents(t *testing.T, dir string) []string {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, EventsFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var e Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		if e.Type == EvPhase && strings.HasPrefix(e.Message, "switched mix") {
			out = append(out, fmt.Sprintf("%d %s", e.Step, e.Message))
		}
	}
	return out
}

// startActing starts rec in root/name with an evaluator that sends at[k]'s
// actions at its k-th evaluation (step 2k here).
func startActing(t *testing.T, rec *Recipe, root, name string, at map[int][]Action) *Run {
	t.Helper()
	ev := &actingEval{run: make(chan *Run, 1), at: at}
	r, err := StartRun(context.Background(), RunParams{Recipe: rec, RunsDir: root, Name: name, Evaluator: ev, PeakFLOPS: 1e11})
	if err != nil {
		t.Fatal(err)
	}
	ev.run <- r
	return r
}

// A recipe's mix_schedule switch is the m action made by the run itself:
// the same losses, step for step, as the same run switched by an action
// (ActSwitchMix, what the lab's m sends) at that step, and a "switched mix"
// event (the chart's marker) at the same step. Before mix_schedule a
// data curriculum could not be scripted for --batch.
func TestMixScheduleIsTheSwitchAction(t *testing.T) {
	root := t.TempDir()
	sched := startActing(t, parseTiny(t, append(scheduleBase, scheduleSet)...), root, "sched", nil)
	if s, err := waitRun(t, sched); err != nil || s.State != "finished" {
		t.Fatalf("scheduled: %s, %v", s.State, err)
	}
	// the action, sent at the evaluation after step 6, is applied before step 7
	act := startActing(t, parseTiny(t, scheduleBase...), root, "act", map[int][]Action{3: {{Kind: ActSwitchMix, Mix: qaMix}}})
	if s, err := waitRun(t, act); err != nil || s.State != "finished" {
		t.Fatalf("action: %s, %v", s.State, err)
	}
	none := startActing(t, parseTiny(t, scheduleBase...), root, "none", nil)
	if s, err := waitRun(t, none); err != nil || s.State != "finished" {
		t.Fatalf("no switch: %s, %v", s.State, err)
	}
	a, b, c := losses(t, filepath.Join(root, "sched")), losses(t, filepath.Join(root, "act")), losses(t, filepath.Join(root, "none"))
	if !slices.Equal(a, b) {
		t.Errorf("losses differ:\nscheduled %v\naction    %v", a, b)
	}
	if slices.Equal(a[6:], c[6:]) || !slices.Equal(a[:6], c[:6]) {
		t.Errorf("the scheduled run should train as the unswitched one for 6 steps, then differ:\nscheduled %v\nunswitched %v", a, c)
	}
	if got, want := switchEvents(t, filepath.Join(root, "sched")), []string{"6 switched mix to qa (mix_schedule at 1536 tokens)"}; !slices.Equal(got, want) {
		t.Errorf("scheduled run's switch events %q, want %q", got, want)
	}
	if got := switchEvents(t, filepath.Join(root, "act")); len(got) != 1 || !strings.HasPrefix(got[0], "6 ") {
		t.Errorf("action run's switch events %q, want one at step 6", got)
	}
}

// A run stopped before its scheduled switch switches after the resume; one
// stopped at the switch's step (its checkpoint written before the switch)
// switches on resuming; one stopped after it trains on the switched mix and
// does not switch again, nor undo a person's switch made since. Each
// resumed run has the uninterrupted run's losses.
func TestMixScheduleResume(t *testing.T) {
	back := Action{Kind: ActSwitchMix, Mix: webMix}
	stop := Action{Kind: ActStop}
	for _, tc := range []struct {
		name     string
		at       map[int][]Action // the uninterrupted run's actions, by evaluation
		stopAt   int              // the evaluation after which the run stops
		switches int              // "switched mix" events in the end
	}{
		{"stopped before the switch", nil, 2, 1},
		{"stopped at the switch's step", nil, 3, 1},
		{"stopped after the switch", nil, 4, 1},
		{"stopped after a person switched back", map[int][]Action{4: {back}}, 5, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			ref := startActing(t, parseTiny(t, append(scheduleBase, scheduleSet)...), root, "ref", tc.at)
			if s, err := waitRun(t, ref); err != nil || s.State != "finished" {
				t.Fatalf("uninterrupted: %s, %v", s.State, err)
			}
			at := map[int][]Action{}
			for k, v := range tc.at {
				at[k] = v
			}
			at[tc.stopAt] = append(slices.Clone(at[tc.stopAt]), stop)
			r := startActing(t, parseTiny(t, append(scheduleBase, scheduleSet)...), root, "stopped", at)
			if s, err := waitRun(t, r); err != nil || s.State != "stopped" || s.Steps != int64(2*tc.stopAt) {
				t.Fatalf("stop: %s at step %d, %v; want stopped at %d", s.State, s.Steps, err, 2*tc.stopAt)
			}
			dir := filepath.Join(root, "stopped")
			if s, err := runToEnd(t, RunParams{ResumeDir: dir, Evaluator: &fakeEval{}}); err != nil || s.State != "finished" {
				t.Fatalf("resumed: %s, %v", s.State, err)
			}
			want, got := losses(t, filepath.Join(root, "ref")), losses(t, dir)
			if !slices.Equal(got, want) {
				t.Errorf("resumed losses differ from the uninterrupted run's:\nresumed       %v\nuninterrupted %v", got, want)
			}
			if ev := switchEvents(t, dir); len(ev) != tc.switches || !strings.HasPrefix(ev[0], "6 switched mix to qa") {
				t.Errorf("switch events %q, want %d, the first the schedule's at step 6", ev, tc.switches)
			}
			ck, err := loadCheckpoint(dir)
			if err != nil {
				t.Fatal(err)
			}
			ck.Close()
			if ck.State.MixSwitches != 1 {
				t.Errorf("the final checkpoint counts %d scheduled switches, want 1", ck.State.MixSwitches)
			}
		})
	}
}

// mix_schedule parses from the file and from --set; its mistakes stop the
// recipe with the file, line and field (exit 2 in --batch), and a switch
// after the automatic anneal starts is refused: the anneal's mix is its own.
func TestRecipeMixSchedule(t *testing.T) {
	const mixes = "mixes:\n  qa: [{name: qa, target_ratio: 1, paths: [\"builtin:qa\"]}]\n  web: [{name: web, target_ratio: 1, paths: [\"builtin:web_clean\"]}]\n"
	for _, tc := range []struct {
		name string
		yaml string   // appended to tinyRecipe
		sets []string // --set
		want []MixSwitch
		err  string // "" parses
		warn string
	}{
		{name: "two switches", yaml: mixes + "mix_schedule:\n  - {at_tokens: 1K, mix: qa}\n  - {at_tokens: 2.5K, mix: web}\n",
			want: []MixSwitch{{1000, "qa"}, {2500, "web"}}},
		{name: "from --set", yaml: mixes, sets: []string{"mix_schedule=[{at_tokens: 1536, mix: qa}]"}, want: []MixSwitch{{1536, "qa"}}},
		{name: "a --set of one field", yaml: mixes + "mix_schedule: [{at_tokens: 1K, mix: qa}]\n", sets: []string{"mix_schedule.0.at_tokens=2K"}, want: []MixSwitch{{2000, "qa"}}},
		{name: "the anneal's mix by name", yaml: "anneal: {mix: [{name: qa, target_ratio: 1, paths: [\"builtin:qa\"]}]}\nmix_schedule: [{at_tokens: 1K, mix: anneal}]\n",
			want: []MixSwitch{{1000, "anneal"}}},
		{name: "past max_tokens", yaml: mixes + "mix_schedule: [{at_tokens: 9K, mix: qa}]\n", want: []MixSwitch{{9000, "qa"}},
			warn: `tiny.yaml:18:28: mix_schedule[0].at_tokens 9000 is not before max_tokens 5120: the run ends before it switches to "qa"`},
		{name: "unknown mix", yaml: mixes + "mix_schedule: [{at_tokens: 1K, mix: curated}]\n",
			err: `tiny.yaml:18:37: mix_schedule[0].mix: no mix "curated" under mixes: (it has qa, web)`},
		{name: "the anneal's mix, none given", yaml: mixes + "mix_schedule: [{at_tokens: 1K, mix: anneal}]\n",
			err: `tiny.yaml:18:37: mix_schedule[0].mix: no mix "anneal": it is the anneal's mix, and anneal.mix is not given (mixes: has qa, web); HINT: give anneal.mix its sources`},
		{name: "the anneal's mix, no mixes", yaml: "mix_schedule: [{at_tokens: 1K, mix: anneal}]\n",
			err: `mix_schedule[0].mix: no mix "anneal": it is the anneal's mix, and anneal.mix is not given (the recipe names no mixes); HINT: give anneal.mix its sources`},
		{name: "no mixes", yaml: "mix_schedule: [{at_tokens: 1K, mix: qa}]\n",
			err: `mix_schedule[0].mix: no mix "qa": the recipe names no mixes`},
		{name: "at 0", yaml: mixes + "mix_schedule: [{at_tokens: 0, mix: qa}]\n",
			err: `tiny.yaml:18:28: mix_schedule[0].at_tokens: a switch at 0 tokens: the run starts on dataset.sources`},
		{name: "out of order", yaml: mixes + "mix_schedule: [{at_tokens: 2K, mix: qa}, {at_tokens: 1K, mix: web}]\n",
			err: `mix_schedule[1].at_tokens: 1000 is not after the switch before it (mix_schedule[0] at 2000)`},
		{name: "at the anneal", yaml: mixes + "anneal: {auto_at: 3K, tokens: 2120}\nmix_schedule: [{at_tokens: 3K, mix: qa}]\n",
			err: `tiny.yaml:19:28: mix_schedule[0].at_tokens: 3000 is not before anneal.auto_at 3000`},
		{name: "after the anneal, by --set", yaml: mixes + "anneal: {auto_at: 3K, tokens: 2120}\nmix_schedule: [{at_tokens: 1K, mix: qa}]\n",
			sets: []string{"mix_schedule.0.at_tokens=4K"}, err: `mix_schedule[0].at_tokens: 4000 is not before anneal.auto_at 3000`},
		{name: "a stage-2 anneal", yaml: mixes + "load_path: /x\nanneal: true\nmix_schedule: [{at_tokens: 1K, mix: qa}]\n",
			err: `mix_schedule[0]: the run is an anneal from load_path (anneal: true)`},
		{name: "sources, not a name", yaml: mixes + "mix_schedule: [{at_tokens: 1K, mix: [{name: qa, target_ratio: 1, paths: [\"builtin:qa\"]}]}]\n",
			err: `tiny.yaml:18:37: mix_schedule[0].mix: want the name of a mix under mixes:, got a list of sources`},
		{name: "no at_tokens", yaml: mixes + "mix_schedule: [{mix: qa}]\n", err: `mix_schedule[0].at_tokens: missing`},
		{name: "no mix", yaml: mixes + "mix_schedule: [{at_tokens: 1K}]\n", err: `mix_schedule[0].mix: missing`},
		{name: "not a list", yaml: mixes + "mix_schedule: {at_tokens: 1K, mix: qa}\n", err: `mix_schedule: want a list of switches ({at_tokens, mix})`},
		{name: "a bad count", yaml: mixes + "mix_schedule: [{at_tokens: soon, mix: qa}]\n", err: `tiny.yaml:18:28: mix_schedule[0].at_tokens: want a whole number`},
		{name: "a typo", yaml: mixes + "mix_schedul: [{at_tokens: 1K, mix: qa}]\n", err: `mix_schedul: unknown key; did you mean "mix_schedule"?`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ParseRecipe("tiny.yaml", []byte(tinyRecipe+tc.yaml), tc.sets)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(r.MixSchedule, tc.want) {
				t.Errorf("mix_schedule %+v, want %+v", r.MixSchedule, tc.want)
			}
			if tc.warn != "" && !slices.ContainsFunc(r.Warnings, func(w string) bool { return strings.Contains(w, tc.warn) }) {
				t.Errorf("warnings %q, want one containing %q", r.Warnings, tc.warn)
			}
		})
	}
}
