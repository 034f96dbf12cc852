package safetensors

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestF16Decode(t *testing.T) {
	tests := []struct {
		bits uint16
		want float64
	}{
		{0x0000, 0},
		{0x0001, math.Ldexp(1, -24)},     // smallest subnormal
		{0x03ff, math.Ldexp(1023, -24)},  // largest subnormal
		{0x0400, math.Ldexp(1, -14)},     // smallest normal
		{0x3555, 0.333251953125},         // nearest to 1/3
		{0x3c00, 1},                      //
		{0x3c01, 1 + math.Ldexp(1, -10)}, // 1 + ulp
		{0xc000, -2},                     //
		{0x7bff, 65504},                  // largest finite
		{0x7c00, math.Inf(1)},            //
		{0xfc00, math.Inf(-1)},           //
		{0x8001, -math.Ldexp(1, -24)},    // negative subnormal
	}
	for _, tt := range tests {
		if got := float64(f16ToF32(tt.bits)); got != tt.want {
			t.Errorf("f16ToF32(%#04x) = %g, want %g", tt.bits, got, tt.want)
		}
	}
	if got := f16ToF32(0x8000); got != 0 || !math.Signbit(float64(got)) {
		t.Errorf("f16ToF32(0x8000) = %g, want -0", got)
	}
	for _, nan := range []uint16{0x7e00, 0x7c01, 0xfe00, 0x7fff} {
		if got := f16ToF32(nan); !math.IsNaN(float64(got)) {
			t.Errorf("f16ToF32(%#04x) = %g, want NaN", nan, got)
		}
	}
}

func TestF16Encode(t *testing.T) {
	tiny := math.Ldexp(1, -24) // smallest subnormal
	tests := []struct {
		name string
		x    float64
		want uint16
	}{
		{"zero", 0, 0x0000},
		{"negative zero", math.Copysign(0, -1), 0x8000},
		{"one", 1, 0x3c00},
		{"tie 1+ulp/2 to even 1", 1 + math.Ldexp(1, -11), 0x3c00},
		{"tie 1+3ulp/2 to even 1+2ulp", 1 + 3*math.Ldexp(1, -11), 0x3c02},
		{"just above tie rounds up", 1 + math.Ldexp(1, -11) + math.Ldexp(1, -30), 0x3c01},
		{"third", 1.0 / 3, 0x3555},
		{"largest finite", 65504, 0x7bff},
		{"below the overflow tie", 65519.99, 0x7bff},
		{"overflow tie to even is Inf", 65520, 0x7c00},
		{"huge", 1e300, 0x7c00},
		{"negative huge", -1e10, 0xfc00},
		{"inf", math.Inf(1), 0x7c00},
		{"smallest subnormal", tiny, 0x0001},
		{"half the smallest subnormal ties to 0", tiny / 2, 0x0000},
		{"just over half the smallest subnormal", tiny/2 + math.Ldexp(1, -60), 0x0001},
		{"1.5 subnormal ulps ties to 2", 1.5 * tiny, 0x0002},
		{"2.5 subnormal ulps ties to 2", 2.5 * tiny, 0x0002},
		{"largest subnormal", 1023 * tiny, 0x03ff},
		{"largest subnormal + ulp/2 ties up into the normals", 1023.5 * tiny, 0x0400},
		{"smallest normal", math.Ldexp(1, -14), 0x0400},
		{"negative subnormal", -3 * tiny, 0x8003},
		{"float64 subnormal", math.SmallestNonzeroFloat64, 0x0000},
	}
	for _, tt := range tests {
		if got := f64ToF16(tt.x); got != tt.want {
			t.Errorf("%s: f64ToF16(%g) = %#04x, want %#04x", tt.name, tt.x, got, tt.want)
		}
	}
	for _, nan := range []float64{math.NaN(), -math.NaN(), math.Float64frombits(0x7ff0000000000001)} {
		got := f64ToF16(nan)
		if got&0x7c00 != 0x7c00 || got&0x3ff == 0 {
			t.Errorf("f64ToF16(NaN %#x) = %#04x, want a NaN", math.Float64bits(nan), got)
		}
	}
}

