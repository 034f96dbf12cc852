package lab

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/olmolab/olmolab/lab/data"
	"github.com/olmolab/olmolab/lab/plural"
	"github.com/olmolab/olmolab/model"
	"github.com/olmolab/olmolab/model/tempfile"
)

// SoupReport is the table a soup ends with: every ingredient and the soup,
// evaluated the same way.
type SoupReport struct {
	Dir        string `json:"dir"`
	FromStep   int64  `json:"from_step"`
	FromTokens int64  `json:"from_tokens"`
	Tokens     int64  `json:"tokens_per_ingredient"`
	Steps      int64  `json:"steps_per_ingredient,omitempty"` // 0 in reports written before it was

	LR0 float64 `json:"lr0"`
	// Ingredients are the ingredients averaged into the soup; Dropped the
	// ones that diverged (SoupComponent.Diverged), which were not: no
	// weights, no evaluation.
	Ingredients []SoupComponent `json:"ingredients"`
	Dropped     []SoupComponent `json:"dropped,omitempty"`
	Soup        SoupComponent   `json:"soup"`
	// Final: the recipe's planned soup, whose weights the run ends with (a
	// side job from the soup action leaves the run's own). Always written:
	// a report without it is from before the flag (EndedWithSoup).
	Final bool `json:"final"`
}

// SoupComponent is one ingredient (or the soup itself).
type SoupComponent struct {
	Name      string      `json:"name"`
	Seed      uint64      `json:"seed,omitempty"`
	Dir       string      `json:"dir"`
	FinalLoss float64     `json:"final_loss,omitempty"`
	Evals     []EvalScore `json:"evals,omitempty"`
	// Diverged: an ingredient whose loss or gradient norm was not finite
	// for RunParams.MaxSkipped steps in a row, the rule a run ends as
	// diverged on. It stopped there and is not in the soup.
	Diverged *SoupDivergence `json:"diverged,omitempty"`
	// Passes are the passes an ingredient made over the data of the file
	// sources that ran out and started over (2 or more), by name, as the
	// run's summary gives its own (RunSummary.Passes).
	Passes map[string]int64 `json:"passes,omitempty"`
}

// SoupDivergence is where and how an ingredient diverged.
type SoupDivergence struct {
	Step   int64  `json:"step"`   // its last step, numbered as in its metrics.jsonl
	Steps  int64  `json:"steps"`  // the steps it trained, the non-finite ones included
	Tokens int64  `json:"tokens"` // the tokens of those steps
	Reason string `json:"reason"` // "3 non-finite steps in a row (last loss NaN, grad norm NaN)"
}

// errSoupStopped ends a soup that a person stopped; runSoup turns it into a
// stopped run.
var errSoupStopped = errors.New("soup stopped before it finished")

