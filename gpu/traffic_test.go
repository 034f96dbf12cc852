package gpu

import (
	"fmt"
	"strings"
	"testing"

	"github.com/olmolab/olmolab/model"
)

// recordingDevice is a nullDevice that keeps every launch.
type recordingDevice struct {
	nullDevice
	launches []recordedLaunch
}

type recordedLaunch struct {
	name string
	grid dim3
	args []arg
}

func (d *recordingDevice) launch(name string, grid, block dim3, smem int, args []arg) error {
	d.launches = append(d.launches, recordedLaunch{name, grid, append([]arg(nil), args...)})
	return nil
}

// trafficStep runs one model.Trainer step on e.
func trafficStep(e *Engine) {
	B, T := e.MicroBatch()
	ids, labels := make([]int32, B*T), make([]int32, B*T)
	model.NewSyntheticStream(e.cfg.VocabSize, 1).Fill(ids, labels, T)
	tr := &model.Trainer{B: e, P: model.TrainerParams{Opt: model.OLMo2AdamW(), MaxGradNorm: 1, ZLoss: 1e-5}}
	tr.Step(ids, labels, 1e-3)
}

// TestTrafficCoversEveryKernel: every launch of a training step and of
// LogProbs that is not attention has a traffic model (launchBytes ≥ 0), in
// both precisions, with passes, recomputation and both backward paths, so
// that a new kernel without one fails here.
func TestTrafficCoversEveryKernel(t *testing.T) {
	for i, opts := range []Options{{FP32: true}, {}, {Keep: 1, MicroBatch: 1, ChunkRows: 7}, {NoFuse: true}, {FP32: true, NoFuse: true}} {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			dev := &recordingDevice{}
			e, err := newEngine(dev, smallConfig(64, 4, 2, 16), 2, 8, opts)
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			trafficStep(e)
			lp := make([]float32, 16)
			ids := make([]int32, 16)
			e.LogProbs(lp, ids, ids)
			seen := map[string]bool{}
			for _, l := range dev.launches {
				b := e.launchBytes(l.name, l.grid, l.args)
				if strings.HasPrefix(l.name, "attn_") {
					if b != -1 {
						t.Errorf("%s: attention modeled (%d bytes)", l.name, b)
					}
					continue
				}
				if b <= 0 {
					t.Errorf("%s: no traffic model (%d)", l.name, b)
				}
				seen[l.name] = true
			}
			if len(seen) < 10 {
				t.Errorf("only %d kernels launched: %v", len(seen), seen)
			}
		})
	}
}

// TestModelTrafficSmall holds ModelTraffic's figures for a small bf16
// model to bytes computed by hand from the kernels' reads and writes.
// C 64, I 96, 4 heads and 2 kv heads of 16, 3 layers, V 256, one pass of
// 2×8 rows (R 16).
func TestModelTrafficSmall(t *testing.T) {
	cfg := smallConfig(64, 4, 2, 16)
	tr, err := ModelTraffic(cfg, 2, 8, 1<<36, Options{})
	if err != nil {
		t.Fatal(err)
	}
	const R, C, I, QK, HS, L, V, T = 16, 64, 96, 64 + 32, 16, 3, 256, 8
	N := int64(model.NewLayout(cfg).Size())
	want := map[string]OpTraffic{
		// gate|up read (2·R·I bf16), act written (R·I bf16)
		"fwd:swiglu_fwd": {L, L * 3 * R * I * 2},
		// gu and dact read, dgu written
		"bwd:swiglu_bwd": {L, L * 5 * R * I * 2},
		// q|k read and written (bf16), the two norm weights, two rstd rows, T rows of cos and sin (HS/2 each)
		"fwd:qknorm_rope_fwd": {L, L * (2*R*QK*2 + QK*4 + 2*R*4 + 2*T*HS/2*4)},
		// x (bf16) read, res and w (fp32) read, rstd, y32 (fp32) and yT (bf16) written; the
		// last layer's second norm has no next layer's bf16 input
		"fwd:rms_res_fwd": {2 * L, 2*L*(R*C*2+R*4+R*C*4+C*4+R*C*4+R*C*2) - R*C*2},
		// logits read twice (fp32), dlogits written (bf16), labels, ce and zz
		"head:ce_chunk": {1, 2*R*V*4 + R*V*2 + 3*R*4},
		// p, g, m, v read, p, m, v written (fp32), the bf16 copy written
		"optim:adamw":     {2, 30 * N},
		"optim:memset":    {1, 4 * N},
		"norm:sumsq_part": {1, 4*N + 8},
	}
	for k, w := range want {
		if got := tr.Ops[k]; got != w {
			t.Errorf("%s: got %d launches, %d bytes; want %d, %d", k, got.Launches, got.Bytes, w.Launches, w.Bytes)
		}
	}
	if s := tr.Format(); !strings.Contains(s, "fwd:swiglu_fwd") || !strings.Contains(s, "total") {
		t.Errorf("Format:\n%s", s)
	}
}

// smem48 is a recordingDevice with 48 KiB of shared memory a block.
type smem48 struct{ recordingDevice }

func (d *smem48) smemLimit() int { return 48 << 10 }

// TestFuseNeedsSharedMemory: rms_bwd_dw keeps 2·n floats of a row in shared
// memory; where the widest norm's do not fit the device's limit (C 8192 at
// 48 KiB), the engine runs the unfused kernels instead of panicking at the
// launch, and where they fit (C 4096) it runs the fused ones.
func TestFuseNeedsSharedMemory(t *testing.T) {
	for _, c := range []struct {
		C     int
		fused bool
	}{{8192, false}, {4096, true}} {
		dev := &smem48{}
		e, err := newEngine(dev, smallConfig(c.C, 32, 32, c.C/32), 1, 8, Options{})
		if err != nil {
			t.Fatal(err)
		}
		trafficStep(e)
		e.Close()
		n := 0
		for _, l := range dev.launches {
			if strings.HasPrefix(l.name, "rms_bwd_dw") {
				n++
			}
		}
		if (n > 0) != c.fused {
			t.Errorf("C %d: %d fused launches, want fused %v", c.C, n, c.fused)
		}
	}
}
