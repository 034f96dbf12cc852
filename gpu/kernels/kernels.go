// Package kernels holds olmolab's CUDA kernels: the sources (*.cu, one
// translation unit all.cu) and the PTX that nvcc 11.8 makes of them for
// compute_80 (Ampere and later, compiled by the driver at load) and
// compute_90 (Hopper), committed and embedded so that building the engine
// needs no CUDA compiler (../shared/docs/gpu-build.md §3). No build tag: the
// embed and the checks on it are part of every build.
//
// Regenerate after editing a .cu file (needs nvcc 11.8 and g++-11:
// scripts/setup-cuda.sh --toolkit), then commit the .ptx files, sources.sha256
// and ../internal/emu/kernels_sum.h (gensum.sh; the emulator's tests refuse
// to run kernels older than the sources):
//
//	go generate ./gpu/kernels
package kernels

import (
	_ "embed"
	"fmt"
	"regexp"
	"strings"
)

//go:generate nvcc -ptx -arch=compute_80 -o olmo_sm80.ptx all.cu
//go:generate nvcc -ptx -arch=compute_90 -o olmo_sm90.ptx all.cu
//go:generate sh gensum.sh

// PTX80 is the kernels' PTX for compute capability 8.x.
//
//go:embed olmo_sm80.ptx
var PTX80 string

// PTX90 is the kernels' PTX for compute capability 9.0 and later.
//
//go:embed olmo_sm90.ptx
var PTX90 string

// PTXFor returns the PTX for a device of compute capability major.minor. The
// tensor-core attention needs bf16 mma.sync, so devices before 8.0 are refused.
func PTXFor(major, minor int) (string, error) {
	switch {
	case major >= 9:
		return PTX90, nil
	case major == 8:
		return PTX80, nil
	}
	return "", fmt.Errorf("compute capability %d.%d is below 8.0 (the kernels use bf16 tensor-core instructions of Ampere and later)", major, minor)
}

// Entries lists every kernel entry point of all.cu; the engine launches only
// these, and a test checks that both PTX files declare exactly this set.
var Entries = []string{
	"embed_bwd", "rms_dw_reduce", "cast_bf16",
	"embed_fwd_f32", "rms_res_fwd_f32", "rms_fwd_f32", "rms_bwd_res_f32", "rms_bwd_act_f32",
	"rms_dw_part_res_f32", "rms_dw_part_act_f32", "qknorm_rope_fwd_f32", "rope_bwd_f32", "swiglu_fwd_f32",
	"swiglu_bwd_f32",
	"embed_fwd_bf16", "rms_res_fwd_bf16", "rms_fwd_bf16", "rms_bwd_res_bf16", "rms_bwd_act_bf16",
	"rms_dw_part_res_bf16", "rms_dw_part_act_bf16", "qknorm_rope_fwd_bf16", "rope_bwd_bf16", "swiglu_fwd_bf16",
	"swiglu_bwd_bf16",
	"rms_bwd_final", "rms_dw_part_final",
	// the fused norm backward (OLMOLAB_GPU_FUSE)
	"rms_bwd_dw_res_f32", "rms_bwd_dw_act_f32", "rms_bwd_dw_res_bf16", "rms_bwd_dw_act_bf16", "rms_bwd_dw_final",
	"rms_dw_reduce8",
	"ce_chunk_f32", "ce_chunk_bf16", "loss_reduce",
	"sumsq_part", "sumsq_final", "adamw",
	"attn_fwd_f32", "attn_bwd_pre_f32", "attn_bwd_dq_f32", "attn_bwd_dkv_f32",
	"attn_fwd_bf16", "attn_bwd_pre_bf16", "attn_bwd_dq_bf16", "attn_bwd_dkv_bf16",
	"attn_fwd_mma64", "attn_bwd_dkv_mma64", "attn_bwd_dq_mma64",
	"attn_fwd_mma128", "attn_bwd_dkv_mma128", "attn_bwd_dq_mma128",
	"attn_fwd_v2_64", "attn_bwd_dkv_v2_64", "attn_bwd_dq_v2_64",
	"attn_fwd_v2_128", "attn_bwd_dkv_v2_128", "attn_bwd_dq_v2_128",
	// forward only, for packed scoring rows (model.Packing)
	"qknorm_rope_fwd_pos_f32", "qknorm_rope_fwd_pos_bf16", "attn_fwd_pk_f32", "attn_fwd_pk_bf16",
	"attn_fwd_mma_pk64", "attn_fwd_mma_pk128",
}

var (
	entryRE = regexp.MustCompile(`(?s)\.entry\s+([A-Za-z_][A-Za-z0-9_]*)\s*\((.*?)\)`)
	paramRE = regexp.MustCompile(`\.param\s+\.(\w+)\s+[A-Za-z_][A-Za-z0-9_]*`)
)

// Signatures parses the .entry declarations of a PTX module: for each kernel,
// the PTX types of its parameters in order ("u64" for pointers and long long,
// "u32" for int, "f32" for float).
func Signatures(ptx string) (map[string][]string, error) {
	out := map[string][]string{}
	for _, m := range entryRE.FindAllStringSubmatch(ptx, -1) {
		name, body := m[1], m[2]
		var types []string
		for _, p := range paramRE.FindAllStringSubmatch(body, -1) {
			types = append(types, p[1])
		}
		if n := strings.Count(body, ".param"); n != len(types) {
			return nil, fmt.Errorf("kernel %s: %d parameters, %d understood", name, n, len(types))
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("kernel %s declared twice", name)
		}
		out[name] = types
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no .entry in the PTX")
	}
	return out, nil
}
