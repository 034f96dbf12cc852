//go:build emu && !cuda

package gpu

// BenchAttention runs the attention benchmark on the CPU kernel emulator
// (build tag emu): the comparisons hold, the times are the emulator's.
func BenchAttention(p AttnBenchParams) ([]AttnBenchRow, error) {
	return benchAttention(newEmuDevice(1<<40), p)
}
