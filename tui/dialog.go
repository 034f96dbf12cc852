package tui

import (
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/olmolab/olmolab/lab"
	"github.com/olmolab/olmolab/lab/data"
	"github.com/olmolab/olmolab/lab/plural"
)

// dialogKind is what a confirmation dialog is about. Every action key opens
// one that says what will happen before anything does.
type dialogKind int

const (
	dlgLaunch dialogKind = iota
	dlgAnneal
	dlgMix
	dlgSoup
	dlgCheckpoint
	dlgEval
	dlgPause
	dlgStop
	dlgQuit
	dlgTakeOver
	dlgRewind
)

// field is a one-line text input. filled is the value the dialog put in (a
// ratio field: the run's share); a value the person changed differs from it.
type field struct {
	label, value, hint string
	filled             string
}

// mixChoice is one entry of a dialog's mix picker; a nil mix keeps the current
// one, and edit opens the ratio fields.
type mixChoice struct {
	name string
	mix  []data.SourceSpec
	edit bool
}

type dialog struct {
	kind   dialogKind
	title  string
	fields []*field
	mixes  []mixChoice
	mixIdx int
	ratios []*field // per source, when the picked mix is "edit ratios"
	srcs   []data.SourceSpec
	focus  int
	err    string
	recipe *recipeEntry
	// the launch dialog's facts of the recipe with the --set overrides
	// typed, parsed once per change of them (setsKey)
	setsKey   string
	setsFacts []string
	scroll    int // first body line shown when the body is taller than the window
	// the mix dialog's ratio fields follow the run's mix: mixWas is the mix
	// when it opened, mixNow the one the fields were last filled from
	mixWas, mixNow string
}

// slot is a focusable line of a dialog: a text field or the mix picker.
type slot struct {
	f      *field
	picker bool
}

func (d *dialog) slots() []slot {
	var s []slot
	for _, f := range d.fields {
		s = append(s, slot{f: f})
	}
	if len(d.mixes) > 0 {
		s = append(s, slot{picker: true})
		if d.mixes[d.mixIdx].edit {
			for _, f := range d.ratios {
				s = append(s, slot{f: f})
			}
		}
	}
	return s
}

func (d *dialog) focused() slot {
	s := d.slots()
	if len(s) == 0 {
		return slot{}
	}
	d.focus = (d.focus%len(s) + len(s)) % len(s)
	return s[d.focus]
}

func (d *dialog) move(delta int) {
	if n := len(d.slots()); n > 0 {
		d.focus = ((d.focus+delta)%n + n) % n
	}
}

func (d *dialog) choose(delta int) {
	if len(d.mixes) > 0 && d.focused().picker {
		n := len(d.mixes)
		d.mixIdx = ((d.mixIdx+delta)%n + n) % n
	}
}

// typeText adds typed text to the focused field.
func (d *dialog) typeText(s string) {
	if f := d.focused().f; f != nil {
		f.value += s
		d.err = ""
	}
}

func (d *dialog) backspace() {
	if f := d.focused().f; f != nil && f.value != "" {
		r := []rune(f.value)
		f.value = string(r[:len(r)-1])
		d.err = ""
	}
}

// clearField empties the focused field (ctrl+u).
func (d *dialog) clearField() {
	if f := d.focused().f; f != nil && f.value != "" {
		f.value = ""
		d.err = ""
	}
}

// deleteWord deletes the focused field's last word and the spaces after it
// (ctrl+w), as textinput's DeleteWordBackward does at the end of a field.
func (d *dialog) deleteWord() {
	if f := d.focused().f; f != nil && f.value != "" {
		v := strings.TrimRight(f.value, " ")
		f.value = v[:strings.LastIndex(v, " ")+1]
		d.err = ""
	}
}

// hasInput says whether typing goes into a field (so letters are text, not keys).
func (d *dialog) hasInput() bool { return d.focused().f != nil }

// mixChoices are the mixes a run can move to: the recipe's named mixes and its
// stage-1 dataset; keep puts "keep the current mix" first.
func mixChoices(rec *lab.Recipe, keep bool, preferred string) ([]mixChoice, int) {
	var out []mixChoice
	if keep {
		out = append(out, mixChoice{name: "keep current mix"})
	}
	idx := 0
	if rec != nil {
		for _, nm := range rec.Mixes {
			if nm.Name == preferred {
				idx = len(out)
			}
			out = append(out, mixChoice{name: nm.Name, mix: nm.Sources})
		}
		out = append(out, mixChoice{name: "stage-1 dataset", mix: rec.Dataset})
	}
	return out, idx
}