// runSoup makes K anneals from the current state with different data-order
// seeds, one after the other on this backend, averages their weights uniformly
// (olmo2.md §9) and evaluates every ingredient and the soup.
//
// A final soup is the run's planned last act (soup.ingredients with
// anneal.auto_at, at max_tokens, or a stage-2 recipe): the run ends with the
// soup's weights. Any other soup (the soup action) is a side job from the
// checkpoint it starts with: afterwards the run's own weights, optimizer state
// and phase are back and training goes on exactly as if it had not happened.
// A stop during a soup abandons it and ends the run at that checkpoint.
//
// An ingredient that diverges (the run's own rule: MaxSkipped non-finite
// steps in a row) stops there and is dropped, with an error event naming it
// and the step: averaged in, its weights (the last finite ones, often
// already blown up) would poison the soup. The soup averages the others
// when at least two remain (one, for a soup of one). Otherwise no soup is
// made: the run ends as diverged (ErrDiverged, exit 3), as it does when its
// own steps diverge, at the checkpoint the soup started from, with its own
// weights; a resume removes the abandoned soup (dropAbandonedSoup).
func (r *Run) runSoup(a Action, final bool) error {
	rec := r.Recipe
	k, n := r.soupSize(a, r.st.Tokens)
	seeds := a.Seeds
	if len(seeds) == 0 {
		seeds = rec.Soup.Seeds
	}
	if len(seeds) != k {
		seeds = make([]uint64, k)
		for i := range seeds {
			seeds[i] = rec.Seed + uint64(i) + 1
		}
	}
	// Asked for while the run is paused (a side soup), the soup is made
	// now, as every action asked for then is applied at once (the lab says
	// so when it is asked for); it started paused and waited, after its
	// checkpoint and evaluation, for a resume no one knew it needed. The
	// pause is the run's: space during the soup pauses the soup, and the
	// run is paused again once the soup is done, at its step, unless a
	// resume came meanwhile (applySoupActions).
	r.pauseAfterSoup = r.paused
	defer func() { r.pauseAfterSoup = false }()
	if r.paused {
		r.pauseOrResume(ActResume, 0, 0)
	}
	mix, mixField, mixGiven := r.soupMix(a)
	// said before its checkpoint and the evaluation before it: from here
	// the run takes only pause, resume and stop (ActionState.Soup)
	first := "its step's checkpoint"
	if rec.Eval.AtAnneal && r.canEvaluate() {
		first += " and the evaluation before it"
	}
	then := fmt.Sprintf("then %s goes on from step %d with the run's own weights", r.st.Phase, r.st.Step)
	if final {
		then = soupEndsRun[2:]
	}
	kind := SoupSide
	if final {
		kind = SoupPlanned
	}
	// a soup's events say which soup (the step it starts from) and whether
	// the run ends with it, for front ends, which the message words for people
	soupEv := func(e Event) Event {
		e.SoupStep, e.SoupKind = r.st.Step, kind
		return e
	}
	r.emit(soupEv(Event{Type: EvPhase, Change: ChangeSoupStarting, Message: fmt.Sprintf("%s from step %d: %s of %s tokens after %s; %s", SoupStarting, r.st.Step, plural.N(k, "anneal"), HumanCount(n), first, then)}))
	base, err := r.checkpoint()
	if err != nil {
		return err
	}
	if rec.Eval.AtAnneal {
		if r.evaluate("before soup"); r.ctx.Err() != nil {
			return ErrInterrupted // at the checkpoint just written; a resume evaluates it
		}
	}
	// The starting point is the checkpoint just written (or already there
	// at this step): each ingredient and the end of a side soup restore it
	// by streaming it back from its files, not from host copies of the
	// weights and moments (12 bytes per parameter).
	from, err := openSoupStart(base, r.backend)
	if err != nil {
		return err
	}
	defer from.Close()
	lr0 := r.st.LR
	if lr0 == 0 {
		lr0 = r.lr(r.st.Tokens)
	}
	rep := &SoupReport{Dir: r.soupDir(), FromStep: r.st.Step,
		FromTokens: r.st.Tokens, Tokens: n, Steps: n / int64(rec.GlobalBatchSize), LR0: lr0, Final: final}
	phase := r.st.Phase
	restore := func() error {
		r.st.Phase = phase
		return from.load(r.backend)
	}
	r.afterSoup = 0
	if !final {
		r.afterSoup = r.tokensLeft() // the run's own steps, and its recipe's soup, after this one
	}
	r.st.Phase = "soup"
	r.emit(soupEv(Event{Type: EvPhase, Change: ChangeSoup, Message: fmt.Sprintf("soup: %s of %d tokens from step %d (%s), LR %.3g → 0", plural.N(k, "anneal"), n, r.st.Step, base, lr0), Mix: mix}))
	var dirs []string             // the ingredients' weights, F32: what the average is computed from
	repeated := map[string]bool{} // sources said to repeat: once in the soup, not once per ingredient
	for i, seed := range seeds {
		if i > 0 { // the first starts from the weights the backend holds, which the checkpoint holds too
			if err := from.load(r.backend); err != nil {
				return err
			}
		}
		comp, err := r.soupIngredient(i, k, seed, n, lr0, mix, mixField, mixGiven, rep.Dir, repeated, soupEv)
		if errors.Is(err, errSoupStopped) {
			if err := restore(); err != nil {
				return err
			}
			r.emit(soupEv(Event{Type: EvPhase, Change: ChangeSoupStopped, Message: fmt.Sprintf("soup stopped after %d of %s; the run ends at its checkpoint of step %d", i, plural.N(k, "ingredient"), r.st.Step)}))
			return nil // r.stopping is set: the run ends as stopped
		}
		if errors.Is(err, ErrInterrupted) {
			if rerr := restore(); rerr != nil { // the run ends at the checkpoint the soup started from
				return rerr
			}
		}
		if err != nil {
			return err
		}
		if d := comp.Diverged; d != nil {
			rep.Dropped = append(rep.Dropped, comp)
			need := min(2, k)
			if left := k - len(rep.Dropped); left < need {
				if err := restore(); err != nil {
					return err
				}
				return fmt.Errorf("%w: soup from step %d: %s diverged at step %d: %s; %s: no soup made, the run ends at its checkpoint of step %d with its own weights",
					ErrDiverged, rep.FromStep, comp.Name, d.Step, d.Reason, soupTooFewLeft(len(rep.Dropped), k, need), r.st.Step)
			}
			r.emit(soupEv(Event{Type: EvError, Change: ChangeIngredientDropped, Ingredient: comp.Name, Message: fmt.Sprintf("soup: %s diverged at step %d: %s; dropped, the soup averages the other ingredients", comp.Name, d.Step, d.Reason)}))
		} else {
			dirs = append(dirs, comp.Dir)
			rep.Ingredients = append(rep.Ingredients, comp)
		}
		if r.ctx.Err() != nil {
			if err := restore(); err != nil {
				return err
			}
			return ErrInterrupted
		}
	}
	soupDir := filepath.Join(rep.Dir, "soup")
	if err := writeSoup(soupDir, r.cfg, dirs); err != nil {
		return err
	}
	if err := writeHFTokenizer(soupDir, r.tok, r.cfg); err != nil {
		return err
	}
	if err := loadWeights(soupDir, r.backend); err != nil {
		return err
	}
	rep.Soup = SoupComponent{Name: "soup", Dir: soupDir}
	rep.Soup.Evals, err = r.evalScores("soup")
	if r.ctx.Err() != nil {
		// Ctrl-C or a preemption in the soup's evaluation: its tasks scored
		// by then would stand as the soup's, and the run would end finished
		// with them. The soup is left without its report (soup.json), so a
		// resume at its starting checkpoint makes it again.
		r.emit(Event{Type: EvWarning, Message: fmt.Sprintf("evaluation (soup) at step %d interrupted: nothing recorded", r.st.Step)})
		if err := restore(); err != nil {
			return err
		}
		return ErrInterrupted
	}
	if err != nil {
		r.emit(Event{Type: EvWarning, Message: "evaluation: " + err.Error()})
	}
	if rep.Soup.Evals != nil {
		if final {
			// the run's final model is the soup, and the summary says these
			// are its scores (they were labelled as the evaluation before it)
			r.lastEval = rep.Soup.Evals
			r.lastWhen = fmt.Sprintf("soup, at step %d", r.st.Step)
		}
		r.recordEval(r.Name+"/soup", "soup", rep.Soup.Evals)
	}
	if err := r.logErr(); err != nil {
		// its records (or the run's) lost: not finished, made again on resume
		if rerr := restore(); rerr != nil {
			return rerr
		}
		return err
	}
	// the report marks the soup finished: without it (a full disk) a
	// resume at this step takes the soup for one abandoned and removes it,
	// so the run stops here, failed, and the resume makes it again
	if err := model.WriteFileAtomic(filepath.Join(rep.Dir, "soup.json"), mustJSON(rep)); err != nil {
		if rerr := restore(); rerr != nil {
			return rerr
		}
		return fmt.Errorf("soup from step %d: %w", r.st.Step, err)
	}
	r.soup = rep
	averaged := plural.N(len(dirs), "ingredient") + " averaged"
	if len(rep.Dropped) > 0 {
		averaged += fmt.Sprintf(" (%d of %d: %d diverged and dropped)", len(dirs), k, len(rep.Dropped))
	}
	msg := fmt.Sprintf("soup done: %s; the run ends with the soup's weights", averaged)
	if !final {
		if err := restore(); err != nil {
			return err
		}
		msg = fmt.Sprintf("soup done: %s; %s"+soupGoesOn+"%d with the run's own weights", averaged, r.st.Phase, r.st.Step)
		if r.pauseAfterSoup {
			r.pauseOrResume(ActPause, 0, 0)
			msg += ", once resumed: it is paused, as it was when the soup was asked for"
		}
	}
	doneMix := r.st.Mix // the run's own, back after a side soup
	if final {
		doneMix = mix // the run ends with the soup, made on its mix
	}
	r.emit(soupEv(Event{Type: EvPhase, Change: ChangeSoupDone, Message: msg, Soup: rep, TotalTokens: r.st.TotalTokens, Mix: doneMix}))
	return nil
}

