//go:build cuda

package gpu

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"gorgonia.org/cu"

	"github.com/olmolab/olmolab/gpu/internal/cublas"
	"github.com/olmolab/olmolab/gpu/internal/cudnn"
	"github.com/olmolab/olmolab/gpu/kernels"
)

// cudaDevice is one GPU through gorgonia.org/cu (driver API) and the cuBLAS
// shim. It uses the device's primary context, which cuBLAS uses too
// (gpu-build.md §4), and the legacy default stream for kernels, cuBLAS and
// copies, so every operation runs in issue order. One per process, shared by
// the engines on it; a mutex serialises their calls.
type cudaDevice struct {
	mu       sync.Mutex
	dev      cu.Device
	ctx      cu.CUContext
	mod      cu.Module
	fns      map[string]cu.Function
	blas     cublas.Handle
	ws       cu.DevicePtr
	label    string
	syncEach bool           // OLMOLAB_GPU_SYNC=1: synchronise after every launch (locates a faulting kernel)
	math     int            // the handle's current cuBLAS math mode
	params   launchParams   // cuLaunchKernel's parameter block, in C memory (launch_cuda.go)
	leave    func()         // enter's result, made once: an engine call allocates nothing
	smemMax  int            // the device's opt-in shared memory per block
	dynSmem  map[string]int // per kernel, the dynamic shared memory its attribute allows (default 48 KiB)
	dnn      cudnn.Handle   // cuDNN's handle on the default stream (0 until the first fused attention)
}

var (
	devOnce   sync.Once
	sharedDev *cudaDevice
	devErr    error
)

// openCUDA opens device $OLMOLAB_GPU_DEVICE (default 0) once per process.
func openCUDA() (*cudaDevice, error) {
	devOnce.Do(func() { sharedDev, devErr = openCUDAOnce() })
	return sharedDev, devErr
}

func openCUDAOnce() (*cudaDevice, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	n, err := cu.NumDevices()
	if err != nil {
		return nil, fmt.Errorf("counting devices: %w", err)
	}
	ordinal := 0
	if s := os.Getenv("OLMOLAB_GPU_DEVICE"); s != "" {
		if ordinal, err = strconv.Atoi(s); err != nil {
			return nil, fmt.Errorf("OLMOLAB_GPU_DEVICE=%q is not a number", s)
		}
	}
	if ordinal < 0 || ordinal >= n {
		return nil, fmt.Errorf("device %d requested, %d present", ordinal, n)
	}
	d := &cudaDevice{fns: map[string]cu.Function{}, dynSmem: map[string]int{}, syncEach: os.Getenv("OLMOLAB_GPU_SYNC") == "1"}
	d.leave = d.exit
	if d.params, err = newLaunchParams(); err != nil {
		return nil, err
	}
	if d.dev, err = cu.GetDevice(ordinal); err != nil {
		return nil, fmt.Errorf("device %d: %w", ordinal, err)
	}
	if d.ctx, err = d.dev.RetainPrimaryCtx(); err != nil {
		return nil, fmt.Errorf("primary context: %w", err)
	}
	if err = cu.SetCurrentContext(d.ctx); err != nil {
		return nil, fmt.Errorf("set context: %w", err)
	}
	major, minor, err := d.dev.ComputeCapability()
	if err != nil {
		return nil, err
	}
	name, _ := d.dev.Name()
	if d.smemMax, err = d.dev.Attribute(attrSmemOptin); err != nil || d.smemMax < 48<<10 {
		d.smemMax = 48 << 10 // every device has this much; kernels that need more are then refused
	}
	ptx, err := kernels.PTXFor(major, minor)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	// OLMOLAB_PTX loads kernels built elsewhere (e.g. with a newer nvcc on the
	// GPU machine) without rebuilding the binary (gpu-build.md §3).
	if f := os.Getenv("OLMOLAB_PTX"); f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("OLMOLAB_PTX: %w", err)
		}
		ptx = string(b)
	}
	logBuf := &cu.JITErrorLogBuffer{Buffer: make([]byte, 1<<16)}
	if d.mod, err = cu.LoadDataEx(ptx, logBuf); err != nil {
		return nil, fmt.Errorf("loading the kernels' PTX for sm_%d%d: %w\n%s", major, minor, err, cString(logBuf.Buffer))
	}
	for _, k := range kernels.Entries {
		fn, err := d.mod.Function(k)
		if err != nil {
			return nil, fmt.Errorf("kernel %s: %w", k, err)
		}
		d.fns[k] = fn
	}
	lib, err := cublas.Open()
	if err != nil {
		return nil, err
	}
	if d.blas, err = cublas.Create(); err != nil {
		return nil, err
	}
	if d.ws, err = cu.MemAlloc(workspace); err != nil {
		return nil, fmt.Errorf("cuBLAS workspace: %w", err)
	}
	if err = d.blas.SetWorkspace(uintptr(d.ws), workspace); err != nil {
		return nil, fmt.Errorf("cublasSetWorkspace: %w", err)
	}
	if err = d.blas.SetMathMode(cublas.DefaultMath); err != nil {
		return nil, fmt.Errorf("cublasSetMathMode: %w", err)
	}
	if err = d.blas.SetStream(0); err != nil {
		return nil, fmt.Errorf("cublasSetStream: %w", err)
	}
	ver, _ := d.blas.Version()
	d.label = fmt.Sprintf("%s (sm_%d%d, driver %d, cuBLAS %d from %s)", name, major, minor, cu.Version(), ver, lib)
	return d, nil
}

