// Command gentok trains the built-in world's BPE tokenizer and writes it to a file (go generate in lab/data/world).
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/olmolab/olmolab/lab/data/world"
)

func main() {
	out := flag.String("out", "tokenizer.bpe", "output file")
	flag.Parse()
	if err := os.WriteFile(*out, world.TrainTokenizer(), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "gentok:", err)
		os.Exit(1)
	}
}
