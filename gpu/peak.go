package gpu

import "strings"

// PeakFLOPS is the rate the lab measures this engine's MFU against
// (lab.MFU): the device's dense bf16 tensor-core peak for the bf16 engine,
// its fp32 non-tensor peak for the fp32 one (cuBLAS in pedantic fp32), as
// perf.md §2.1 lists them for the H100 SXM and H200 (one GH100 die: 989 and
// 67 TFLOP/s; gpubench bench's too). 0 where it is not known (another GPU, the
// H100's PCIe and NVL parts, the emulator): the lab then reports no MFU.
func (e *Engine) PeakFLOPS() float64 { return peakFLOPS(e.dev.name(), e.plan.FP32) }

// peakFLOPS is PeakFLOPS of a device named name (cudaDevice's label, which
// starts with the driver's device name).
func peakFLOPS(name string, fp32 bool) float64 {
	sxm := (strings.Contains(name, "H100") || strings.Contains(name, "H200")) &&
		!strings.Contains(name, "PCIe") && !strings.Contains(name, "NVL")
	switch {
	case !sxm:
		return 0
	case fp32:
		return 67e12
	}
	return 989e12
}
