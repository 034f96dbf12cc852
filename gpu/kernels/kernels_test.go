package kernels

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// TestPTXEntries: both embedded PTX files declare exactly the kernels in
// Entries, for the architecture they are named after.
func TestPTXEntries(t *testing.T) {
	for _, c := range []struct {
		ptx, target string
	}{{PTX80, ".target sm_80"}, {PTX90, ".target sm_90"}} {
		if len(c.ptx) < 1000 || !strings.Contains(c.ptx, c.target) || !strings.Contains(c.ptx, ".version 7.8") {
			t.Fatalf("embedded PTX for %s missing or wrong (%d bytes)", c.target, len(c.ptx))
		}
		sigs, err := Signatures(c.ptx)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]bool{}
		for _, e := range Entries {
			if want[e] {
				t.Errorf("%s listed twice", e)
			}
			want[e] = true
			if _, ok := sigs[e]; !ok {
				t.Errorf("%s: kernel %s not in the PTX", c.target, e)
			}
		}
		for name := range sigs {
			if !want[name] {
				t.Errorf("%s: PTX kernel %s missing from Entries", c.target, name)
			}
		}
		// the tensor-core attention is really there
		if !strings.Contains(c.ptx, "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32") {
			t.Errorf("%s: no bf16 mma.sync in the PTX", c.target)
		}
	}
}

// TestPTXCurrent: the committed PTX was generated from the committed sources
// (go generate records their hashes in sources.sha256).
func TestPTXCurrent(t *testing.T) {
	b, err := os.ReadFile("sources.sha256")
	if err != nil {
		t.Fatal(err)
	}
	recorded := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			t.Fatalf("bad line %q", line)
		}
		recorded[f[1]] = f[0]
	}
	var files []string
	for _, pat := range []string{"*.cu", "*.cuh"} {
		m, _ := filepath.Glob(pat)
		files = append(files, m...)
	}
	sort.Strings(files)
	if len(files) != len(recorded) {
		t.Errorf("%d kernel sources, %d recorded: run go generate ./gpu/kernels", len(files), len(recorded))
	}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(src)
		if recorded[f] != hex.EncodeToString(sum[:]) {
			t.Errorf("%s changed since the PTX was generated: run go generate ./gpu/kernels (needs nvcc 11.8) and commit the .ptx", f)
		}
	}
}

func TestPTXFor(t *testing.T) {
	if p, err := PTXFor(9, 0); err != nil || p != PTX90 {
		t.Error("9.0 should get the sm_90 PTX")
	}
	if p, err := PTXFor(8, 6); err != nil || p != PTX80 {
		t.Error("8.6 should get the sm_80 PTX")
	}
	if _, err := PTXFor(7, 5); err == nil {
		t.Error("7.5 should be refused")
	}
}

func TestSignatures(t *testing.T) {
	sigs, err := Signatures(".visible .entry k(\n\t.param .u64 k_param_0,\n\t.param .u32 k_param_1,\n\t.param .f32 k_param_2\n)\n{\n}\n.visible .entry z()\n{}")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(sigs["k"], ","); got != "u64,u32,f32" {
		t.Errorf("k: %s", got)
	}
	if len(sigs["z"]) != 0 {
		t.Errorf("z: %v", sigs["z"])
	}
	if _, err := Signatures("nothing"); err == nil {
		t.Error("no entries accepted")
	}
}
