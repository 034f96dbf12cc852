package cublas

import (
	"reflect"
	"strings"
	"testing"
)

func TestCandidatesOrder(t *testing.T) {
	fake := func(pattern string) ([]string, error) {
		if strings.HasPrefix(pattern, "/opt/*/.venv") {
			return []string{
				"/opt/torch/.venv/lib/python3.12/site-packages/nvidia/cu12/lib/libcublas.so.12",
				"/opt/torch/.venv/lib/python3.12/site-packages/nvidia/cu13/lib/libcublas.so.13",
			}, nil
		}
		if strings.HasPrefix(pattern, "/usr/lib/python3") {
			return []string{"/usr/lib/python3/dist-packages/nvidia/cublas/lib/libcublas.so.11"}, nil
		}
		return nil, nil
	}
	got := Candidates(" /my/libcublas.so.13 ", fake)
	want := []string{
		"/my/libcublas.so.13",
		"libcublas.so.13", "libcublas.so.12", "libcublas.so.11",
		"/usr/local/cuda/lib64/libcublas.so.13", "/usr/local/cuda/lib64/libcublas.so.12", "/usr/local/cuda/lib64/libcublas.so.11",
		"/usr/local/cuda/targets/x86_64-linux/lib/libcublas.so.13", "/usr/local/cuda/targets/x86_64-linux/lib/libcublas.so.12",
		"/usr/local/cuda/targets/x86_64-linux/lib/libcublas.so.11",
		"/opt/torch/.venv/lib/python3.12/site-packages/nvidia/cu13/lib/libcublas.so.13",
		"/opt/torch/.venv/lib/python3.12/site-packages/nvidia/cu12/lib/libcublas.so.12",
		"/usr/lib/python3/dist-packages/nvidia/cublas/lib/libcublas.so.11",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Candidates:\n got %q\nwant %q", got, want)
	}
	if got := Candidates("", fake); got[0] != "libcublas.so.13" {
		t.Errorf("without the variable the search starts at %q", got[0])
	}
}

func TestLtFor(t *testing.T) {
	for in, want := range map[string]string{
		"libcublas.so.13":           "libcublasLt.so.13",
		"/a/b/lib/libcublas.so.12":  "/a/b/lib/libcublasLt.so.12",
		"/x/libcublas.so.11.11.3.6": "/x/libcublasLt.so.11.11.3.6",
		"/x/something-else.so":      "",
	} {
		if got := LtFor(in); got != want {
			t.Errorf("LtFor(%q) = %q, want %q", in, got, want)
		}
	}
}