// knownSources is every source the run knows (current mix first, then the
// recipe's), so edited ratios can name any of them.
func knownSources(cur []data.SourceSpec, rec *lab.Recipe) []data.SourceSpec {
	seen := map[string]bool{}
	var out []data.SourceSpec
	add := func(ss []data.SourceSpec) {
		for _, s := range ss {
			if !seen[s.Name] {
				seen[s.Name] = true
				out = append(out, s)
			}
		}
	}
	add(cur)
	if rec != nil {
		add(rec.Dataset)
		for _, nm := range rec.Mixes {
			add(nm.Sources)
		}
	}
	return out
}

// editedMix reads the ratio fields (percentages, normalised by the loader).
func (d *dialog) editedMix() ([]data.SourceSpec, error) {
	var out []data.SourceSpec
	sum := 0.0
	for i, f := range d.ratios {
		v := strings.TrimSuffix(strings.TrimSpace(f.value), "%")
		if v == "" {
			v = "0"
		}
		x, err := strconv.ParseFloat(v, 64)
		if err != nil || x < 0 || math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("%s: %q is not a share ≥ 0", f.label, f.value)
		}
		s := d.srcs[i]
		s.TargetRatio = x / 100
		sum += x
		out = append(out, s)
	}
	if sum <= 0 {
		return nil, fmt.Errorf("give at least one source a share above 0")
	}
	return out, nil
}

// pickedMix is the mix the dialog would apply (nil: keep the current one).
func (d *dialog) pickedMix() ([]data.SourceSpec, error) {
	if len(d.mixes) == 0 {
		return nil, nil
	}
	c := d.mixes[d.mixIdx]
	if c.edit {
		return d.editedMix()
	}
	return c.mix, nil
}

// mixLine writes a mix as "web_clean 50% · math 25% · qa 25%".
func mixLine(mix []data.SourceSpec) string {
	var parts []string
	for _, s := range activeMix(mix) {
		parts = append(parts, fmt.Sprintf("%s %s", s.Name, fmtPct(s.TargetRatio)))
	}
	if len(parts) == 0 {
		return "(empty)"
	}
	return strings.Join(parts, " · ")
}

// openDialog builds the dialog of an action on the dashboard's live run.
func (m *Model) openDialog(kind dialogKind) {
	d := &dialog{kind: kind}
	rec := m.liveRecipe()
	cur := m.liveData
	switch kind {
	case dlgAnneal:
		d.title = "Anneal now"
		n := int64(0)
		if rec != nil {
			n = rec.Anneal.Tokens
		}
		if n <= 0 && cur != nil {
			n = max(cur.Last.Tokens/4, 1)
		}
		d.fields = []*field{{label: "tokens", value: countInput(n), hint: "anneal length, e.g. 400K"}}
		d.mixes, d.mixIdx = mixChoices(rec, true, "anneal")
	case dlgMix:
		d.title = "Switch data mix"
		d.mixes, d.mixIdx = mixChoices(rec, false, "")
		d.mixes = append(d.mixes, mixChoice{name: "edit ratios…", edit: true})
		var curMix []data.SourceSpec
		if cur != nil {
			curMix = cur.runMix()
		}
		d.srcs = knownSources(curMix, rec)
		for _, s := range d.srcs {
			d.ratios = append(d.ratios, &field{label: s.Name, hint: "%"})
		}
		d.mixWas = mixLine(curMix)
		d.followMix(curMix)
	case dlgSoup:
		d.title = "Make a soup"
		k, n := 3, int64(0)
		if rec != nil {
			if rec.Soup.Ingredients > 0 {
				k = rec.Soup.Ingredients
			}
			n = rec.Soup.Tokens
			if n <= 0 {
				n = rec.Anneal.Tokens
			}
		}
		if n <= 0 && cur != nil {
			n = max(cur.Last.Tokens/4, 1)
		}
		d.fields = []*field{{label: "ingredients", value: strconv.Itoa(k), hint: "anneals to average"},
			{label: "tokens each", value: countInput(n), hint: "anneal length of each"}}
		pref := "anneal"
		if rec != nil && len(rec.Soup.Mix) > 0 {
			d.mixes = append(d.mixes, mixChoice{name: "soup mix", mix: rec.Soup.Mix})
		}
		more, idx := mixChoices(rec, true, pref)
		if len(d.mixes) == 0 {
			d.mixIdx = idx
		}
		d.mixes = append(d.mixes, more...)
	case dlgCheckpoint:
		d.title = "Checkpoint now"
	case dlgEval:
		d.title = "Evaluate now"
	case dlgPause:
		d.title = "Pause training" // or "Resume training": see dialogTitle
	case dlgStop:
		d.title = "Stop the run"
	case dlgQuit:
		d.title = "Quit while training"
	case dlgTakeOver:
		d.title = "Take over the headless run"
	case dlgRewind:
		d.title = "Rewind: fork from a checkpoint"
		from := ""
		if c := m.cur; c != nil {
			from = rewindDefault(c)
		}
		d.fields = []*field{{label: "checkpoint", value: from, hint: "step-N, one the run kept"},
			{label: "skip steps", value: "0", hint: "batches after it to leave out"},
			{label: "name", hint: "new run directory (default RUN-from-N)"}}
	}
	m.showDialog(d)
}

