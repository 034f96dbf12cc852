package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"runtime/metrics"
	"runtime/pprof"
	"sync"
	"syscall"

	tea "charm.land/bubbletea/v2"

	"github.com/olmolab/olmolab/lab"
	"github.com/olmolab/olmolab/tui"
)

// runTUI is `olmolab` with no arguments on a terminal, or `olmolab --runs DIR`:
// the interactive lab on a runs directory. Its log goes to
// RUNSDIR/olmolab-tui.log, never to the screen.
func runTUI(runsDir string, stdout, stderr io.Writer) error {
	if err := os.MkdirAll(runsDir, 0o755); err != nil {
		return err
	}
	lf, err := os.OpenFile(filepath.Join(runsDir, "olmolab-tui.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer lf.Close()
	log.SetOutput(lf) // anything using the standard logger stays off the screen too
	logger := slog.New(slog.NewJSONHandler(lf, nil))
	// OLMOLAB_TUI_CPUPROFILE=FILE profiles the session (UI and training), to
	// check what the UI costs the run it shows (scripts/tui-bench.sh)
	if path := os.Getenv("OLMOLAB_TUI_CPUPROFILE"); path != "" {
		if f, err := os.Create(path); err == nil {
			pprof.StartCPUProfile(f)
			defer func() { pprof.StopCPUProfile(); f.Close() }()
		}
	}
	var mem sessionMemory
	msg, err := tui.Open(context.Background(), tui.Options{
		RunsDir:   runsDir,
		StartRun:  mem.start,
		Evaluator: newEvaluator(),
		Detach:    detachHeadless,
		Logger:    logger,
	})
	if msg != "" {
		fmt.Fprintln(stderr, msg)
	}
	if errors.Is(err, tea.ErrInterrupted) {
		return codedError{exitInterrupted, err}
	}
	return err
}

// detachHeadless continues a run as `olmolab --batch --resume DIR` in a
// session of its own (setsid), so it survives the terminal closing; its
// JSONL events and progress lines go to files in the run directory.
func detachHeadless(dir string) (int, error) {
	exe, err := os.Executable()
	if err != nil {
		return 0, err
	}
	open := func(name string) (*os.File, error) {
		return os.OpenFile(filepath.Join(dir, name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	}
	out, err := open(tui.HeadlessStdout)
	if err != nil {
		return 0, err
	}
	defer out.Close()
	errf, err := open(tui.HeadlessStderr)
	if err != nil {
		return 0, err
	}
	defer errf.Close()
	cmd := exec.Command(exe, "--batch", "--resume", dir)
	cmd.Stdout, cmd.Stderr = out, errf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	pid := cmd.Process.Pid
	cmd.Process.Release()
	return pid, nil
}

// sessionMemory keeps the Go collector's soft memory limit of an interactive
// session at what its live run was checked for (lab.SessionMemoryLimit), as
// --batch does for its one run (setMemoryLimit), and lifts it when the run
// ends: the session trains one run at a time, and between runs only the UI
// lives; the ended run's memory goes back to the OS then. A GOMEMLIMIT from
// the environment is left as it is.
type sessionMemory struct {
	mu  sync.Mutex
	gen int // the live run's: a run that ended lifts the limit only if no later run set it
}

// start is tui.Options.StartRun: tui.StartLabRun, then the limit.
func (s *sessionMemory) start(ctx context.Context, p lab.RunParams) (tui.Run, error) {
	held := goMemoryInUse()
	r, err := tui.StartLabRun(ctx, p)
	if err != nil || os.Getenv("GOMEMLIMIT") != "" {
		return r, err
	}
	m, ok := r.(interface{ MemoryNeed() int64 })
	if !ok || m.MemoryNeed() <= 0 {
		return r, nil
	}
	s.mu.Lock()
	s.gen++
	gen := s.gen
	debug.SetMemoryLimit(lab.SessionMemoryLimit(m.MemoryNeed(), held))
	s.mu.Unlock()
	go func() {
		<-r.Done()
		s.mu.Lock()
		if s.gen == gen {
			debug.SetMemoryLimit(math.MaxInt64) // the default: no limit
		}
		s.mu.Unlock()
		// the run's engine is garbage now (lab.Run drops it when it ends),
		// but without a limit the collector would not take it for up to two
		// minutes, and the scavenger returns it to the OS slowly after that:
		// the next run's memory check, which reads the machine's available
		// memory, would count it as taken. Once per run, a few ms.
		debug.FreeOSMemory()
	}()
	return r, nil
}

// goMemoryInUse is the memory the Go runtime holds now, as its soft memory
// limit counts it: everything it mapped less the heap it gave back.
func goMemoryInUse() int64 {
	ms := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(ms)
	if ms[0].Value.Kind() != metrics.KindUint64 || ms[1].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return int64(ms[0].Value.Uint64() - ms[1].Value.Uint64())
}
