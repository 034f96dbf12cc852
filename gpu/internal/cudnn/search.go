// Package cudnn is a small dlopen shim for cuDNN 9's backend (graph) API and
// the one graph olmolab builds with it: causal scaled-dot-product attention
// with GQA, forward and backward, on bf16 tensors laid out as the engine keeps
// them (sdpa.go). Like internal/cublas it declares the prototypes and enum
// values itself and links no CUDA library, so a binary built with Debian's
// CUDA 11.8 headers runs wherever a libcudnn.so.9 can be found at run time.
//
// The search order (Candidates), the enum values, the graph builder and its
// error messages are plain Go; only the loader (lib_cgo.go) needs cgo, and no
// part needs CUDA headers or a GPU, so the tests run everywhere a C compiler
// is: they load a fake libcudnn (testdata/fakecudnn.c) that records every call.
//
// Sources for what the shim relies on are listed in gpu/README.md ("cuDNN
// attention"); the enum values are cuDNN 9's cudnn_graph.h (checked against
// the 9.6 header and a 9.2x-era binding, both listed there).
package cudnn

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/olmolab/olmolab/gpu/internal/cublas"
)

// Env names the variable that points at a libcudnn.so.9 to use first.
const Env = "OLMOLAB_CUDNN"

// MinVersion is the oldest cuDNN the shim accepts: 9.0.0. The backend API's
// attribute types (INT32, BOOLEAN), the status codes and
// cudnnGetLastErrorString used here are 9.x's. (cudnnGetVersion encodes 9.x
// as major·10000 + minor·100 + patch: 9.10.2 is 91002.)
const MinVersion = 90000

// soname is the library cuDNN 9 installs (its sub-libraries sit beside it).
const soname = "libcudnn.so.9"

var dirs = []string{"/usr/local/cuda/lib64", "/usr/lib/x86_64-linux-gnu", "/usr/local/cuda/targets/x86_64-linux/lib"}

// wheelGlobs find pip's nvidia-cudnn-cu12/-cu13 wheels (PyTorch's
// dependency: nvidia/cudnn/lib), in the same places the cuBLAS shim looks
// for nvidia-cublas.
var wheelGlobs = cublas.PipGlobs("cudnn/lib/" + soname)

// Candidates returns where to look for cuDNN, in order: the file named by
// $OLMOLAB_CUDNN (env, when set), libcudnn.so.9 through the dynamic loader's
// own search, the same name in the usual CUDA and Debian directories, then
// pip wheels' copies (sorted by path). glob is filepath.Glob in production
// and a fake in tests. $OLMOLAB_CUDNN=none (Off) gives none: no cuDNN is
// used (auto has no cudnn candidate, cudnn refuses), as on a machine
// without one.
func Candidates(env string, glob func(pattern string) ([]string, error)) []string {
	if strings.TrimSpace(env) == Off {
		return nil
	}
	return cublas.Search(env, []string{soname}, dirs, wheelGlobs, glob)
}

// Off as $OLMOLAB_CUDNN turns cuDNN off (scripts/gpu-check.sh keeps a
// cuDNN that failed its own check out of auto's trial with it).
const Off = "none"

// sublibraries are cuDNN 9's parts that libcudnn.so.9 loads by name: the
// backend API (graph) first, then the engines and heuristics.
var sublibraries = []string{"libcudnn_graph.so.9", "libcudnn_engines_precompiled.so.9",
	"libcudnn_engines_runtime_compiled.so.9", "libcudnn_heuristic.so.9"}

// nvrtcGlobs find an NVRTC for cuDNN's runtime-compiled engines (the fused
// attention graphs are among them) in the pip wheels PyTorch installs:
// nvidia-cuda-nvrtc-cu12 (nvidia/cuda_nvrtc/lib) and the CUDA 13 wheels
// (nvidia/cu13/lib).
var nvrtcGlobs = cublas.PipGlobs("*/lib/libnvrtc.so.1[0-9]")

// Preloads lists what to load (RTLD_GLOBAL, failures ignored) before the
// candidate path: for a path with a directory, the sub-libraries beside it
// (so that a copy outside the loader's search path still finds them), and
// for any candidate the loader's own libnvrtc.so.13 and .12, then the NVRTCs
// found by glob (newest first), each wheel's libnvrtc-builtins before them.
func Preloads(path string, glob func(pattern string) ([]string, error)) []string {
	var out []string
	if dir := filepath.Dir(path); dir != "." && strings.Contains(path, "/") {
		for _, s := range sublibraries {
			out = append(out, filepath.Join(dir, s))
		}
	}
	out = append(out, "libnvrtc.so.13", "libnvrtc.so.12")
	var found []string
	for _, g := range nvrtcGlobs {
		if m, err := glob(g); err == nil {
			for _, f := range m {
				// NVRTC loads its builtins by name: load them first, from beside it
				if b, err := glob(filepath.Join(filepath.Dir(f), "libnvrtc-builtins.so.*")); err == nil {
					sort.Strings(b)
					out = append(out, b...)
				}
			}
			found = append(found, m...)
		}
	}
	cublas.NewestFirst(found)
	return append(out, found...)
}

// VersionString formats cudnnGetVersion's number (9.x: 91002 → "9.10.2").
func VersionString(v int) string {
	if v >= 90000 {
		return fmt.Sprintf("%d.%d.%d", v/10000, v/100%100, v%100)
	}
	return fmt.Sprintf("%d.%d.%d", v/1000, v/100%10, v%100) // 8.x: major·1000 + minor·100 + patch
}