// showDialog opens d showing what the person acts on: a dialog with inputs
// taller than the window (the launch and soup dialogs at 60×16) is scrolled
// so that its inputs, which end its body, are in view with the focused one
// (it opened at its top, the inputs below the fold); one without inputs
// opens at its top, where what it will do begins.
func (m *Model) showDialog(d *dialog) {
	m.dialog = d
	m.updateKeys() // the key line's keys, which the layout measures
	w, _ := m.dialogSize()
	if lay := m.layoutDialog(w); lay.focus >= 0 {
		m.scrollDialog(0, len(lay.body)-1)
		m.scrollDialog(0, lay.focus)
	}
}

// followMix fills the mix dialog's ratio fields from the run's mix cur, as
// it opens and whenever the mix changes while it is open (an anneal onto
// another mix, a switch applied meanwhile): a field the person has not
// changed takes the new share; one they typed in keeps their value, with the
// run's share beside it, and ctrl+r takes the run's shares (takeRunMix).
func (d *dialog) followMix(cur []data.SourceSpec) {
	if d.kind != dlgMix {
		return
	}
	now := mixLine(cur)
	if now == d.mixNow && d.mixNow != "" {
		return
	}
	d.mixNow = now
	shares := map[string]float64{}
	for _, s := range activeMix(cur) {
		shares[s.Name] = s.TargetRatio
		if !slices.ContainsFunc(d.srcs, func(k data.SourceSpec) bool { return k.Name == s.Name }) {
			d.srcs = append(d.srcs, s) // a source new to this dialog: a field of its own
			d.ratios = append(d.ratios, &field{label: s.Name, hint: "%"})
		}
	}
	for i, f := range d.ratios {
		v := strconv.FormatFloat(math.Round(1000*shares[d.srcs[i].Name])/10, 'f', -1, 64)
		if f.value == f.filled {
			f.value = v
		}
		f.filled = v
	}
}

// mixChanged says whether the run's mix changed while the mix dialog was open.
func (d *dialog) mixChanged() bool { return d.kind == dlgMix && d.mixNow != d.mixWas }

// keptRatios says whether a ratio field holds a value the person typed that
// is not the run's share now, once the run's mix changed under it.
func (d *dialog) keptRatios() bool {
	if !d.mixChanged() {
		return false
	}
	for _, f := range d.ratios {
		if f.value != f.filled {
			return true
		}
	}
	return false
}

// takeRunMix sets every ratio field to the run's share.
func (d *dialog) takeRunMix() {
	for _, f := range d.ratios {
		f.value = f.filled
	}
	d.err = ""
}

// ratioHint is what follows a ratio field: "%", and the run's share when the
// mix changed under a value the person typed.
func (d *dialog) ratioHint(f *field) string {
	if f.filled != "" && f.value != f.filled && d.mixChanged() {
		return f.hint + "  run's now " + f.filled
	}
	return f.hint
}

// soupSeeds are the data-order seeds a soup of k ingredients uses: the
// recipe's when it lists k of them, else seed+1 … seed+k (the lab's rule).
func soupSeeds(rec *lab.Recipe, k int) []uint64 {
	if rec != nil && len(rec.Soup.Seeds) == k {
		return rec.Soup.Seeds
	}
	var base uint64
	if rec != nil {
		base = rec.Seed
	}
	out := make([]uint64, k)
	for i := range out {
		out[i] = base + uint64(i) + 1
	}
	return out
}

