//go:build !purego

package model

import "os"

//go:generate go run ./_asm/gen.go

//go:noescape
func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)

func xgetbv() (eax, edx uint32)

// detectSIMD picks the best kernel set this CPU and OS run: CPUID says the
// core has the instructions, XCR0 that the OS saves ymm (bits 1,2) and
// zmm/opmask state (bits 5,6,7) across context switches. The environment
// variable OLMOLAB_SIMD (avx512, avx2, go) forces a lower level, for tests and
// comparisons, as OLMOLAB_GEMM_KERNEL does for model/gemm.
func detectSIMD() simdKind {
	best := simdGo
	if maxID, _, _, _ := cpuid(0, 0); maxID >= 7 {
		_, _, ecx1, _ := cpuid(1, 0)
		const fma, osxsave, avx = 1 << 12, 1 << 27, 1 << 28
		if ecx1&(fma|osxsave|avx) == fma|osxsave|avx {
			xcr0, _ := xgetbv()
			_, ebx7, _, _ := cpuid(7, 0)
			const avx2, avx512f = 1 << 5, 1 << 16
			if xcr0&0x6 == 0x6 && ebx7&avx2 != 0 {
				best = simdAVX2
				if ebx7&avx512f != 0 && xcr0&0xe6 == 0xe6 {
					best = simdAVX512
				}
			}
		}
	}
	switch os.Getenv("OLMOLAB_SIMD") {
	case "go":
		return simdGo
	case "avx2":
		return min(best, simdAVX2)
	}
	return best
}