func cString(b []byte) string {
	if i := strings.IndexByte(string(b), 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

func (d *cudaDevice) name() string { return d.label }

func (d *cudaDevice) enter() func() {
	d.mu.Lock()
	runtime.LockOSThread()
	if err := cu.SetCurrentContext(d.ctx); err != nil {
		runtime.UnlockOSThread()
		d.mu.Unlock()
		panic(fmt.Errorf("gpu: set context: %w", err))
	}
	return d.leave
}

// exit ends enter's call.
func (d *cudaDevice) exit() {
	runtime.UnlockOSThread()
	d.mu.Unlock()
}

func (d *cudaDevice) alloc(n int64) (dptr, error) {
	p, err := cu.MemAlloc(n)
	return dptr(p), err
}

func (d *cudaDevice) free(p dptr) error { return cu.MemFree(cu.DevicePtr(p)) }

func (d *cudaDevice) htod(dst dptr, src unsafe.Pointer, n int64) error {
	return cu.MemcpyHtoD(cu.DevicePtr(dst), src, n)
}

func (d *cudaDevice) dtoh(dst unsafe.Pointer, src dptr, n int64) error {
	return cu.MemcpyDtoH(dst, cu.DevicePtr(src), n)
}

func (d *cudaDevice) zero(dst dptr, n int64) error {
	return cu.MemsetD8Async(cu.DevicePtr(dst), 0, n, cu.NoStream)
}

func (d *cudaDevice) smemLimit() int { return d.smemMax }

// allowSmem raises kernel name's dynamic shared memory attribute to smem
// when a launch asks for more than 48 KiB (once per kernel and size).
func (d *cudaDevice) allowSmem(name string, fn cu.Function, smem int) error {
	if smem <= 48<<10 || smem <= d.dynSmem[name] {
		return nil
	}
	if err := setMaxDynSmem(fn, smem); err != nil {
		return fmt.Errorf("kernel %s: %w", name, err)
	}
	d.dynSmem[name] = smem
	return nil
}

func (d *cudaDevice) launch(name string, grid, block dim3, smem int, args []arg) error {
	fn, ok := d.fns[name]
	if !ok {
		return fmt.Errorf("kernel %s not loaded", name)
	}
	if err := d.allowSmem(name, fn, smem); err != nil {
		return err
	}
	err := d.params.launchFn(fn, grid, block, smem, args)
	if err == nil && d.syncEach {
		err = cu.Synchronize()
	}
	return err
}

func cublasType(t dtype) int {
	if t == bf16 {
		return cublas.R16BF
	}
	return cublas.R32F
}

func (d *cudaDevice) gemm(g gemmOp) error {
	mode := cublas.DefaultMath
	if g.pedantic {
		mode = cublas.PedanticMath
	}
	if mode != d.math {
		if err := d.blas.SetMathMode(mode); err != nil {
			return fmt.Errorf("cublasSetMathMode: %w", err)
		}
		d.math = mode
	}
	c := colMajor(g)
	op := func(t bool) int {
		if t {
			return cublas.OpT
		}
		return cublas.OpN
	}
	err := d.blas.GemmEx(op(c.transA), op(c.transB), c.m, c.n, c.k, g.alpha, uintptr(c.a), cublasType(c.ta), c.lda,
		uintptr(c.b), cublasType(c.tb), c.ldb, g.beta, uintptr(c.c), cublasType(c.tc), c.ldc, cublas.Compute32F, cublas.GemmDefault)
	if err != nil {
		return fmt.Errorf("cublasGemmEx %s %d×%d×%d (row-major %+v): %w", g.ta, g.m, g.n, g.k, g, err)
	}
	if d.syncEach {
		return cu.Synchronize()
	}
	return nil
}

func (d *cudaDevice) sync() error { return cu.Synchronize() }

// cudaStamps are CUDA events recorded on the default stream.
type cudaStamps []cu.Event

func (d *cudaDevice) stamps(n int) (stamper, error) {
	s := make(cudaStamps, n)
	for i := range s {
		ev, err := cu.MakeEvent(cu.DefaultEvent)
		if err != nil {
			s[:i].close()
			return nil, fmt.Errorf("cuEventCreate: %w", err)
		}
		s[i] = ev
	}
	return s, nil
}

func (s cudaStamps) record(i int) error { return s[i].Record(cu.NoStream) }

func (s cudaStamps) elapsed(i, j int) (float64, error) {
	if err := s[j].Synchronize(); err != nil {
		return 0, err
	}
	return s[i].Elapsed(s[j])
}

func (s cudaStamps) close() error {
	var first error
	for i := range s {
		if err := cu.DestroyEvent(&s[i]); err != nil && first == nil {
			first = err
		}
	}
	return first
}

func (d *cudaDevice) memInfo() (free, total int64, err error) { return cu.MemInfo() }

// inspect reports how the driver compiled a kernel for this device and how
// many blocks of the given shape fit an SM (kernelInspector).
func (d *cudaDevice) inspect(name string, threads, smem int) (KernelInfo, error) {
	fn, ok := d.fns[name]
	if !ok {
		return KernelInfo{}, fmt.Errorf("kernel %s not loaded", name)
	}
	if err := d.allowSmem(name, fn, smem); err != nil {
		return KernelInfo{}, err
	}
	var k KernelInfo
	var err error
	for _, a := range []struct {
		attr cu.FunctionAttribute
		dst  *int
	}{{cu.NumRegs, &k.Regs}, {cu.LocalSizeBytes, &k.LocalBytes}, {cu.SharedSizeBytes, &k.StaticSmem}} {
		if *a.dst, err = fn.Attribute(a.attr); err != nil {
			return k, fmt.Errorf("kernel %s attribute: %w", name, err)
		}
	}
	if k.BlocksPerSM, err = fn.MaxActiveBlocksPerMultiProcessor(threads, int64(smem)); err != nil {
		return k, fmt.Errorf("kernel %s occupancy: %w", name, err)
	}
	return k, nil
}

// close keeps the shared device open for the process's other engines.
func (d *cudaDevice) close() error { return nil }