// dialogBody is what the dialog says will happen, computed from its current
// values so it follows what the person types.
func (m *Model) dialogBody(d *dialog) []string {
	rec := m.liveRecipe()
	cur := m.liveData
	var step, tokens int64
	lr := 0.0
	name, dir := "", ""
	if cur != nil {
		step, tokens, lr, name, dir = cur.Last.Step, cur.Last.Tokens, cur.Last.LR, cur.Name, cur.Dir
	}
	gb := int64(1)
	if rec != nil && rec.GlobalBatchSize > 0 {
		gb = int64(rec.GlobalBatchSize)
	}
	var out []string
	if why := m.actionWhyNot(d.kind); why != "" {
		return []string{"This no longer applies: " + why + ".", "esc closes this dialog."}
	}
	switch d.kind {
	case dlgLaunch:
		out = d.launchFacts()
		out = append(out, "", "Training starts in this session; its dashboard opens.")
	case dlgAnneal:
		n, err := parseCount(d.fields[0].value)
		if err != nil || n <= 0 {
			out = append(out, "tokens: give a count such as 400K")
			break
		}
		// The lab applies the anneal at the first step boundary after enter,
		// which may be steps past the last one drawn here (events arrive in
		// frames, training goes on while the dialog is open): say where it
		// starts relative to that moment, and give the step and token count
		// it ends at as the least they can be. The lab reports the real ones.
		steps := (n + gb - 1) / gb
		if cur != nil && cur.State == "paused" {
			// no step boundary comes while paused: the lab anneals from
			// the step the run is paused at, at once
			out = append(out,
				fmt.Sprintf("LR %s → 0 linearly over %s tokens (≈%s), from step %d, where the run is paused; the run ends with the anneal.", fmtY(lr), lab.HumanCount(n), plural.N(int(steps), "step"), step),
				fmt.Sprintf("It ends at step %d (%s tokens); space resumes the run into it.", step+steps, lab.HumanCount(tokens+steps*gb)))
		} else {
			out = append(out,
				fmt.Sprintf("LR %s → 0 linearly over %s tokens (≈%s), from the first step boundary after you confirm; the run ends with the anneal.", fmtY(lr), lab.HumanCount(n), plural.N(int(steps), "step")),
				fmt.Sprintf("Now at step %d (%s tokens): it ends at step %d or later (%s tokens or more).", step, lab.HumanCount(tokens), step+steps, lab.HumanCount(tokens+steps*gb)))
		}
		if mix, err := d.pickedMix(); err == nil && mix != nil {
			out = append(out, "Data from the next step: "+mixLine(mix))
		} else if err == nil && cur != nil {
			out = append(out, "Data stays: "+mixLine(cur.runMix()))
		}
		extra := "Optimizer state is kept (OLMo 2 stage 2)."
		if rec != nil && rec.Eval.AtAnneal && rec.Eval.Any() {
			extra += " Evaluates first (eval.at_anneal)."
		}
		out = append(out, extra)
		if soup := rec.PlannedSoup(); soup != "" {
			// the lab makes it from stage 1 only, and says so as it anneals
			out = append(out, "The recipe's soup ("+soup+") is then never made: it starts from stage 1, and the run ends with this anneal.")
		}
	case dlgMix:
		mix, err := d.pickedMix()
		if err != nil {
			out = append(out, err.Error())
			break
		}
		out = append(out, "From the next step the loader samples:", "  "+mixLine(mix),
			"LR schedule and optimizer state are unchanged.")
		if cur != nil {
			out = append(out, "Now: "+mixLine(cur.runMix()))
		}
		if d.mixChanged() {
			out = append(out, "The run's mix changed while this was open (it was "+d.mixWas+").")
			if d.keptRatios() {
				out = append(out, "The ratios you typed are kept, the run's share beside each; "+m.keys.TakeMix.Help().Key+" takes the run's.")
			} else {
				out = append(out, "The ratio fields hold its shares.")
			}
		}
	case dlgSoup:
		k, err1 := strconv.Atoi(strings.TrimSpace(d.fields[0].value))
		n, err2 := parseCount(d.fields[1].value)
		if err1 != nil || k < 1 || k > 16 || err2 != nil || n <= 0 {
			out = append(out, "give 1–16 ingredients and a token count such as 400K")
			break
		}
		// the soup starts from the checkpoint written at the first step
		// boundary after enter: a step that is at least the next one; while
		// paused, at once, from the step the run is paused at
		paused := cur != nil && cur.State == "paused"
		from := fmt.Sprintf("the first step boundary after you confirm (step %d or later)", step+1)
		if paused {
			from = fmt.Sprintf("step %d, where the run is paused", step)
		}
		out = append(out,
			fmt.Sprintf("%s of %s tokens (≈%s) each, from a checkpoint written at %s, data-order seeds %s, LR %s → 0; weights averaged uniformly.",
				plural.N(k, "anneal"), lab.HumanCount(n), plural.N(int((n+gb-1)/gb), "step"), from, seedList(soupSeeds(rec, k)), fmtY(lr)))
		// what it costs, at the speed the status shows: the recipe's
		// anneal length by default, 3 of them, can outlast the run itself
		if steps := int64(k) * ((n + gb - 1) / gb); cur != nil && cur.tokensPerSec() > 0 {
			left, _ := cur.tps.Left(steps * gb)
			out = append(out, fmt.Sprintf("In all %s tokens (≈%s), about %s at the current speed; the run's own training waits.",
				lab.HumanCount(steps*gb), plural.N(int(steps), "step"), lab.HumanDuration(left)))
		}
		if mix, err := d.pickedMix(); err == nil && mix != nil {
			out = append(out, "Data: "+mixLine(mix))
		}
		phase := "stage1"
		if cur != nil && cur.Phase != "" {
			phase = cur.Phase
		}
		if paused {
			// the lab pauses the run again after the soup, at its step
			out = append(out, "Every ingredient and the soup are evaluated.",
				fmt.Sprintf("Files: %s/soups/soup-%d/.", dir, step),
				fmt.Sprintf("Then the run, its own weights back, is paused again at step %d; space resumes %s from there.", step, phase))
			break
		}
		out = append(out, "Every ingredient and the soup are evaluated.",
			fmt.Sprintf("Files: %s/soups/soup-N/, N the step it starts from.", dir),
			fmt.Sprintf("Then %s goes on from that step with the run's own weights.", phase))
	case dlgCheckpoint:
		keep := ""
		if rec != nil && rec.Checkpoint.Keep > 0 {
			keep = fmt.Sprintf(" (the newest %d are kept)", rec.Checkpoint.Keep)
		}
		paused := cur != nil && cur.State == "paused"
		// a checkpoint of this step from before its anneal or mix switch
		// holds the run before them: the lab writes it again
		stale := cur != nil && step > 0 && cur.CkptStep == step && cur.CkptBefore != ""
		switch {
		case cur != nil && cur.checkpointAt(step) && paused:
			// the lab would answer with this path (lab.CheckpointExists)
			out = append(out, fmt.Sprintf("Step %d, where the run is paused, has its checkpoint already: %s. Nothing is written; the lab answers with that path.", step, cur.Checkpoint))
		case paused:
			out = append(out, fmt.Sprintf("Write weights, optimizer state and data position to %s, the step the run is paused at%s.",
				filepath.Join(dir, lab.CkptDir, fmt.Sprintf("step-%d", step)), keep))
			if stale {
				out = append(out, fmt.Sprintf("Its checkpoint there (%s) is from before %s: it is written again.", cur.Checkpoint, cur.CkptBefore))
			}
		default:
			out = append(out, fmt.Sprintf("At the first step boundary after you confirm, write weights, optimizer state and data position to %s, N the step it follows (%d or later)%s.",
				filepath.Join(dir, lab.CkptDir, "step-N"), step+1, keep))
			switch {
			case cur != nil && cur.checkpointAt(step):
				out = append(out, fmt.Sprintf("Step %d, the last drawn, has its checkpoint already (%s): should the run still be at that step when this applies, nothing is written and the lab answers with that path.", step, cur.Checkpoint))
			case stale:
				out = append(out, fmt.Sprintf("Step %d, the last drawn, has a checkpoint from before %s (%s): should the run still be at that step when this applies, it is written again.", step, cur.CkptBefore, cur.Checkpoint))
			}
		}
	case dlgEval:
		tasks := "(none)"
		if rec != nil {
			tasks = strings.Join(rec.Eval.Names(), ", ")
		}
		evaluated := cur != nil && step > 0 && cur.Eval != nil && cur.Eval.Step == step
		switch {
		case evaluated && cur.State == "paused":
			// the lab would answer so, evaluating nothing
			out = append(out, fmt.Sprintf("Step %d, where the run is paused, is evaluated already (%s): nothing is evaluated again. Its scores are in the evaluation view (3) and %s.",
				step, cur.Eval.Why, filepath.Join(dir, lab.EvalsFile)))
		case cur != nil && cur.State == "paused":
			// the lab applies it while it waits, at once
			out = append(out, fmt.Sprintf("Evaluate the weights of step %d, where the run is paused, on:", step), "  "+tasks,
				"Scores go to evals.jsonl.")
		default:
			out = append(out, "Evaluate the current weights after this step on:", "  "+tasks,
				"Training waits while it runs; scores go to evals.jsonl.")
			if evaluated {
				out = append(out, fmt.Sprintf("Step %d, the last drawn, is evaluated already (%s): should the run still be at that step when this applies, nothing is evaluated again (its scores: the evaluation view, 3).", step, cur.Eval.Why))
			}
		}
	case dlgPause:
		switch {
		case cur != nil && cur.soupPastItsSteps():
			// the soup takes no action after its last step: the run
			// pauses at its next boundary, once the soup is done
			out = append(out, fmt.Sprintf("Pause once the soup is done (its last evaluations), at step %d.", step),
				"Nothing is lost; space resumes. Actions still apply while paused.")
		case cur != nil && cur.State == "paused" && cur.soupUnderWay():
			out = append(out, "Continue the soup where it stopped.")
		case cur != nil && cur.State == "paused":
			out = append(out, fmt.Sprintf("Continue training from step %d.", step))
		case cur != nil && cur.soupUnderWay():
			out = append(out, "Pause the soup after its current step. Nothing is lost; space resumes it; meanwhile only stop applies.")
		default:
			out = append(out, "Pause after the current step. Nothing is lost; space resumes.",
				"Actions still apply while paused.")
		}
	case dlgStop:
		out = append(out, stopLines(cur)...)
		out = append(out, "Continue it later with:", "  olmolab --batch --resume "+dir)
	case dlgQuit:
		paused := cur != nil && cur.State == "paused"
		if paused {
			out = append(out, fmt.Sprintf("%s is paused at step %d.", name, step), "")
		} else {
			out = append(out, fmt.Sprintf("%s is still training (step %d).", name, step), "")
		}
		if why := m.liveData.actionState(rec).WhyNot(lab.ActStop); why != "" {
			// it finishes whatever is asked: there is nothing to stop
			out = append(out, "s    quit when it has finished: "+why)
			if m.opts.Detach != nil {
				again := "its final evaluation again"
				if cur.soupUnderWay() {
					again = "the recipe's soup again from its checkpoint"
				}
				out = append(out, "d    detach: cut it short and quit; a headless process",
					"     (olmolab --batch --resume) makes "+again+",",
					"     and finishes the run (reopen olmolab to follow it)")
			}
		} else {
			out = append(out, "s    stop: "+quitStopLine(cur)+", quit")
			if m.opts.Detach != nil {
				out = append(out, "d    detach: checkpoint, quit, and keep training headless",
					"     (olmolab --batch --resume; output in the run directory,",
					"     reopen olmolab to follow it)")
				if paused {
					// a headless run has no pause: detached, the run a
					// person paused to think trained on unattended
					out = append(out, fmt.Sprintf("     The pause ends: the headless run trains on from step %d.", step))
				}
				if cur.soupUnderWay() {
					out = append(out, "     A soup in progress is abandoned: the run goes on from the",
						"     checkpoint it started from (the recipe's own soup is made again).")
				}
			}
		}
		out = append(out, "esc  cancel")
	case dlgRewind:
		out = append(out, rewindLines(m.cur)...)
	case dlgTakeOver:
		c := m.cur
		pid := 0
		if l, ok := lab.ReadLock(c.Dir); ok {
			pid = l.PID
		}
		out = append(out, fmt.Sprintf("%s is training headless (pid %d).", c.Name, pid),
			"Its process writes a checkpoint and exits (SIGTERM); then the run",
			"resumes here from that checkpoint and its keys work again.")
	}
	return out
}

