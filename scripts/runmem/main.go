//go:build linux

// Command runmem compares a training run's peak resident memory with the
// estimate its memory check uses (lab.MemoryNeed): it loads RECIPE with the
// --set overrides, prints the estimate, runs `OLMOLAB --batch RECIPE --set …`
// as a child and reads the child's peak RSS (getrusage's ru_maxrss of the
// waited-for child, which the kernel keeps for its whole life).
//
//	go run ./scripts/runmem OLMOLAB RECIPE [key=value]...
//
// prints one JSON line: estimate_gib, peak_gib, ratio (peak/estimate), exit.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"syscall"

	"github.com/olmolab/olmolab/lab"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: runmem OLMOLAB RECIPE [key=value]...")
		os.Exit(2)
	}
	bin, recipe, sets := os.Args[1], os.Args[2], os.Args[3:]
	rec, err := lab.LoadRecipe(recipe, sets)
	if err != nil {
		fail(err)
	}
	need, err := lab.MemoryNeed(rec)
	if err != nil {
		fail(err)
	}
	args := []string{"--batch", recipe}
	for _, s := range sets {
		args = append(args, "--set", s)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stderr = os.Stderr
	err = cmd.Run()
	if cmd.ProcessState == nil {
		fail(err)
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	peak := float64(ru.Maxrss) * 1024 // Linux reports KiB
	const gib = 1 << 30
	json.NewEncoder(os.Stdout).Encode(map[string]any{
		"estimate_gib": float64(need) / gib, "peak_gib": peak / gib,
		"ratio": peak / float64(need), "exit": cmd.ProcessState.ExitCode(),
	})
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "runmem:", err)
	os.Exit(1)
}
