//go:build unix

package model

import "syscall"

// cpuSeconds is the user+system CPU time this process has used: on a shared
// machine, CPU time per step measures the work a step does even when other
// processes take the cores away (wall time then measures them too).
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
