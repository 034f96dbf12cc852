package world

import (
	"strconv"

	"github.com/olmolab/olmolab/lab/data/internal/rnd"
)

// Item is one multiple-choice question over the world, in the format of the sources: a model ranks the
// continuations " "+Choices[i] after Context (OLMES's rank classification); Choices[Gold] is right.
type Item struct {
	Context string
	Choices []string
	Gold    int
}

// The built-in evaluation tasks (docs/world.md). The evaluation package turns Items into its requests.
const (
	TaskFactQAHeldOut = "fact_qa_heldout" // Q&A about entities never asked in the qa source: known only from web text
	TaskFactQASeen    = "fact_qa_seen"    // Q&A about entities the qa source asks about
	TaskFactCloze     = "fact_cloze"      // statement completions ("The capital of Zorvia is" → " Kelmon")
	TaskArith         = "arith"           // held-out additions ("3 + 4 =" → " 7"): never in any source
	TaskArithSeen     = "arith_seen"      // additions the math and code sources work (inside problems and programs)
)

// TaskNames lists the built-in tasks.
func TaskNames() []string {
	return []string{TaskFactQAHeldOut, TaskFactQASeen, TaskFactCloze, TaskArith, TaskArithSeen}
}

// Items returns the 4-choice items of a built-in task (nil for an unknown name), with distractors from the same
// attribute's value set (or near numbers for arith) and the gold answer's position drawn from seed. Every fact of the
// task's entities gives one item (question template 0), every held-out sum one arith item and every seen sum one
// arith_seen item.
func (k *KB) Items(task string, seed uint64) []Item {
	var items []Item
	add := func(ctx, gold string, wrong []string, id uint64) {
		r := rnd.New(rnd.Hash(seed, rnd.String(task), id))
		g := r.IntN(len(wrong) + 1)
		choices := make([]string, 0, len(wrong)+1)
		choices = append(choices, wrong[:g]...)
		choices = append(choices, gold)
		choices = append(choices, wrong[g:]...)
		items = append(items, Item{Context: ctx, Choices: choices, Gold: g})
	}
	switch task {
	case TaskFactQAHeldOut, TaskFactQASeen:
		for i, f := range k.Facts {
			if k.Entities[f.Subject].HeldOut != (task == TaskFactQAHeldOut) {
				continue
			}
			ctx, gold := k.QA(f, 0)
			add(ctx, gold, k.Distractors(f, 3, seed), uint64(i))
		}
	case TaskFactCloze:
		for i, f := range k.Facts {
			ctx, gold := k.Cloze(f)
			add(ctx, gold, k.Distractors(f, 3, seed), uint64(i))
		}
	case TaskArith, TaskArithSeen:
		for i, s := range k.Sums(task == TaskArith) {
			var wrong []string
			for _, d := range SumDistractors(s, 3, seed) {
				wrong = append(wrong, strconv.Itoa(d))
			}
			add(s.Prompt(), strconv.Itoa(s.Answer()), wrong, uint64(i))
		}
	default:
		return nil
	}
	return items
}
