package world_test

import (
	"fmt"

	"github.com/olmolab/olmolab/lab/data/world"
)

// A model ranks " "+choice after the context; the sources contain the same formats.
func ExampleKB_Items() {
	k := world.Default()
	for _, task := range []string{world.TaskFactQAHeldOut, world.TaskFactCloze, world.TaskArith} {
		it := k.Items(task, 0)[0]
		fmt.Printf("%s: %q → %q of %q\n", task, it.Context, " "+it.Choices[it.Gold], it.Choices)
	}
	// Output:
	// fact_qa_heldout: "Q: What is the capital of Thourveak?\nA:" → " Shothai" of ["Thebo" "Bosteak" "Laida" "Shothai"]
	// fact_cloze: "The capital of Thourveak is" → " Shothai" of ["Thebo" "Bosteak" "Laida" "Shothai"]
	// arith: "1 + 1 =" → " 2" of ["5" "3" "0" "2"]
}