// TestF16Exhaustive checks every binary16 value: widening then narrowing is
// the identity, and the midpoint between each pair of neighbours rounds to
// the even one while anything off the midpoint rounds to the nearer one.
func TestF16Exhaustive(t *testing.T) {
	for h := range 1 << 16 {
		x := f16ToF32(uint16(h))
		got := f64ToF16(float64(x))
		if math.IsNaN(float64(x)) {
			if got&0x7c00 != 0x7c00 || got&0x3ff == 0 || got&0x8000 != uint16(h)&0x8000 {
				t.Fatalf("NaN %#04x came back as %#04x", h, got)
			}
			continue
		}
		if got != uint16(h) {
			t.Fatalf("f64ToF16(f16ToF32(%#04x) = %g) = %#04x", h, x, got)
		}
	}
	// Non-negative finite values are in bit order, 0x0000 .. 0x7bff; the
	// overflow boundary past 0x7bff (65520) is in TestF16Encode.
	for h := uint16(0); h < 0x7bff; h++ {
		lo, hi := float64(f16ToF32(h)), float64(f16ToF32(h+1))
		mid := (lo + hi) / 2 // exact in float64
		even := h
		if h&1 == 1 {
			even = h + 1
		}
		if got := f64ToF16(mid); got != even {
			t.Fatalf("midpoint of %#04x and %#04x (%g) -> %#04x, want %#04x", h, h+1, mid, got, even)
		}
		if got := f64ToF16(math.Nextafter(mid, lo)); got != h {
			t.Fatalf("just below the midpoint of %#04x and %#04x -> %#04x", h, h+1, got)
		}
		if got := f64ToF16(math.Nextafter(mid, hi)); got != h+1 {
			t.Fatalf("just above the midpoint of %#04x and %#04x -> %#04x", h, h+1, got)
		}
		if got := f64ToF16(-mid); got != even|0x8000 {
			t.Fatalf("negative midpoint of %#04x and %#04x -> %#04x", h, h+1, got)
		}
	}
}

func TestBF16(t *testing.T) {
	tests := []struct {
		name string
		in   uint32 // float32 bits
		want uint16
	}{
		{"one", 0x3f800000, 0x3f80},
		{"negative zero", 0x80000000, 0x8000},
		{"tie to even (down)", 0x3f808000, 0x3f80},
		{"tie to even (up)", 0x3f818000, 0x3f82},
		{"above tie", 0x3f808001, 0x3f81},
		{"below tie", 0x3f807fff, 0x3f80},
		{"max float32 overflows to Inf", 0x7f7fffff, 0x7f80},
		{"largest value that stays finite", 0x7f7f7fff, 0x7f7f},
		{"Inf", 0x7f800000, 0x7f80},
		{"-Inf", 0xff800000, 0xff80},
		{"NaN with low payload stays NaN, not Inf", 0x7f800001, 0x7fc0},
		{"NaN with payload that would round", 0x7fffffff, 0x7fff},
		{"negative quiet NaN", 0xffc00000, 0xffc0},
		{"subnormal tie to even 0", 0x00008000, 0x0000},
		{"subnormal tie to even 2", 0x00018000, 0x0002},
		{"subnormal rounds into smallest normal", 0x007fffff, 0x0080},
	}
	for _, tt := range tests {
		f := math.Float32frombits(tt.in)
		if got := f32ToBF16(f); got != tt.want {
			t.Errorf("%s: f32ToBF16(%#08x) = %#04x, want %#04x", tt.name, tt.in, got, tt.want)
		}
		if math.IsNaN(float64(f)) {
			continue // NaN payloads may differ between the two paths; both are checked above to stay NaN
		}
		if got := f64ToBF16(float64(f)); got != tt.want {
			t.Errorf("%s: f64ToBF16(%#08x) = %#04x, want %#04x", tt.name, tt.in, got, tt.want)
		}
	}
	// Widening is exact for every bfloat16.
	for h := range 1 << 16 {
		x := bf16ToF32(uint16(h))
		if math.IsNaN(float64(x)) {
			continue
		}
		if got := f32ToBF16(x); got != uint16(h) {
			t.Fatalf("f32ToBF16(bf16ToF32(%#04x)) = %#04x", h, got)
		}
	}
	// Double rounding: this float64 is just above a bfloat16 midpoint, but
	// float32 rounds it onto the midpoint, which then ties down to even.
	x := 1 + math.Ldexp(1, -8) + math.Ldexp(1, -40)
	if got := f64ToBF16(x); got != 0x3f81 {
		t.Errorf("f64ToBF16(1+2^-8+2^-40) = %#04x, want 0x3f81 (one rounding)", got)
	}
	if got := f32ToBF16(float32(x)); got != 0x3f80 {
		t.Errorf("f32ToBF16(float32(1+2^-8+2^-40)) = %#04x, want 0x3f80", got)
	}
}