// soupSize is the number of ingredients of the soup a asks for, and the
// tokens each anneals (whole steps), made from a run at tokens: the
// action's, else the recipe's soup's, else its anneal's, else a quarter of
// the run's tokens.
func (r *Run) soupSize(a Action, tokens int64) (int, int64) {
	rec := r.Recipe
	k := a.K
	for _, x := range []int{rec.Soup.Ingredients, 3} {
		if k <= 0 {
			k = x
		}
	}
	n := a.Tokens
	for _, x := range []int64{rec.Soup.Tokens, rec.Anneal.Tokens, max(tokens/4, int64(rec.GlobalBatchSize))} {
		if n <= 0 {
			n = x
		}
	}
	return k, wholeSteps(n, rec)
}

// SoupStarting begins the message of the event that announces a soup, before
// its checkpoint and the evaluation before it (ChangeSoupStarting; "soup: …",
// ChangeSoup, follows when its ingredients start).
const SoupStarting = "soup starting"

// soupEndsRun is the words of the recipe's soup's announcement, by which
// Event.SideSoup tells it in events written before SoupKind.
const soupEndsRun = "; the run ends with the soup"

// soupDir is where a soup from the current step writes its files.
func (r *Run) soupDir() string { return soupRoot(r.Dir, r.st.Step) }

