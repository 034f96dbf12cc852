//go:build emu

package emu

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
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

// TestEmulatorCurrent: the emulator was compiled from the kernel sources on
// disk. Go's build cache does not see ../../kernels/*.cu (emu.cc includes
// them from outside the package), only kernels_sum.h, which go generate
// ./gpu/kernels rewrites; without this check an edited kernel would be
// tested in its old version.
func TestEmulatorCurrent(t *testing.T) {
	compiled := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(KernelSources()), "\n") {
		if f := strings.Fields(line); len(f) == 2 {
			compiled[f[1]] = f[0]
		}
	}
	var files []string
	for _, pat := range []string{"*.cu", "*.cuh"} {
		m, _ := filepath.Glob(filepath.Join("../../kernels", pat))
		files = append(files, m...)
	}
	if len(files) == 0 || len(files) != len(compiled) {
		t.Fatalf("%d kernel sources on disk, %d compiled into the emulator: run go generate ./gpu/kernels", len(files), len(compiled))
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		if compiled[filepath.Base(f)] != hex.EncodeToString(sum[:]) {
			t.Fatalf("the emulator was compiled from another %s: run go generate ./gpu/kernels (Go's build cache does not track the kernels)", filepath.Base(f))
		}
	}
}
