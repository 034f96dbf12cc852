//go:build emu

package main

import (
	"strings"
	"testing"
)

// TestPackedEmulated: gpubench packed on the emulated GPU engines, the
// device check of gpu-check.sh rehearsed: the bf16 engine's packed forward
// (attn_fwd_mma_pk64, GQA) and the fp32 engine's (attn_fwd_pk_f32) agree
// with plain rows of the same requests.
func TestPackedEmulated(t *testing.T) {
	for _, be := range []string{"cuda-emu", "cuda-emu-fp32"} {
		code, out, errs := gpubench(t, "packed", "--backend", be, "--preset", "cpu_s", "--heads", "2", "--kv-heads", "1",
			"--questions", "2", "--choices", "3", "--context", "70", "--cont", "4", "--reps", "1")
		if code != 0 || !strings.Contains(out, "packed PASS cpu_s on "+be+", attention ") {
			t.Errorf("%s: exit %d\n%s%s", be, code, out, errs)
		}
		t.Log(out)
	}
}