// stopLines is what a stop does to the run as its events tell it: during a
// soup the soup is abandoned, unless it is past its last step, when the lab
// takes the stop only once the soup is done.
func stopLines(cur *runData) []string {
	switch {
	case cur != nil && cur.soupPastItsSteps():
		return []string{fmt.Sprintf("Let the soup finish (its last evaluations), then end the run at step %d, the checkpoint the soup started from (state: stopped).", cur.Last.Step)}
	case cur != nil && cur.soupUnderWay():
		return []string{"Abandon the soup and end the run at the checkpoint the soup started from (state: stopped)."}
	}
	return []string{"Write a checkpoint and end the run (state: stopped)."}
}

// quitStopLine is the quit dialog's "s" line: what a stop does, briefly.
func quitStopLine(cur *runData) string {
	switch {
	case cur != nil && cur.soupPastItsSteps():
		return "let the soup finish, end the run at its checkpoint"
	case cur != nil && cur.soupUnderWay():
		return "abandon the soup, end the run at its checkpoint"
	}
	return "write a checkpoint, end the run"
}

func seedList(s []uint64) string {
	var parts []string
	for _, x := range s {
		parts = append(parts, strconv.FormatUint(x, 10))
	}
	return strings.Join(parts, ", ")
}

// launchFacts describes the launch dialog's recipe as the --set overrides
// typed make it (the budget, the anneal, the steps they change), or, when
// they do not parse, as the file says, with why: what enter would launch,
// not the file alone.
func (d *dialog) launchFacts() []string {
	sets := strings.Fields(d.fields[0].value)
	if len(sets) == 0 || d.recipe == nil || d.recipe.Err != nil {
		return recipeFacts(d.recipe)
	}
	if key := strings.Join(sets, " "); key != d.setsKey {
		d.setsKey = key
		rec, err := lab.ParseRecipe(d.recipe.Path, d.recipe.YAML, sets)
		if err != nil {
			d.setsFacts = append(recipeFacts(d.recipe), "")
			d.setsFacts = append(d.setsFacts, strings.Split(err.Error(), "\n")...)
		} else {
			e := *d.recipe
			e.Recipe = rec
			d.setsFacts = append(recipeFacts(&e), "(with --set "+key+")")
		}
	}
	return d.setsFacts
}

