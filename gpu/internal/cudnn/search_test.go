package cudnn

import (
	"path/filepath"
	"slices"
	"testing"
)

func fakeGlob(files ...string) func(string) ([]string, error) {
	return func(pattern string) ([]string, error) {
		var out []string
		for _, f := range files {
			if ok, _ := filepath.Match(pattern, f); ok {
				out = append(out, f)
			}
		}
		return out, nil
	}
}

func TestCandidates(t *testing.T) {
	wheel := "/usr/local/lib/python3.12/dist-packages/nvidia/cudnn/lib/libcudnn.so.9"
	venv := "/opt/torch/.venv/lib/python3.12/site-packages/nvidia/cudnn/lib/libcudnn.so.9"
	got := Candidates(" /x/libcudnn.so.9 ", fakeGlob(wheel, venv, "/usr/local/lib/python3.12/dist-packages/nvidia/cublas/lib/libcublas.so.13"))
	want := []string{"/x/libcudnn.so.9", "libcudnn.so.9", "/usr/local/cuda/lib64/libcudnn.so.9",
		"/usr/lib/x86_64-linux-gnu/libcudnn.so.9", "/usr/local/cuda/targets/x86_64-linux/lib/libcudnn.so.9", venv, wheel}
	if !slices.Equal(got, want) {
		t.Fatalf("Candidates:\n got %q\nwant %q", got, want)
	}
	if got := Candidates("", fakeGlob()); got[0] != "libcudnn.so.9" {
		t.Fatalf("without %s the loader's search comes first, got %q", Env, got)
	}
	// OLMOLAB_CUDNN=none: no candidate at all, not the search after a missing "none"
	if got := Candidates(" none ", fakeGlob(wheel, venv)); len(got) != 0 {
		t.Fatalf("%s=none: candidates %q, want none", Env, got)
	}
}

func TestPreloads(t *testing.T) {
	nv12 := "/usr/local/lib/python3.12/dist-packages/nvidia/cuda_nvrtc/lib/libnvrtc.so.12"
	nv13 := "/usr/local/lib/python3.12/dist-packages/nvidia/cu13/lib/libnvrtc.so.13"
	bi13 := "/usr/local/lib/python3.12/dist-packages/nvidia/cu13/lib/libnvrtc-builtins.so.13.0"
	got := Preloads("/w/nvidia/cudnn/lib/libcudnn.so.9", fakeGlob(nv12, nv13, bi13))
	want := []string{"/w/nvidia/cudnn/lib/libcudnn_graph.so.9", "/w/nvidia/cudnn/lib/libcudnn_engines_precompiled.so.9",
		"/w/nvidia/cudnn/lib/libcudnn_engines_runtime_compiled.so.9", "/w/nvidia/cudnn/lib/libcudnn_heuristic.so.9",
		"libnvrtc.so.13", "libnvrtc.so.12", bi13, nv13, nv12}
	if !slices.Equal(got, want) {
		t.Fatalf("Preloads:\n got %q\nwant %q", got, want)
	}
	if got := Preloads("libcudnn.so.9", fakeGlob()); len(got) != 2 {
		t.Fatalf("a bare soname has no directory to preload from: %q", got)
	}
}

func TestVersionString(t *testing.T) {
	for v, want := range map[int]string{91002: "9.10.2", 90000: "9.0.0", 91300: "9.13.0", 8906: "8.9.6"} {
		if got := VersionString(v); got != want {
			t.Errorf("VersionString(%d) = %q, want %q", v, got, want)
		}
	}
	if !versionBelow("9.9.0", 9, 10) || versionBelow("9.10.2", 9, 10) || versionBelow("10.0.0", 9, 10) {
		t.Error("versionBelow")
	}
}