// TestRoundF64Random checks the generic rounding against the hardware: as
// float32 it must agree with Go's float64->float32 conversion (IEEE,
// nearest-even), and as bfloat16 the bit trick must agree with it.
func TestRoundF64Random(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 200000 {
		x := math.Float64frombits(r.Uint64())
		// Also draw from the float32 range, where rounding is interesting.
		if r.IntN(2) == 0 {
			x = math.Ldexp(r.Float64()+0.5, r.IntN(300)-170)
			if r.IntN(2) == 0 {
				x = -x
			}
		}
		if math.IsNaN(x) {
			continue
		}
		if got, want := uint32(roundF64(x, 8, 23)), math.Float32bits(float32(x)); got != want {
			t.Fatalf("roundF64(%g, 8, 23) = %#08x, float32() = %#08x", x, got, want)
		}
		f := math.Float32frombits(r.Uint32())
		if math.IsNaN(float64(f)) {
			continue
		}
		if got, want := f32ToBF16(f), uint16(roundF64(float64(f), 8, 7)); got != want {
			t.Fatalf("f32ToBF16(%#08x) = %#04x, roundF64 = %#04x", math.Float32bits(f), got, want)
		}
	}
}

func TestF8(t *testing.T) {
	e4m3 := []struct {
		bits uint8
		want float64
	}{
		{0x00, 0},
		{0x01, math.Ldexp(1, -9)}, // smallest subnormal
		{0x07, 7 * math.Ldexp(1, -9)},
		{0x08, math.Ldexp(1, -6)}, // smallest normal
		{0x38, 1},
		{0x7e, 448}, // largest finite: exponent 15 is normal in E4M3FN
		{0xfe, -448},
		{0xb8, -1},
	}
	for _, tt := range e4m3 {
		if got := float64(f8e4m3ToF32(tt.bits)); got != tt.want {
			t.Errorf("f8e4m3ToF32(%#02x) = %g, want %g", tt.bits, got, tt.want)
		}
	}
	for _, nan := range []uint8{0x7f, 0xff} {
		if got := f8e4m3ToF32(nan); !math.IsNaN(float64(got)) {
			t.Errorf("f8e4m3ToF32(%#02x) = %g, want NaN", nan, got)
		}
	}
	e5m2 := []struct {
		bits uint8
		want float64
	}{
		{0x3c, 1},
		{0x01, math.Ldexp(1, -16)},
		{0x7b, 57344},
		{0x7c, math.Inf(1)},
		{0xc0, -2},
	}
	for _, tt := range e5m2 {
		if got := float64(f8e5m2ToF32(tt.bits)); got != tt.want {
			t.Errorf("f8e5m2ToF32(%#02x) = %g, want %g", tt.bits, got, tt.want)
		}
	}
	if got := f8e5m2ToF32(0x7d); !math.IsNaN(float64(got)) {
		t.Errorf("f8e5m2ToF32(0x7d) = %g, want NaN", got)
	}
}