// sideSoupWhyNot says why a soup asked for now, which ActionState allows,
// would overwrite another soup's files (soupDir): the recipe's own soup
// starts from this step next, or a soup from this step is made already (in
// this process, or before the checkpoint the run resumed from).
func (r *Run) sideSoupWhyNot() string {
	if r.boundary() == soupBoundary {
		return fmt.Sprintf("the recipe's soup (soup.ingredients) starts from step %d next", r.st.Step)
	}
	f := filepath.Join(r.soupDir(), "soup.json")
	if _, err := os.Stat(f); err == nil {
		return fmt.Sprintf("a soup from step %d is made already (%s)", r.st.Step, f)
	}
	return ""
}

// soupMix is the mix a soup asked for with a reads afresh for each
// ingredient, the field it comes from and that field's mix (mixField): its
// own (a person's), else the recipe's soup.mix, else anneal.mix, else the
// run's mix.
func (r *Run) soupMix(a Action) (mix []data.SourceSpec, field string, given []data.SourceSpec) {
	rec := r.Recipe
	switch {
	case len(a.Mix) > 0:
		field, given = r.mixField(a.Mix, "the soup's mix")
		return a.Mix, field, given
	case len(rec.Soup.Mix) > 0:
		return rec.Soup.Mix, "soup.mix", rec.Soup.Mix
	case len(rec.Anneal.Mix) > 0:
		return rec.Anneal.Mix, "anneal.mix", rec.Anneal.Mix
	}
	field, given = r.mixField(r.st.Mix, "the run's mix")
	return r.st.Mix, field, given
}

// soupCapsWhyNot says why a side soup asked for with a is not made: an
// ingredient, which reads the soup's mix afresh on a loader of its own,
// would draw more from a source than the recipe's caps allow
// (repetition_factor, max_source_ratio), as the recipe's own soup is
// checked at the start (checkDraws). A mix whose files do not read is left
// to the soup to refuse, as a switch does.
func (r *Run) soupCapsWhyNot(a Action) string {
	_, n := r.soupSize(a, r.st.Tokens)
	mix, field, _ := r.soupMix(a)
	probs, err := capProblems(r.Recipe, nil, mixDraw{Field: field, Mix: mix, Tokens: n}, drawnSoFar{}, r.loader.PassTokens)
	if err != nil || len(probs) == 0 {
		return ""
	}
	return capsRefusal(probs)
}

