// Package cublas is a small dlopen shim for the cuBLAS calls olmolab needs
// (cublasGemmEx and cublasGemmStridedBatchedEx with bf16 or fp32 operands and
// fp32 accumulation, plus handle, stream, workspace and math-mode setup). It
// declares the prototypes itself and links no CUDA library, so the binary
// built on a machine with CUDA 11.8 headers runs wherever a libcublas.so.13,
// .12 or .11 can be found at run time (../shared/docs/gpu-build.md §4).
//
// The search order (Candidates) is plain Go and tested without a GPU; the
// loader itself needs cgo and the build tag cuda.
package cublas

import (
	"path/filepath"
	"sort"
	"strings"
)

// Env names the variable that points at a libcublas.so to use first.
const Env = "OLMOLAB_CUBLAS"

var sonames = []string{"libcublas.so.13", "libcublas.so.12", "libcublas.so.11"}

var dirs = []string{"/usr/local/cuda/lib64", "/usr/local/cuda/targets/x86_64-linux/lib"}

// PipGlobs are the patterns that find a library file of pip's nvidia-* wheels
// (rel: its path under site-packages/nvidia/, e.g. "*/lib/libcublas.so.1[0-9]"),
// in virtual environments under /opt and in the system's Python.
func PipGlobs(rel string) []string {
	return []string{
		"/opt/*/.venv/lib/python3*/site-packages/nvidia/" + rel,
		"/opt/*/lib/python3*/site-packages/nvidia/" + rel,
		"/usr/local/lib/python3*/dist-packages/nvidia/" + rel,
		"/usr/local/lib/python3*/site-packages/nvidia/" + rel,
		"/usr/lib/python3/dist-packages/nvidia/" + rel,
	}
}

// wheelGlobs find the libraries that pip's nvidia-cublas wheels install (the
// cu13 wheel puts them under nvidia/cu13/lib; older ones under
// nvidia/cublas/lib).
var wheelGlobs = PipGlobs("*/lib/libcublas.so.1[0-9]")

// Candidates returns where to look for cuBLAS, in order: the file named by
// $OLMOLAB_CUBLAS (env, when set), the sonames 13, 12, 11 through the dynamic
// loader's own search, the same names in the usual CUDA directories, then the
// pip wheels' libraries (newest version first). glob is filepath.Glob in
// production and a fake in tests.
func Candidates(env string, glob func(pattern string) ([]string, error)) []string {
	return Search(env, sonames, dirs, wheelGlobs, glob)
}

// Search is a shim's search order: env (when set), each soname through the
// dynamic loader's own search, each soname in each of dirs, then the files
// globs find (NewestFirst), without repeats. internal/cudnn's Candidates
// uses it too.
func Search(env string, sonames, dirs, globs []string, glob func(pattern string) ([]string, error)) []string {
	var out []string
	seen := map[string]bool{}
	add := func(p string) {
		if p != "" && !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	add(strings.TrimSpace(env))
	for _, s := range sonames {
		add(s)
	}
	for _, d := range dirs {
		for _, s := range sonames {
			add(filepath.Join(d, s))
		}
	}
	var found []string
	for _, g := range globs {
		m, err := glob(g)
		if err == nil {
			found = append(found, m...)
		}
	}
	NewestFirst(found)
	for _, f := range found {
		add(f)
	}
	return out
}

// NewestFirst sorts library paths by soname version, newest first ("….so.13"
// before "….so.12"), then by path for a stable order.
func NewestFirst(paths []string) {
	sort.SliceStable(paths, func(i, j int) bool {
		vi, vj := filepath.Ext(paths[i]), filepath.Ext(paths[j])
		if vi != vj {
			return vi > vj
		}
		return paths[i] < paths[j]
	})
}

// LtFor is the libcublasLt that a libcublas candidate needs: the same
// directory and version (preloaded with RTLD_GLOBAL so a library without a
// RUNPATH still finds it), or the bare soname for a bare soname.
func LtFor(path string) string {
	dir, base := filepath.Split(path)
	if !strings.HasPrefix(base, "libcublas.so") {
		return ""
	}
	return dir + strings.Replace(base, "libcublas.so", "libcublasLt.so", 1)
}
