//go:build !cuda

package gpu

import "errors"

// ErrNoCUDA is returned by the device functions of a binary built without the
// cuda tag.
var ErrNoCUDA = errors.New("gpu: olmolab was built without CUDA support (build with -tags cuda: scripts/setup-cuda.sh)")

// FreeMemory reports the GPU's free and total memory; without the cuda tag
// there is none.
func FreeMemory() (free, total int64, err error) { return 0, 0, ErrNoCUDA }

// DeviceName describes the GPU; without the cuda tag there is none.
func DeviceName() (string, error) { return "", ErrNoCUDA }

// CuDNN names the cuDNN the engine would use; without the cuda tag there is
// none.
func CuDNN() (string, error) { return "", ErrNoCUDA }

// planDevice is the device PlanFor plans for: none without the cuda tag.
func planDevice() device { return nil }