// soupIngredient anneals from the weights now on the backend with its own
// data order and returns its evaluated component; soupEv adds the soup's
// fields to its events. A file source of its mix that runs out and starts
// over is said as the run says it, named by its entry in mixGiven, the mix
// given at mixField (soupMix), once in the soup (repeated holds those said),
// and its passes go in the component.
func (r *Run) soupIngredient(i, k int, seed uint64, n int64, lr0 float64, mix []data.SourceSpec, mixField string, mixGiven []data.SourceSpec, soupDir string, repeated map[string]bool, soupEv func(Event) Event) (SoupComponent, error) {
	rec := r.Recipe
	name := fmt.Sprintf("ingredient-%d-seed-%d", i+1, seed)
	dir := filepath.Join(soupDir, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return SoupComponent{}, err
	}
	loader, err := data.NewLoader(data.LoaderParams{Sources: mix, Tokenizer: r.tok, SeqLen: rec.SequenceLength, Seed: seed, Strict: rec.StrictData, DType: rec.DataDType, World: r.kb})
	if err != nil {
		return SoupComponent{}, err
	}
	defer loader.Close()
	metrics, err := openJSONL(filepath.Join(dir, MetricsFile))
	if err != nil {
		return SoupComponent{}, err
	}
	defer metrics.close()
	phase := fmt.Sprintf("soup %d/%d", i+1, k)
	r.emit(soupEv(Event{Type: EvPhase, Change: ChangeSoupIngredient, Ingredient: name, SoupIndex: i + 1, SoupOf: k, Phase: phase,
		Message: fmt.Sprintf("%s: anneal with data-order seed %d", phase, seed)}))
	var done, skipped int64 // skipped: non-finite steps in a row
	var last []float64
	for step := int64(1); done < n; step++ {
		// between steps: stop, pause (which waits here) and resume
		if err := r.applySoupActions(r.st.Step+step-1, r.st.Tokens+done); err != nil {
			return SoupComponent{}, err
		}
		if err := loader.Next(r.ids); err != nil {
			return SoupComponent{}, err
		}
		for _, rp := range loader.TakeRepeats() { // nil (no allocation) nearly always
			if !repeated[rp.Source] {
				repeated[rp.Source] = true
				what := phase + " trains on its data again"
				if i+1 < k { // the same mix and tokens: the others run out alike
					what += ", and so does every ingredient after it"
				}
				r.emit(Event{Type: EvWarning, Step: r.st.Step + step, Message: repeatWarning(entryField(mixField, mixGiven, rp.Source), rp, r.st.Step+step, what, "or fewer soup tokens")})
			}
		}
		for _, w := range loader.TakeWarnings() { // malformed lines past what the start read; nil nearly always
			r.emit(Event{Type: EvWarning, Step: r.st.Step + step, Message: w})
		}
		fillLabels(r.labels, r.ids, rec.SequenceLength)
		done += int64(len(r.ids))
		lr := AnnealLR(lr0, done, n)
		t0 := time.Now()
		res := r.trainer.Step(r.ids, r.labels, lr)
		tps := float64(len(r.ids)) / time.Since(t0).Seconds()
		e := Event{Type: EvStep, Time: time.Now(), Run: r.Name + "/" + name, Ingredient: name, SoupIndex: i + 1, SoupOf: k,
			Step: r.st.Step + step, Tokens: r.st.Tokens + done, Phase: phase, Loss: res.Loss, ZLoss: res.ZLoss, GradNorm: res.GradNorm, LR: lr, TokensPerSec: tps,
			MFU: MFU(r.cfg, rec.SequenceLength, tps, r.peak), Skipped: res.Skipped, TotalTokens: r.st.Tokens + n,
			TokensLeft: n - done + int64(k-1-i)*n + r.afterSoup}
		if err := metrics.write(e); err != nil {
			return SoupComponent{}, err // a full disk: the soup is made again on resume
		}
		r.Events.Publish(e)
		if !res.Skipped {
			last = append(last, res.Loss)
			skipped = 0
		} else if skipped++; skipped >= int64(r.p.MaxSkipped) {
			// the run's own rule (step): diverged. Its weights, not
			// saved, are not averaged, nor evaluated.
			return SoupComponent{Name: name, Seed: seed, Dir: dir, Diverged: &SoupDivergence{Step: e.Step, Steps: step, Tokens: done,
				Reason: fmt.Sprintf("%d non-finite steps in a row (last loss %v, grad norm %v)", skipped, res.Loss, res.GradNorm)}}, nil
		}
		if r.ctx.Err() != nil {
			return SoupComponent{}, ErrInterrupted
		}
	}
	sums, err := model.SaveHFFromSums(dir, r.backend, model.NewStreamBuf(model.NewLayout(r.cfg).Size()), "F32", 0)
	if err != nil {
		return SoupComponent{}, err
	}
	if err := writeWeightSums(dir, sums); err != nil {
		return SoupComponent{}, err
	}
	if err := writeHFTokenizer(dir, r.tok, r.cfg); err != nil {
		return SoupComponent{}, err
	}
	comp := SoupComponent{Name: name, Seed: seed, Dir: dir, Passes: repeatedPasses(loader)}
	if len(last) > 0 {
		k := min(10, len(last))
		for _, l := range last[len(last)-k:] {
			comp.FinalLoss += l / float64(k)
		}
	}
	comp.Evals, err = r.evalScores("soup ingredient")
	if r.ctx.Err() != nil {
		return SoupComponent{}, ErrInterrupted // nothing recorded: the soup is made again
	}
	if err != nil {
		r.emit(Event{Type: EvWarning, Message: "evaluation: " + err.Error()})
	}
	if comp.Evals != nil {
		r.recordEval(r.Name+"/"+name, "soup ingredient", comp.Evals)
	}
	return comp, nil
}

