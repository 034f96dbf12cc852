package safetensors

import "math"

// Narrowing conversions round to nearest, ties to even (IEEE 754's default,
// and what torch's .to(bfloat16) and .half() do). Widening is exact.
//
// One routine, roundF64, narrows a float64 to any binary format with
// expBits exponent and mantBits stored mantissa bits; F32, BF16, F16 and
// F8_E5M2 are all instances of it. Rounding straight from float64 matters:
// float64 -> float32 -> bfloat16 can round twice and land one ulp off.

// roundF64 returns the bits of x rounded to the format (expBits, mantBits),
// with sign, subnormals, overflow to infinity and NaN handled. NaN keeps its
// sign and top payload bits and gets the quiet bit, so it can never turn into
// an infinity by losing its low payload bits.
func roundF64(x float64, expBits, mantBits uint) uint64 {
	b := math.Float64bits(x)
	sign := (b >> 63) << (expBits + mantBits)
	exp := int((b >> 52) & 0x7ff)
	mant := b & (1<<52 - 1)
	maxExp := uint64(1)<<expBits - 1
	if exp == 0x7ff {
		if mant == 0 {
			return sign | maxExp<<mantBits // ±Inf
		}
		return sign | maxExp<<mantBits | mant>>(52-mantBits) | 1<<(mantBits-1)
	}
	if exp == 0 {
		// Zero or a float64 subnormal (< 2^-1022): far below half the
		// smallest subnormal of every target format, so it rounds to ±0.
		return sign
	}
	bias := 1<<(expBits-1) - 1
	et := exp - 1023 + bias // biased exponent in the target format
	sig := mant | 1<<52     // 53-bit significand, value sig·2^(exp-1023-52)
	shift := 52 - int(mantBits)
	if et <= 0 {
		// Subnormal in the target: the exponent field is 0 and the
		// significand is shifted right by the exponent deficit as well.
		shift += 1 - et
	}
	if shift > 54 {
		return sign // below half the smallest subnormal
	}
	q := sig >> shift
	rem := sig & (1<<shift - 1)
	half := uint64(1) << (shift - 1)
	if rem > half || (rem == half && q&1 == 1) {
		q++
	}
	var r uint64
	if et <= 0 {
		// q < 2^mantBits, or exactly 2^mantBits when rounding carried into
		// the smallest normal: both are already the right bit pattern.
		r = q
	} else {
		// q holds the implicit leading 1 at bit mantBits, so adding it to
		// (et-1)<<mantBits sets the exponent field to et, or to et+1 when
		// rounding carried out of the mantissa.
		r = uint64(et-1)<<mantBits + q
	}
	if r >= maxExp<<mantBits {
		return sign | maxExp<<mantBits // overflowed to ±Inf
	}
	return sign | r
}

// f32ToBF16 narrows f to bfloat16 with round-to-nearest-even. It is the
// common case when saving a float32 model as BF16, so it uses the usual bit
// trick instead of roundF64; the tests check that the two agree.
func f32ToBF16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 {
		// NaN: plain rounding could carry a payload like 0x7f800001 into
		// Inf (0x7f80) or truncate it to Inf; force the quiet bit instead.
		return uint16(b>>16) | 0x40
	}
	// Adding 0x7fff plus the lowest kept bit rounds the dropped half-word
	// to nearest, ties to even; overflow of the largest finite values
	// carries correctly into the Inf pattern 0x7f80.
	b += 0x7fff + (b>>16)&1
	return uint16(b >> 16)
}

// bf16ToF32 widens a bfloat16, exactly: bfloat16 is the top half of a float32.
func bf16ToF32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// f64ToBF16 narrows x to bfloat16 in one rounding.
func f64ToBF16(x float64) uint16 { return uint16(roundF64(x, 8, 7)) }

// f64ToF16 narrows x to IEEE binary16 in one rounding.
func f64ToF16(x float64) uint16 { return uint16(roundF64(x, 5, 10)) }

// f16ToF32 widens an IEEE binary16, exactly.
func f16ToF32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f:
		// Inf, or NaN with its payload moved to the top of the float32
		// mantissa (still nonzero, so still NaN).
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp != 0:
		// Normal: rebias the exponent from 15 to 127.
		return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
	case mant == 0:
		return math.Float32frombits(sign) // ±0
	}
	// Subnormal: mant·2^-24, exact in float32.
	f := float32(mant) * (1.0 / (1 << 24))
	if sign != 0 {
		f = -f
	}
	return f
}

// f8e5m2ToF32 widens an F8_E5M2, which is the top byte of a binary16.
func f8e5m2ToF32(b uint8) float32 { return f16ToF32(uint16(b) << 8) }

// f8e4m3ToF32 widens an OCP F8_E4M3FN: bias 7, 3 mantissa bits, no
// infinities, and only S.1111.111 is NaN (so the largest value is 448).
func f8e4m3ToF32(b uint8) float32 {
	neg := b&0x80 != 0
	exp := int(b>>3) & 0xf
	mant := int(b & 7)
	var f float32
	switch {
	case exp == 0xf && mant == 7:
		f = float32(math.NaN())
	case exp == 0:
		f = float32(mant) * (1.0 / (1 << 9)) // mant·2^(1-7-3)
	default:
		f = float32(math.Ldexp(float64(8|mant), exp-7-3))
	}
	if neg {
		f = -f
	}
	return f
}
