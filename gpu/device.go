package gpu

import (
	"fmt"
	"math"
	"time"
	"unsafe"
)

// dtype is an element type on the device.
type dtype int

const (
	f32  dtype = iota // float32
	bf16              // bfloat16 (bits of a float32's upper half)
)

func (t dtype) size() int64 {
	if t == bf16 {
		return 2
	}
	return 4
}

func (t dtype) String() string {
	if t == bf16 {
		return "bf16"
	}
	return "f32"
}

// dptr is a device address (CUdeviceptr). 0 is the null pointer kernels test for.
type dptr uintptr

func (p dptr) add(bytes int64) dptr { return p + dptr(bytes) }

// dim3 is a launch's grid or block shape (x, y, z).
type dim3 [3]uint32

// argKind is how a kernel parameter is declared in the PTX: .u64 (pointers,
// long long), .u32 (int) or .f32 (float).
type argKind uint8

const (
	argPtr argKind = iota
	argI64
	argI32
	argF32
)

func (k argKind) ptx() string {
	switch k {
	case argPtr, argI64:
		return "u64"
	case argI32:
		return "u32"
	}
	return "f32"
}

// arg is one kernel parameter in cuLaunchKernel's convention: gorgonia's
// Function.Launch copies 8 bytes from each parameter's address, and the driver
// reads as many bytes as the kernel declares (4 for int and float), which on a
// little-endian machine are the low bytes of the slot. So a 4-byte value sits
// in the low half of a uint64 (gpu-build.md §10 pitfall 2).
type arg struct {
	v    uint64
	kind argKind
}

func ptr(p dptr) arg       { return arg{uint64(p), argPtr} }
func i32(v int) arg        { return arg{uint64(uint32(int32(v))), argI32} }
func i64(v int64) arg      { return arg{uint64(v), argI64} }
func f32arg(v float64) arg { return arg{uint64(math.Float32bits(float32(v))), argF32} }

// gemmOp is C = alpha·op(A)·op(B) + beta·C in row-major layout (model's
// matmul convention): op(A) is m×k, op(B) is k×n, C is m×n; computed with
// fp32 accumulation whatever the operand types.
type gemmOp struct {
	transA, transB bool
	m, n, k        int
	alpha          float32
	a              dptr
	ta             dtype
	lda            int
	b              dptr
	tb             dtype
	ldb            int
	beta           float32
	c              dptr
	tc             dtype
	ldc            int
	pedantic       bool // fp32 engine: no reduced-precision shortcuts in cuBLAS
}

// extents are the element ranges gemm touches in A, B and C (for bounds checks).
func (g gemmOp) extents() (a, b, c int64) {
	span := func(rows, cols, ld int) int64 { return int64(rows-1)*int64(ld) + int64(cols) }
	if g.transA {
		a = span(g.k, g.m, g.lda)
	} else {
		a = span(g.m, g.k, g.lda)
	}
	if g.transB {
		b = span(g.n, g.k, g.ldb)
	} else {
		b = span(g.k, g.n, g.ldb)
	}
	c = span(g.m, g.n, g.ldc)
	return
}

// check reports an inconsistent product (a programmer error in the engine).
func (g gemmOp) check() error {
	if g.m <= 0 || g.n <= 0 || g.k <= 0 {
		return fmt.Errorf("gemm: empty shape %d×%d×%d", g.m, g.n, g.k)
	}
	rowsA, colsA := g.m, g.k
	if g.transA {
		rowsA, colsA = g.k, g.m
	}
	rowsB, colsB := g.k, g.n
	if g.transB {
		rowsB, colsB = g.n, g.k
	}
	_, _ = rowsA, rowsB
	if g.lda < colsA || g.ldb < colsB || g.ldc < g.n {
		return fmt.Errorf("gemm: leading dimensions (%d,%d,%d) below row widths (%d,%d,%d)", g.lda, g.ldb, g.ldc, colsA, colsB, g.n)
	}
	if g.ta != g.tb {
		return fmt.Errorf("gemm: operand types differ (%v, %v)", g.ta, g.tb)
	}
	const maxInt = 1<<31 - 1
	for _, v := range []int{g.m, g.n, g.k, g.lda, g.ldb, g.ldc} {
		if v > maxInt {
			return fmt.Errorf("gemm: dimension %d exceeds cuBLAS's int", v)
		}
	}
	return nil
}

// device is what the engine needs of a GPU: memory, copies, kernel launches
// and matrix products, all in order on one stream. The CUDA implementation
// (device_cuda.go, build tag cuda) uses gorgonia.org/cu and cuBLAS; the
// emulated one (device_emu.go, tag emu) runs the same kernels on the CPU.
type device interface {
	name() string
	alloc(bytes int64) (dptr, error)
	free(p dptr) error
	htod(dst dptr, src unsafe.Pointer, bytes int64) error // returns once src may be reused
	dtoh(dst unsafe.Pointer, src dptr, bytes int64) error // waits for all earlier work
	zero(dst dptr, bytes int64) error
	launch(kernel string, grid, block dim3, smem int, args []arg) error
	gemm(g gemmOp) error
	sync() error
	memInfo() (free, total int64, err error)
	// smemLimit is the most shared memory (static and dynamic) a block may
	// use: the device's opt-in limit (227 KiB on sm_90). launch sets the
	// kernel's attribute when it asks for more than the default 48 KiB.
	smemLimit() int
	// enter makes the device current on the calling OS thread for the
	// duration of one engine call; the returned function ends it.
	enter() func()
	// stamps returns n in-stream timestamps (CUDA events) for profiles.
	stamps(n int) (stamper, error)
	close() error
}

// smemOptin90 is sm_90's opt-in shared memory per block (227 KiB), the limit
// the emulator and the tests' fake device report.
const smemOptin90 = 227 << 10

// kernelInspector is a device that can say what the driver made of a kernel
// (KernelInfo): the CUDA device.
type kernelInspector interface {
	inspect(kernel string, threads, smem int) (KernelInfo, error)
}

// stamper records timestamps in the stream's order: record(i) marks the
// moment all earlier work is done; elapsed(i, j) is the time from mark i to
// mark j in milliseconds (waiting for mark j).
type stamper interface {
	record(i int) error
	elapsed(i, j int) (float64, error)
	close() error
}

// wallStamps is the stamper of devices that run synchronously (the emulator,
// the tests' fake): wall-clock times taken at record.
type wallStamps []time.Time

func (w wallStamps) record(i int) error { w[i] = time.Now(); return nil }
func (w wallStamps) elapsed(i, j int) (float64, error) {
	return float64(w[j].Sub(w[i]).Nanoseconds()) / 1e6, nil
}
func (w wallStamps) close() error { return nil }
