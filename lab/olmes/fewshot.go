package olmes

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"sync"
)

// fewshot.json holds OLMES's curated few-shot examples: the first five rows of each FEWSHOT_SOURCES["OLMES:…"]
// list in allenai/olmes oe_eval/tasks/fewshot_sources.py (upstream b532dd59, Apache-2.0), as the raw dataset rows
// oe-eval passes to each task's _process_doc. OLMES uses FEWSHOT_SOURCES[src][:5] for every instance, in order
// (olmes.md §1.2); MMLU instead takes the first five rows of the subject's dev split.
//
//go:embed fewshot.json
var fewshotJSON []byte

var fewshotRows = sync.OnceValue(func() map[string][]Doc {
	var raw map[string][]json.RawMessage
	if err := json.Unmarshal(fewshotJSON, &raw); err != nil {
		panic(fmt.Sprintf("olmes: embedded fewshot.json: %v", err))
	}
	out := make(map[string][]Doc, len(raw))
	for k, rows := range raw {
		for _, r := range rows {
			var d Doc
			if err := d.UnmarshalJSON(r); err != nil {
				panic(fmt.Sprintf("olmes: embedded fewshot.json %s: %v", k, err))
			}
			out[k] = append(out[k], d)
		}
	}
	return out
})
