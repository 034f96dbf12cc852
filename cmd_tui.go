package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"syscall"

	tea "charm.land/bubbletea/v2"

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
	msg, err := tui.Open(context.Background(), tui.Options{
		RunsDir:   runsDir,
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
