//go:build emu

package gpu

import "github.com/olmolab/olmolab/model"

// With the emu tag the engine on the CPU kernel emulator registers as
// "cuda-emu" and "cuda-emu-fp32" (and their forward-only engines,
// model.NewScoringBackend), so the device checks (gpubench, olmolab
// verify) can be rehearsed without a GPU, slowly; they read the same
// environment as the real backends (OptionsFromEnv):
//
//	go run -tags emu ./gpu/cmd/gpubench parity --backend cuda-emu-fp32 --steps 5
//	OLMOLAB_GPU_ATTN=v2 go run -tags emu ./gpu/cmd/gpubench parity --backend cuda-emu --heads 2 --steps 2 --seq 80
//	OLMOLAB_GPU_ATTN=auto go run -tags emu ./gpu/cmd/gpubench parity --backend cuda-emu --heads 2 --steps 2 --seq 80
func init() {
	for name, fp32 := range map[string]bool{"cuda-emu": false, "cuda-emu-fp32": true} {
		model.RegisterBackend(name, func(cfg model.Config, B, T int) (model.Backend, error) {
			o, err := OptionsFromEnv(fp32)
			if err != nil {
				return nil, err
			}
			return NewEmulated(cfg, B, T, o)
		})
		model.RegisterScoringBackend(name, func(cfg model.Config, B, T int) (model.Backend, error) {
			o, err := OptionsFromEnv(fp32)
			if err != nil {
				return nil, err
			}
			return NewScoringEmulated(cfg, B, T, o)
		})
	}
}
