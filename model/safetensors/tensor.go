package safetensors

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
)

// Tensor is one named tensor. Data holds the elements as raw little-endian
// bytes in row-major order; a tensor from Parse or Read shares its Data with
// the file's buffer, so modifying it modifies the File. A tensor from Open
// has no Data: its bytes stay in the file until a conversion or Bytes reads
// them (setting Data makes it an in-memory tensor like any other).
type Tensor struct {
	Name  string
	DType DType
	Shape []int // [] for a 0-d tensor, which holds one element
	Data  []byte

	// For a tensor from Open: its file, and where in it its n bytes begin.
	src *source
	off int64
	n   int64
}

// Header describes a tensor without its data, for the streaming writers
// (EncodeFunc, WriteFunc, WriteShardedFunc).
type Header struct {
	Name  string
	DType DType
	Shape []int
}

// Header returns t's name, dtype and shape.
func (t *Tensor) Header() Header { return Header{Name: t.Name, DType: t.DType, Shape: t.Shape} }

// NumElements returns the product of the shape (1 for a 0-d tensor). It
// panics on a negative dimension, which Parse never produces.
func (t *Tensor) NumElements() int { return numElements(t.Shape) }

func numElements(shape []int) int {
	n := 1
	for _, d := range shape {
		if d < 0 {
			panic(fmt.Sprintf("safetensors: negative dimension in shape %v", shape))
		}
		n *= d
	}
	return n
}

// check returns an error unless t's dtype is known and its data (Data, or
// the bytes Open found in the file) matches its shape; it guards the
// conversions against hand-built or edited tensors, and a streamed tensor
// against reading beyond its own bytes.
func (t *Tensor) check() (int, error) {
	size := t.DType.Size()
	if size == 0 {
		return 0, fmt.Errorf("%s: unknown dtype %q", t.label(), t.DType)
	}
	for _, d := range t.Shape {
		if d < 0 {
			return 0, fmt.Errorf("%s: negative dimension in shape %v", t.label(), t.Shape)
		}
	}
	have := int64(len(t.Data))
	if t.streamed() {
		have = t.n
	}
	nb, ok := shapeBytes(t.Shape, size)
	if !ok {
		return 0, fmt.Errorf("%s: shape %v of %s overflows an int; data has %d bytes", t.label(), t.Shape, t.DType, have)
	}
	if int64(nb) != have {
		return 0, fmt.Errorf("%s: shape %v of %s needs %d bytes, data has %d", t.label(), t.Shape, t.DType, nb, have)
	}
	return nb / size, nil
}

// shapeBytes returns the byte size of a tensor of the given shape (whose
// dimensions are not negative) and element size, and false if that size
// overflows an int, as a hostile header can make it.
func shapeBytes(shape []int, size int) (int, bool) {
	for _, d := range shape {
		if d == 0 {
			return 0, true
		}
	}
	n := uint64(size)
	for _, d := range shape {
		hi, lo := bits.Mul64(n, uint64(d))
		if hi != 0 || lo > math.MaxInt {
			return 0, false
		}
		n = lo
	}
	return int(n), true
}

// grow returns dst[:n], reusing dst's storage when its capacity suffices.
func grow[T any](dst []T, n int) []T {
	if cap(dst) >= n {
		return dst[:n]
	}
	return make([]T, n)
}

// Float32s converts t to float32 into dst[:n] (reallocated only when cap(dst)
// < n) and returns it. Float dtypes widen exactly except F64, which rounds to
// nearest even; integer and BOOL dtypes convert by value (large 64-bit
// integers round). It returns an error for a tensor whose data does not match
// its shape, and for a tensor from Open whose bytes cannot be read (dst may
// then hold part of them).
func (t *Tensor) Float32s(dst []float32) ([]float32, error) {
	return convert(t, dst, F32, toFloat32)
}

