//go:build emu

package gpu

import "github.com/olmolab/olmolab/model"

// With the emu tag the engine on the CPU kernel emulator registers as
// "cuda-emu" and "cuda-emu-fp32", so the device checks (gpubench, olmolab
// verify) can be rehearsed without a GPU, slowly:
//
//	go run -tags emu ./gpu/cmd/gpubench parity --backend cuda-emu-fp32 --steps 5
func init() {
	model.RegisterBackend("cuda-emu", func(cfg model.Config, B, T int) (model.Backend, error) {
		return NewEmulated(cfg, B, T, Options{})
	})
	model.RegisterBackend("cuda-emu-fp32", func(cfg model.Config, B, T int) (model.Backend, error) {
		return NewEmulated(cfg, B, T, Options{FP32: true})
	})
}