// recipeFacts describes a recipe in a few lines.
func recipeFacts(e *recipeEntry) []string {
	if e == nil {
		return nil
	}
	if e.Err != nil {
		return strings.Split(e.Err.Error(), "\n")
	}
	r := e.Recipe
	var out []string
	if r.Description != "" {
		out = append(out, r.Description)
	}
	out = append(out, fmt.Sprintf("model %s · %s backend · seq %d", r.ModelName, r.Backend, r.SequenceLength),
		budgetLine(r),
		"mix "+mixLine(r.Dataset))
	for _, sw := range r.MixSchedule { // mix_schedule: the switches the run makes by itself
		out = append(out, fmt.Sprintf("mix at %s: %s (%s)", lab.HumanCount(sw.AtTokens), sw.Mix, mixLine(r.NamedMixSources(sw.Mix))))
	}
	if r.Anneal.AutoAt > 0 {
		out = append(out, fmt.Sprintf("anneal at %s: %s tokens", lab.HumanCount(r.Anneal.AutoAt), lab.HumanCount(r.Anneal.Tokens)))
	}
	if r.Soup.Ingredients > 0 {
		out = append(out, "soup of "+plural.N(r.Soup.Ingredients, "ingredient"))
	}
	if r.Eval.Any() {
		out = append(out, "eval "+strings.Join(r.Eval.Names(), ", "))
	}
	// what the run will warn about as it starts (an automatic anneal that
	// ends before max_tokens, so the budget above is not where it ends; an
	// unknown key), before enter rather than after
	for _, w := range r.Warnings {
		out = append(out, "warning: "+w)
	}
	return out
}