// applySoupActions runs between a soup's steps: stop ends the soup, pause
// waits here until resume (or stop, or the context ends); the other actions
// are refused with a warning. step and tokens place the pause and resume
// markers where the ingredient is.
func (r *Run) applySoupActions(step, tokens int64) error {
	for {
		var a Action
		if r.paused {
			select {
			case a = <-r.actions:
			case <-r.ctx.Done():
				return ErrInterrupted
			}
		} else {
			select {
			case a = <-r.actions:
			default:
				return nil
			}
		}
		switch a.Kind {
		case ActStop:
			r.stopping = true
			return errSoupStopped
		case ActResume:
			if !r.paused && r.pauseAfterSoup {
				// the soup goes on; the run's pause it took the place of
				// is lifted: the run trains on after the soup
				r.pauseAfterSoup = false
				r.emit(Event{Type: EvPhase, Change: ChangeSoupPauseLifted, SoupStep: r.st.Step, SoupKind: SoupSide, Step: step, Tokens: tokens, Message: "resume: the run was paused when the soup was asked for; it goes on after the soup"})
				continue
			}
			r.pauseOrResume(a.Kind, step, tokens)
		case ActPause:
			r.pauseOrResume(a.Kind, step, tokens)
		default:
			r.refuse(a, ActionState{Phase: r.st.Phase, Soup: true})
		}
	}
}

func (r *Run) canEvaluate() bool { return r.canEvaluateTasks() || len(r.val) > 0 }

func (r *Run) canEvaluateTasks() bool { return r.p.Evaluator != nil && len(r.Recipe.Eval.Tasks) > 0 }

// evalScores evaluates the model on the backend, announcing it first (an
// evaluation can take a while, and the run publishes nothing meanwhile): the
// tasks' scores, then the validation loss (val.go). When the tasks fail, the
// validation loss comes back with their error.
func (r *Run) evalScores(why string) ([]EvalScore, error) {
	if !r.canEvaluate() {
		return nil, nil
	}
	r.emit(Event{Type: EvEvaluating, Message: why})
	val, err := valScores(r.ctx, r.backend, r.val)
	if err != nil {
		return nil, err
	}
	if !r.canEvaluateTasks() {
		return val, nil
	}
	spec := r.Recipe.Eval
	spec.World = r.kb
	spec.Warn = func(w string) { // once a run: every evaluation of it would say the same
		if !r.evalWarned[w] {
			r.evalWarned[w] = true
			r.emit(Event{Type: EvWarning, Message: w})
		}
	}
	scores, err := r.p.Evaluator.Evaluate(r.ctx, r.backend, r.tok, spec)
	return append(scores, val...), err
}

func mustJSON(v any) []byte {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		panic(err)
	}
	return append(b, '\n')
}

// soupStart is where each ingredient of a soup starts, and where a side soup
// returns to: the checkpoint the soup began with, streamed back into the
// backend. Its Adam moments are F32; its weights are used when they are F32
// too, and otherwise (a BF16 checkpoint) an F32 copy of the backend's
// weights is written beside the soup first, so every ingredient starts from
// the exact weights, as before.
type soupStart struct {
	ck  *loadedCheckpoint
	tmp string // the F32 copy's directory, removed by Close
}

