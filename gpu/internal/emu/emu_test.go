//go:build emu

package emu

import (
	"strings"
	"testing"

	"github.com/olmolab/olmolab/gpu/kernels"
)

// TestEveryKernelEmulated: the emulator's table has every entry point the
// PTX has (a kernel missing there would be untested).
func TestEveryKernelEmulated(t *testing.T) {
	for _, e := range kernels.Entries {
		if !Has(e) {
			t.Errorf("kernel %s is not in emu.cc's table", e)
		}
	}
}

// TestLaunchErrors: the emulator refuses what cuLaunchKernel would refuse or
// what would misbehave on the GPU.
func TestLaunchErrors(t *testing.T) {
	if err := Launch("nope", [3]uint32{1, 1, 1}, [3]uint32{32, 1, 1}, 0, nil); err == nil || !strings.Contains(err.Error(), "no kernel") {
		t.Errorf("unknown kernel: %v", err)
	}
	if err := Launch("rms_dw_reduce", [3]uint32{1, 1, 1}, [3]uint32{32, 1, 1}, 0, []uint64{0}); err == nil {
		t.Error("wrong argument count accepted")
	}
	if err := Launch("rms_dw_reduce", [3]uint32{1, 1, 1}, [3]uint32{33, 1, 1}, 0, []uint64{0, 0, 0, 0}); err == nil {
		t.Error("a block that is not whole warps accepted")
	}
}
