//go:build !cuda && !emu

package gpu

// BenchAttention needs a GPU (build tag cuda) or the emulator (tag emu).
func BenchAttention(p AttnBenchParams) ([]AttnBenchRow, error) { return nil, ErrNoCUDA }