// convert is Float32s and Float64s: it converts t into dst[:n] with conv,
// reading a streamed tensor of dtype native straight into dst.
func convert[T float32 | float64](t *Tensor, dst []T, native DType, conv func([]T, DType, []byte)) ([]T, error) {
	n, err := t.check()
	if err != nil {
		return nil, err
	}
	dst = grow(dst, n)
	if t.streamed() && t.DType == native && littleEndian {
		// The file's bytes are dst's bytes: read them in place.
		if err := t.readAt(asBytes(dst), 0); err != nil {
			return nil, err
		}
		return dst, nil
	}
	err = t.each(func(i int, b []byte) error {
		conv(dst[i:], t.DType, b)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return dst, nil
}

// Float32sAt converts elements [at, at+len(dst)) of t (row-major, as Float32s
// counts them) to float32 into dst, with Float32s's conversions and errors
// plus one for a range outside the tensor. For a tensor from Open it reads
// only that range from the file: F32 straight into dst, other dtypes through
// the 1 MiB chunk buffer. So a caller can stream a tensor of any size
// through a buffer of its choosing (a checkpoint into an engine, a soup's
// average chunk by chunk).
func (t *Tensor) Float32sAt(dst []float32, at int) error {
	n, err := t.check()
	if err != nil {
		return err
	}
	if at < 0 || at > n || len(dst) > n-at {
		return fmt.Errorf("%s: elements [%d, %d) are outside its %d", t.label(), at, at+len(dst), n)
	}
	size := t.DType.Size()
	if !t.streamed() {
		toFloat32(dst, t.DType, t.Data[at*size:(at+len(dst))*size])
		return nil
	}
	if t.DType == F32 && littleEndian {
		return t.readAt(asBytes(dst), int64(at)*4)
	}
	bp := chunkPool.Get().(*[]byte)
	defer chunkPool.Put(bp)
	per := len(*bp) / size
	for i := 0; i < len(dst); i += per {
		k := min(per, len(dst)-i)
		b := (*bp)[:k*size]
		if err := t.readAt(b, int64(at+i)*int64(size)); err != nil {
			return err
		}
		toFloat32(dst[i:], t.DType, b)
	}
	return nil
}

// toFloat32 converts the elements of dtype d in b into dst[:len(b)/d.Size()].
func toFloat32(dst []float32, d DType, b []byte) {
	dst = dst[:len(b)/d.Size()]
	switch d {
	case F32:
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
	case BF16:
		for i := range dst {
			dst[i] = bf16ToF32(binary.LittleEndian.Uint16(b[2*i:]))
		}
	case F16:
		for i := range dst {
			dst[i] = f16ToF32(binary.LittleEndian.Uint16(b[2*i:]))
		}
	case F64:
		for i := range dst {
			dst[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:])))
		}
	case F8E4M3:
		for i := range dst {
			dst[i] = f8e4m3ToF32(b[i])
		}
	case F8E5M2:
		for i := range dst {
			dst[i] = f8e5m2ToF32(b[i])
		}
	case U64:
		for i := range dst {
			dst[i] = float32(binary.LittleEndian.Uint64(b[8*i:]))
		}
	default:
		for i := range dst {
			dst[i] = float32(intAt(d, b, i))
		}
	}
}

// Float64s converts t to float64 into dst[:n] (reallocated only when cap(dst)
// < n) and returns it. Every float dtype widens exactly; 64-bit integers
// beyond 2^53 round. Errors are as for Float32s.
func (t *Tensor) Float64s(dst []float64) ([]float64, error) {
	return convert(t, dst, F64, toFloat64)
}

// toFloat64 converts the elements of dtype d in b into dst[:len(b)/d.Size()].
func toFloat64(dst []float64, d DType, b []byte) {
	dst = dst[:len(b)/d.Size()]
	switch d {
	case F64:
		for i := range dst {
			dst[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:]))
		}
	case F32:
		for i := range dst {
			dst[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:])))
		}
	case BF16:
		for i := range dst {
			dst[i] = float64(bf16ToF32(binary.LittleEndian.Uint16(b[2*i:])))
		}
	case F16:
		for i := range dst {
			dst[i] = float64(f16ToF32(binary.LittleEndian.Uint16(b[2*i:])))
		}
	case F8E4M3:
		for i := range dst {
			dst[i] = float64(f8e4m3ToF32(b[i]))
		}
	case F8E5M2:
		for i := range dst {
			dst[i] = float64(f8e5m2ToF32(b[i]))
		}
	case U64:
		for i := range dst {
			dst[i] = float64(binary.LittleEndian.Uint64(b[8*i:]))
		}
	default:
		for i := range dst {
			dst[i] = float64(intAt(d, b, i))
		}
	}
}

