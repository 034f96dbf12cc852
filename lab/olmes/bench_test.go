package olmes

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/olmolab/olmolab/lab/data"
	"github.com/olmolab/olmolab/model"
)

// BenchmarkEvaluate measures requests scored per second on the CPU backend with the quickstart model's shape
// (cpu_s: d_model 128, 4 layers, 4 heads, world tokenizer, T = 128) over the seven built-in tasks (RC, 40
// instances each: 1120 requests). B is the number of requests one forward scores; B = 1 is one forward per request;
// "reshape" lets Evaluate score on a 16·128/T' × T' backend fitted to the requests (EvalOptions.Reshape).
func BenchmarkEvaluate(b *testing.B) {
	tok, err := data.NewTokenizer("world")
	if err != nil {
		b.Fatal(err)
	}
	cfg, err := model.PresetByName("cpu_s")
	if err != nil {
		b.Fatal(err)
	}
	cfg.VocabSize = tok.VocabSize()
	tasks := BuiltinTasks(RC, nil, BuiltinOptions{Limit: 40})
	for _, bc := range []struct {
		B       int
		reshape bool
	}{{1, false}, {16, false}, {16, true}} {
		B := bc.B
		name := fmt.Sprintf("B=%d", B)
		if bc.reshape {
			name += ",reshape"
		}
		b.Run(name, func(b *testing.B) {
			be := model.NewCPUBackend(cfg, B, 128, 0)
			defer be.Close()
			model.Init(be.E.Layout, be.E.Params, 1)
			var res Results
			for b.Loop() {
				if res, err = Evaluate(context.Background(), be, tok, tasks, EvalOptions{Reshape: bc.reshape}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(res.Requests*b.N)/b.Elapsed().Seconds(), "requests/s")
			b.ReportMetric(float64(res.Forwards), "forwards/op")
			b.ReportMetric(float64(res.Batch[1]), "T")
		})
	}
}

// BenchmarkScoreFake isolates our side of scoring (tokenization with dolma2, row building, de-duplication,
// metrics) from the model: ARC-Easy's 4562 validation requests (5-shot contexts) on a backend that returns
// constants.
func BenchmarkScoreFake(b *testing.B) {
	dir := needShared(b)
	task, err := LoadRequestsTask(filepath.Join(dir, "requests/arc_easy/val_rc_5shot/requests.jsonl.gz"))
	if err != nil {
		b.Fatal(err)
	}
	tok, err := data.NewTokenizer("dolma2")
	if err != nil {
		b.Fatal(err)
	}
	be := &fakeBackend{B: 16, T: 1024, V: tok.VocabSize()}
	var res Results
	for b.Loop() {
		if res, err = Evaluate(context.Background(), be, tok, []*Task{task}, EvalOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(res.Requests*b.N)/b.Elapsed().Seconds(), "requests/s")
}

// BenchmarkBuildRequests measures building ARC-Easy's validation requests from the Arrow file.
func BenchmarkBuildRequests(b *testing.B) {
	dir := needShared(b)
	for b.Loop() {
		if _, err := BuildRequests("arc_easy", RC, dir, BuildOptions{Split: "validation"}); err != nil {
			b.Fatal(err)
		}
	}
}
