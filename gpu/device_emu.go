//go:build emu

package gpu

import (
	"fmt"
	"unsafe"

	"github.com/olmolab/olmolab/gpu/internal/emu"
	"github.com/olmolab/olmolab/model"
)

// emuDevice runs the engine on the CPU kernel emulator (tests only): host
// memory stands in for device memory and every launch executes the kernel's
// C++ compilation with the same arguments.
type emuDevice struct {
	allocs map[dptr]int64
	budget int64
}

func newEmuDevice(budget int64) *emuDevice {
	return &emuDevice{allocs: map[dptr]int64{}, budget: budget}
}

func (d *emuDevice) name() string { return "emulator" }

func (d *emuDevice) alloc(n int64) (dptr, error) {
	p := dptr(emu.Alloc(n))
	d.allocs[p] = n
	return p, nil
}

func (d *emuDevice) free(p dptr) error {
	if _, ok := d.allocs[p]; !ok {
		return fmt.Errorf("free of %#x, not allocated", uintptr(p))
	}
	delete(d.allocs, p)
	emu.Free(uintptr(p))
	return nil
}

// inside reports whether [p, p+n) lies in one allocation.
func (d *emuDevice) inside(p dptr, n int64) bool {
	for b, sz := range d.allocs {
		if p >= b && int64(p-b)+n <= sz {
			return true
		}
	}
	return false
}

func (d *emuDevice) htod(dst dptr, src unsafe.Pointer, n int64) error {
	if !d.inside(dst, n) {
		return fmt.Errorf("htod of %d bytes outside device memory", n)
	}
	copy(unsafe.Slice((*byte)(emu.HostPtr(uintptr(dst))), n), unsafe.Slice((*byte)(src), n))
	return nil
}

func (d *emuDevice) dtoh(dst unsafe.Pointer, src dptr, n int64) error {
	if !d.inside(src, n) {
		return fmt.Errorf("dtoh of %d bytes outside device memory", n)
	}
	copy(unsafe.Slice((*byte)(dst), n), unsafe.Slice((*byte)(emu.HostPtr(uintptr(src))), n))
	return nil
}

func (d *emuDevice) zero(dst dptr, n int64) error {
	if !d.inside(dst, n) {
		return fmt.Errorf("memset of %d bytes outside device memory", n)
	}
	clear(unsafe.Slice((*byte)(emu.HostPtr(uintptr(dst))), n))
	return nil
}

func (d *emuDevice) launch(name string, grid, block dim3, smem int, args []arg) error {
	a := make([]uint64, len(args))
	for i, x := range args {
		if x.kind == argPtr && x.v != 0 && !d.inside(dptr(x.v), 1) {
			return fmt.Errorf("%s: argument %d is not a device address", name, i)
		}
		a[i] = x.v
	}
	return emu.Launch(name, grid, block, uint32(smem), a)
}

func (d *emuDevice) gemm(g gemmOp) error {
	ea, eb, ec := g.extents()
	if !d.inside(g.a, ea*g.ta.size()) || !d.inside(g.b, eb*g.tb.size()) || !d.inside(g.c, ec*g.tc.size()) {
		return fmt.Errorf("gemm %+v reaches outside device memory", g)
	}
	emu.Gemm(g.transA, g.transB, g.m, g.n, g.k, g.alpha, uintptr(g.a), int(g.ta), g.lda, uintptr(g.b), int(g.tb), g.ldb,
		g.beta, uintptr(g.c), int(g.tc), g.ldc)
	return nil
}

func (d *emuDevice) stamps(n int) (stamper, error) { return make(wallStamps, n), nil }
func (d *emuDevice) sync() error                   { return nil }
func (d *emuDevice) memInfo() (free, total int64, err error) {
	free = d.budget
	for _, n := range d.allocs {
		free -= n
	}
	return free, d.budget, nil
}
func (d *emuDevice) smemLimit() int { return smemOptin90 }
func (d *emuDevice) enter() func()  { return func() {} }
func (d *emuDevice) close() error {
	if len(d.allocs) != 0 {
		return fmt.Errorf("%d allocations not freed", len(d.allocs))
	}
	return nil
}

// NewEmulated builds an engine on the CPU kernel emulator (build tag emu), for
// tests of the engine and its kernels without a GPU.
func NewEmulated(cfg model.Config, B, T int, opts Options) (*Engine, error) {
	return newEngine(newEmuDevice(1<<40), cfg, B, T, opts)
}

// NewScoringEmulated builds a forward-only engine (NewScoring) on the CPU
// kernel emulator.
func NewScoringEmulated(cfg model.Config, B, T int, opts Options) (*Engine, error) {
	return newScoringEngine(newEmuDevice(1<<40), cfg, B, T, opts)
}