// Int64s converts an integer or BOOL tensor to int64. It returns an error for
// float dtypes (use Float64s) and for a U64 value above math.MaxInt64.
func (t *Tensor) Int64s() ([]int64, error) {
	n, err := t.check()
	if err != nil {
		return nil, err
	}
	if t.DType.IsFloat() {
		return nil, fmt.Errorf("%s: Int64s of a %s tensor; use Float64s", t.label(), t.DType)
	}
	dst := make([]int64, n)
	err = t.each(func(i0 int, b []byte) error {
		for i := range len(b) / t.DType.Size() {
			if t.DType == U64 {
				u := binary.LittleEndian.Uint64(b[8*i:])
				if u > math.MaxInt64 {
					return fmt.Errorf("%s: element %d = %d does not fit in int64", t.label(), i0+i, u)
				}
			}
			dst[i0+i] = intAt(t.DType, b, i)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return dst, nil
}

// intAt returns element i of integer data b of dtype d (U64 reinterpreted as
// int64; the callers range-check it first).
func intAt(d DType, b []byte, i int) int64 {
	switch d {
	case I64, U64:
		return int64(binary.LittleEndian.Uint64(b[8*i:]))
	case I32:
		return int64(int32(binary.LittleEndian.Uint32(b[4*i:])))
	case U32:
		return int64(binary.LittleEndian.Uint32(b[4*i:]))
	case I16:
		return int64(int16(binary.LittleEndian.Uint16(b[2*i:])))
	case U16:
		return int64(binary.LittleEndian.Uint16(b[2*i:]))
	case I8:
		return int64(int8(b[i]))
	case U8:
		return int64(b[i])
	case Bool:
		// Any nonzero byte is true, as numpy and torch read it.
		if b[i] != 0 {
			return 1
		}
		return 0
	}
	panic("safetensors: intAt of non-integer dtype " + string(d))
}

// FromFloat32 encodes v as a tensor of dtype F32, BF16, F16 or F64, rounding
// to nearest even where the dtype is narrower. It panics if len(v) does not
// match shape or the dtype is not one of those four: both are programmer
// errors, not data errors.
func FromFloat32(name string, dtype DType, shape []int, v []float32) Tensor {
	t := newTensor(name, dtype, shape, len(v), "FromFloat32")
	b := t.Data
	switch dtype {
	case F32:
		for i, x := range v {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
		}
	case BF16:
		for i, x := range v {
			binary.LittleEndian.PutUint16(b[2*i:], f32ToBF16(x))
		}
	case F16:
		for i, x := range v {
			// float32 -> float64 is exact, so this is a single rounding.
			binary.LittleEndian.PutUint16(b[2*i:], f64ToF16(float64(x)))
		}
	case F64:
		for i, x := range v {
			binary.LittleEndian.PutUint64(b[8*i:], math.Float64bits(float64(x)))
		}
	}
	return t
}

// FromFloat64 is FromFloat32 for float64 input; BF16 and F16 round once,
// straight from float64.
func FromFloat64(name string, dtype DType, shape []int, v []float64) Tensor {
	t := newTensor(name, dtype, shape, len(v), "FromFloat64")
	b := t.Data
	switch dtype {
	case F32:
		for i, x := range v {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(float32(x)))
		}
	case BF16:
		for i, x := range v {
			binary.LittleEndian.PutUint16(b[2*i:], f64ToBF16(x))
		}
	case F16:
		for i, x := range v {
			binary.LittleEndian.PutUint16(b[2*i:], f64ToF16(x))
		}
	case F64:
		for i, x := range v {
			binary.LittleEndian.PutUint64(b[8*i:], math.Float64bits(x))
		}
	}
	return t
}

// FromInt64 encodes v as a tensor of dtype I64, I32, I16, I8, U8 or BOOL
// (nonzero is true). It panics if len(v) does not match shape, the dtype is
// not one of those, or a value does not fit the dtype.
func FromInt64(name string, dtype DType, shape []int, v []int64) Tensor {
	var lo, hi int64
	switch dtype {
	case I64:
		lo, hi = math.MinInt64, math.MaxInt64
	case I32:
		lo, hi = math.MinInt32, math.MaxInt32
	case I16:
		lo, hi = math.MinInt16, math.MaxInt16
	case I8:
		lo, hi = math.MinInt8, math.MaxInt8
	case U8:
		lo, hi = 0, math.MaxUint8
	case Bool:
		lo, hi = math.MinInt64, math.MaxInt64
	default:
		panic(fmt.Sprintf("safetensors: FromInt64 of tensor %q: dtype %q is not I64, I32, I16, I8, U8 or BOOL", name, dtype))
	}
	t := Tensor{Name: name, DType: dtype, Shape: append([]int{}, shape...)}
	if n := numElements(shape); n != len(v) {
		panic(fmt.Sprintf("safetensors: FromInt64 of tensor %q: shape %v has %d elements, got %d values", name, shape, n, len(v)))
	}
	t.Data = make([]byte, len(v)*dtype.Size())
	b := t.Data
	for i, x := range v {
		if x < lo || x > hi {
			panic(fmt.Sprintf("safetensors: FromInt64 of tensor %q: element %d = %d does not fit %s", name, i, x, dtype))
		}
		switch dtype {
		case I64:
			binary.LittleEndian.PutUint64(b[8*i:], uint64(x))
		case I32:
			binary.LittleEndian.PutUint32(b[4*i:], uint32(x))
		case I16:
			binary.LittleEndian.PutUint16(b[2*i:], uint16(x))
		case I8, U8:
			b[i] = byte(x)
		case Bool:
			if x != 0 {
				b[i] = 1
			}
		}
	}
	return t
}

// newTensor allocates a float tensor's Data after checking the programmer's
// arguments; fn names the caller in the panic message.
func newTensor(name string, dtype DType, shape []int, nv int, fn string) Tensor {
	switch dtype {
	case F32, BF16, F16, F64:
	default:
		panic(fmt.Sprintf("safetensors: %s of tensor %q: dtype %q is not F32, BF16, F16 or F64", fn, name, dtype))
	}
	if n := numElements(shape); n != nv {
		panic(fmt.Sprintf("safetensors: %s of tensor %q: shape %v has %d elements, got %d values", fn, name, shape, n, nv))
	}
	// Copy the shape so that the caller reusing its slice cannot change us.
	return Tensor{Name: name, DType: dtype, Shape: append([]int{}, shape...), Data: make([]byte, nv*dtype.Size())}
}