// budgetLine is what the run trains itself: to max_tokens, or to
// anneal.auto_at where the recipe's soup starts there and ends the run.
func budgetLine(r *lab.Recipe) string {
	steps := fmt.Sprintf("%s of %s", plural.N(int(r.Steps()), "step"), lab.HumanCount(int64(r.GlobalBatchSize)))
	if r.SoupEndsAtAutoAt() {
		return fmt.Sprintf("%s tokens: %s, then the soup (anneal.auto_at; max_tokens %s)", lab.HumanCount(r.Anneal.AutoAt), steps, lab.HumanCount(r.MaxTokens))
	}
	return fmt.Sprintf("%s tokens: %s", lab.HumanCount(r.MaxTokens), steps)
}

// dialogAction turns a confirmed run dialog into the action it announced.
func (m *Model) dialogAction(d *dialog) (lab.Action, error) {
	switch d.kind {
	case dlgAnneal:
		n, err := parseCount(d.fields[0].value)
		if err != nil || n <= 0 {
			return lab.Action{}, fmt.Errorf("tokens: give a count such as 400K")
		}
		mix, err := d.pickedMix()
		if err != nil {
			return lab.Action{}, err
		}
		return lab.Action{Kind: lab.ActAnneal, Tokens: n, Mix: mix}, nil
	case dlgMix:
		mix, err := d.pickedMix()
		if err != nil {
			return lab.Action{}, err
		}
		return lab.Action{Kind: lab.ActSwitchMix, Mix: mix}, nil
	case dlgSoup:
		k, err := strconv.Atoi(strings.TrimSpace(d.fields[0].value))
		if err != nil || k < 1 || k > 16 {
			return lab.Action{}, fmt.Errorf("ingredients: give a number from 1 to 16")
		}
		n, err := parseCount(d.fields[1].value)
		if err != nil || n <= 0 {
			return lab.Action{}, fmt.Errorf("tokens each: give a count such as 400K")
		}
		mix, err := d.pickedMix()
		if err != nil {
			return lab.Action{}, err
		}
		return lab.Action{Kind: lab.ActSoup, K: k, Tokens: n, Mix: mix, Seeds: soupSeeds(m.liveRecipe(), k)}, nil
	case dlgCheckpoint:
		return lab.Action{Kind: lab.ActCheckpoint}, nil
	case dlgEval:
		return lab.Action{Kind: lab.ActEval}, nil
	case dlgPause:
		if m.liveData != nil && m.liveData.State == "paused" {
			return lab.Action{Kind: lab.ActResume}, nil
		}
		return lab.Action{Kind: lab.ActPause}, nil
	case dlgStop:
		return lab.Action{Kind: lab.ActStop}, nil
	}
	return lab.Action{}, fmt.Errorf("no action")
}

