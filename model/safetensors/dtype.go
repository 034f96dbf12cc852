package safetensors

// DType is a safetensors element type, spelled as in the header ("F32",
// "BF16", ...).
type DType string

// The element types Parse accepts. The first ten are the ones olmolab uses;
// the unsigned and 8-bit float types are there so that files from other
// tools still open (their bytes are kept; U16, U32, U64 and the F8 types also
// convert).
const (
	F64    DType = "F64"
	F32    DType = "F32"
	F16    DType = "F16"
	BF16   DType = "BF16"
	I64    DType = "I64"
	I32    DType = "I32"
	I16    DType = "I16"
	I8     DType = "I8"
	U8     DType = "U8"
	Bool   DType = "BOOL"
	U16    DType = "U16"
	U32    DType = "U32"
	U64    DType = "U64"
	F8E4M3 DType = "F8_E4M3" // OCP E4M3FN: bias 7, no infinities, S.1111.111 is NaN
	F8E5M2 DType = "F8_E5M2" // bias 15, IEEE-style infinities and NaNs (the top byte of an F16)
)

// Size returns the number of bytes per element, or 0 for an unknown dtype.
func (d DType) Size() int {
	switch d {
	case F64, I64, U64:
		return 8
	case F32, I32, U32:
		return 4
	case F16, BF16, I16, U16:
		return 2
	case I8, U8, Bool, F8E4M3, F8E5M2:
		return 1
	}
	return 0
}

// Valid reports whether d is a dtype this package knows.
func (d DType) Valid() bool { return d.Size() != 0 }

// IsFloat reports whether d is a floating-point dtype.
func (d DType) IsFloat() bool {
	switch d {
	case F64, F32, F16, BF16, F8E4M3, F8E5M2:
		return true
	}
	return false
}

// String returns the header spelling of d.
func (d DType) String() string { return string(d) }
