//go:build linux

// Command loadmem measures loading a checkpoint: the wall time of
// model.LoadHF[float32], the process's peak resident memory (getrusage
// ru_maxrss, which the kernel keeps for the whole process, so run one load
// per process), and a SHA-256 of the loaded parameters' bits, so that two
// builds of the loader can be compared for speed, memory and exact output.
//
//	go run ./scripts/loadmem save PRESET DTYPE DIR   # an initialised model, F32 or BF16
//	go run ./scripts/loadmem load DIR                # one JSON line: seconds, maxrss_mib, params, sha256
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"syscall"
	"time"
	"unsafe"

	"github.com/olmolab/olmolab/model"
	"github.com/olmolab/olmolab/model/safetensors"
)

func main() {
	switch {
	case len(os.Args) == 5 && os.Args[1] == "save":
		cfg, err := model.PresetByName(os.Args[2])
		if err != nil {
			fail(err)
		}
		lay := model.NewLayout(cfg)
		params := make([]float32, lay.Size())
		model.Init(lay, params, 1)
		if err := model.SaveHF(os.Args[4], cfg, params, safetensors.DType(os.Args[3]), 0); err != nil {
			fail(err)
		}
	case len(os.Args) == 3 && os.Args[1] == "load":
		t0 := time.Now()
		_, params, err := model.LoadHF[float32](os.Args[2])
		if err != nil {
			fail(err)
		}
		secs := time.Since(t0).Seconds()
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			fail(err)
		}
		h := sha256.New()
		if len(params) > 0 {
			h.Write(unsafe.Slice((*byte)(unsafe.Pointer(&params[0])), 4*len(params)))
		}
		json.NewEncoder(os.Stdout).Encode(map[string]any{
			"seconds": secs, "maxrss_mib": ru.Maxrss / 1024, // Linux reports KiB
			"params": len(params), "sha256": hex.EncodeToString(h.Sum(nil)),
		})
	default:
		fmt.Fprintln(os.Stderr, "usage: loadmem save PRESET DTYPE DIR | loadmem load DIR")
		os.Exit(2)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "loadmem:", err)
	os.Exit(1)
}