// dialogTitle is the dialog's title as of now: pause and resume follow the
// run's state, as confirming does.
func (m *Model) dialogTitle(d *dialog) string {
	if d.kind == dlgPause && m.liveData != nil && m.liveData.State == "paused" {
		return "Resume training"
	}
	return d.title
}

// actionWhyNot says why the action of a run dialog does not apply to the live
// run now, "" when it does (and for dialogs that are not about the live
// run). The action keys follow it, and so does a dialog left open while the
// run moves on: an automatic anneal or the end of the run can come between
// opening it and confirming.
func (m *Model) actionWhyNot(kind dialogKind) string {
	var k lab.ActionKind
	switch kind {
	case dlgAnneal:
		k = lab.ActAnneal
	case dlgMix:
		k = lab.ActSwitchMix
	case dlgSoup:
		k = lab.ActSoup
	case dlgCheckpoint:
		k = lab.ActCheckpoint
	case dlgEval:
		k = lab.ActEval
	case dlgPause:
		k = lab.ActPause // or resume: the rule is the same
	case dlgStop:
		k = lab.ActStop
	default: // launch, quit, take over
		return ""
	}
	if !m.training() || m.quitting != quitNone || m.liveData == nil {
		return "the run is no longer training in this session"
	}
	if cur := m.liveData; k == lab.ActSoup {
		// a second soup from one step would overwrite the first one's
		// files: the lab answers it so after the soup, at its step, and
		// while the run is paused there
		switch {
		case cur.soupPastItsSteps() && !cur.soupFinal:
			return fmt.Sprintf("a soup from step %d is being made", cur.Last.Step)
		case cur.State == "paused" && cur.soupMadeAt(cur.Last.Step):
			return fmt.Sprintf("a soup from step %d is made already", cur.Last.Step)
		}
	}
	// the lab's own rule, on the run as its events tell it
	return m.liveData.actionState(m.liveRecipe()).WhyNot(k)
}

func (m *Model) liveRecipe() *lab.Recipe {
	if m.live != nil {
		return m.live.Recipe()
	}
	return nil
}
