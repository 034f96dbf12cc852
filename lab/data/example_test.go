package data_test

import (
	"fmt"

	"github.com/olmolab/olmolab/lab/data"
)

func ExampleNewTokenizer() {
	tok, _ := data.NewTokenizer("dolma2")
	ids := tok.Encode(nil, "hello world")
	fmt.Println(ids, tok.Decode(ids), tok.VocabSize(), tok.EOS())
	// Output: [15339 1917] hello world 100352 100257
}

func ExampleLoader() {
	tok, _ := data.NewTokenizer("world")
	l, err := data.NewLoader(data.LoaderParams{Tokenizer: tok, SeqLen: 16, Seed: 1, Sources: []data.SourceSpec{
		{Name: "web", TargetRatio: 3, Paths: []string{"builtin:web_clean"}},
		{Name: "qa", TargetRatio: 1, Paths: []string{"builtin:qa"}},
	}, Warn: func(w string) { fmt.Println(w) }})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Close()
	ids := make([]int32, 8*16) // 8 instances of 16 tokens
	if err := l.Next(ids); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(l.TokensBySource())
	// Output:
	// target_ratio values sum to 4, not 1; normalising them
	// map[qa:32 web:96]
}