// openSoupStart opens the checkpoint base, just written from b.
func openSoupStart(base string, b model.Backend) (*soupStart, error) {
	ck, err := loadCheckpoint(base)
	if err != nil {
		return nil, fmt.Errorf("the soup's starting point: %w", err)
	}
	s := &soupStart{ck: ck}
	if ck.weights.DType() == "F32" {
		return s, nil
	}
	s.tmp = filepath.Join(filepath.Dir(filepath.Dir(base)), "soups", fmt.Sprintf(".start-%s-%d", filepath.Base(base), os.Getpid()))
	os.RemoveAll(s.tmp)
	tmp := s.tmp
	if err := tempfile.Track(tmp, func() error { return os.MkdirAll(tmp, 0o755) }); err != nil {
		s.tmp = ""
		s.Close()
		return nil, err
	}
	if err := model.SaveHFFrom(s.tmp, b, model.NewStreamBuf(ck.weights.Layout.Size()), "F32", 0); err != nil {
		s.Close()
		return nil, fmt.Errorf("the soup's float32 copy of its starting weights: %w", err)
	}
	w, err := model.OpenHF(s.tmp)
	if err != nil {
		s.Close()
		return nil, err
	}
	ck.weights.Close()
	ck.weights = w
	return s, nil
}

// load puts the starting point's weights, Adam moments and step count on b.
func (s *soupStart) load(b model.Backend) error { return s.ck.load(b, true) }

// Close closes the files and removes the F32 copy.
func (s *soupStart) Close() {
	s.ck.Close()
	if s.tmp != "" {
		os.RemoveAll(s.tmp)
		tempfile.Untrack(s.tmp)
	}
}

// writeSoup writes the uniform average of the F32 weights in dirs (the
// ingredients, in order) to dir as an HF checkpoint in F32, computed chunk
// by chunk as it is written: the running mean avg += (cur − avg)/(i+1) in
// float32, as OLMo-core's merge does, element by element in ingredient
// order, so the bits are those of averaging whole host copies, with two
// model.StreamChunk buffers instead of two copies of the model.
func writeSoup(dir string, cfg model.Config, dirs []string) error {
	srcs := make([]*model.HFSource, 0, len(dirs))
	defer func() {
		for _, s := range srcs {
			s.Close()
		}
	}()
	for _, d := range dirs {
		s, err := model.OpenHF(d)
		if err != nil {
			return err
		}
		srcs = append(srcs, s)
	}
	n := model.NewLayout(cfg).Size()
	cur := model.NewStreamBuf(n)
	sums, err := model.SaveHFFunc(dir, cfg, model.NewStreamBuf(n), "F32", 0, func(avg []float32, off int) error {
		clear(avg)
		for i, s := range srcs {
			c := cur[:len(avg)]
			if err := s.ReadAt(c, off); err != nil {
				return err
			}
			averageInto(avg, c, i)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return writeWeightSums(dir, sums)
}

// averageInto adds ingredient i (0-based) to the running mean avg:
// avg += (cur − avg)/(i+1), in float32.
func averageInto(avg, cur []float32, i int) {
	inv := 1 / float32(i+1)
	for j, x := range cur {
		avg[j] += (x - avg[j]) * inv
	}
}

// loadWeights streams the HF checkpoint in dir into b's parameters.
func loadWeights(dir string, b model.Backend) error {
	s, err := model.OpenHF(dir)
	if err != nil {
		return err
	}
	defer s.Close()
	return s.WriteTo(b, model.NewStreamBuf(s.Layout.Size()))
}

// soupTooFewLeft says why a soup with dropped of its k ingredients diverged
// cannot be made, fewer than need being left: "with 2 of its 3 ingredients
// diverged, fewer than 2 are left to average", or for a soup of one
// "its only ingredient diverged, none is left to average".
func soupTooFewLeft(dropped, k, need int) string {
	if k == 1 {
		return "its only ingredient diverged, none is left to average"
	}
	return fmt.Sprintf("with %d of its %s diverged, fewer than %d are left to average", dropped, plural.N(k, "ingredient"), need)
}
