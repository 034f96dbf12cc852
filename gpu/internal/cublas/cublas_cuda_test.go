//go:build cuda

package cublas

import (
	"errors"
	"os"
	"testing"
)

// TestOpen loads the library where one is installed (Debian's
// nvidia-cuda-dev has libcublas.so.11) and checks that a handle can be asked
// for: without a GPU cuBLAS answers NOT_INITIALIZED rather than crashing.
// This package does not import gorgonia.org/cu, so its tests can run on a
// machine without a driver.
func TestOpen(t *testing.T) {
	t.Setenv(Env, "/nonexistent/libcublas.so.13") // a bad override falls through to the search
	path, err := Open()
	if err != nil {
		if _, statErr := os.Stat("/usr/lib/x86_64-linux-gnu/libcublas.so.11"); statErr != nil {
			t.Skip("no cuBLAS installed:", err)
		}
		t.Fatal(err)
	}
	t.Logf("loaded %s", path)
	h, err := Create()
	var s Status
	switch {
	case err == nil:
		v, _ := h.Version()
		t.Logf("handle created, cuBLAS %d", v)
		h.Destroy()
	case errors.As(err, &s):
		t.Logf("no device: %v", err)
	default:
		t.Fatal(err)
	}
}
