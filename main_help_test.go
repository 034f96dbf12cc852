package main

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/olmolab/olmolab/experiments"
)

// TestHelpNamesTheLab: the help says that olmolab alone, on a terminal, opens
// the interactive lab (piped, it prints this help instead).
func TestHelpNamesTheLab(t *testing.T) {
	var out bytes.Buffer
	printHelp(&out)
	var line string
	for _, l := range strings.Split(out.String(), "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "olmolab ") && strings.Contains(l, "no arguments") {
			line = l
		}
	}
	if line == "" || !strings.Contains(line, "terminal") || !strings.Contains(out.String(), "interactive lab") {
		t.Errorf("help does not say that olmolab with no arguments opens the interactive lab:\n%s", out.String())
	}
}

// TestEveryCommandHasHelp: --help on every command prints its usage and exits
// 0 (eval, snr, tokenize and --batch once exited 2: their parsers compared the
// error with the wrong sentinel), starting with its synopsis (snr --help once
// said "Usage of olmolab snr:" and never that it takes run directories).
func TestEveryCommandHasHelp(t *testing.T) {
	for _, args := range [][]string{
		{"--batch"}, {"sweep"}, {"eval"}, {"snr"}, {"olmes"}, {"olmes", "requests"}, {"tokenize"}, {"presets"},
		{"verify"}, {"train"}, {"bench"}, {"export"}, {"export", "olmo-core"},
	} {
		var out, errb bytes.Buffer
		if code := run(append(args, "--help"), &out, &errb); code != 0 {
			t.Errorf("%s --help: exit %d, want 0\n%s", strings.Join(args, " "), code, errb.String())
		} else if want := "usage: olmolab " + strings.Join(args, " "); !strings.HasPrefix(out.String(), want) || errb.Len() > 0 {
			// the synopsis, positional arguments included, not the flag package's "Usage of olmolab snr:",
			// on stdout (asked for: `olmolab eval --help | less`)
			t.Errorf("%s --help: stdout does not start with %q, or stderr is not empty:\nstdout %s\nstderr %s", strings.Join(args, " "), want, out.String(), errb.String())
		}
		// a bad flag: the error and the usage on stderr, exit 2
		out.Reset()
		errb.Reset()
		if code := run(append(args, "--no-such-flag"), &out, &errb); code != 2 || out.Len() > 0 || (args[0] != "olmes" || len(args) > 1) && !strings.Contains(errb.String(), "no-such-flag") {
			t.Errorf("%s --no-such-flag: exit %d, want 2 with the error on stderr only\nstdout %s\nstderr %s", strings.Join(args, " "), code, out.String(), errb.String())
		}
	}
}

// TestBatchHelpListsRecipes: --batch --help names every shipped recipe, which
// RECIPE may be instead of a file.
func TestBatchHelpListsRecipes(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"--batch", "--help"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	all := experiments.All()
	if len(all) < 10 {
		t.Fatalf("%d shipped recipes", len(all))
	}
	for _, r := range all {
		if !strings.Contains(out.String(), r.Name) {
			t.Errorf("--batch --help lacks the shipped recipe %s:\n%s", r.Name, out.String())
		}
	}
}

// TestRunsFlag: `olmolab --runs DIR` opens the lab on DIR; without a directory,
// or without a terminal, it says why and exits 2 (scripts/tui-tmux-check.sh
// opens it on a terminal).
func TestRunsFlag(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--runs"}, "needs one directory"},
		{[]string{"--runs", "a", "b"}, "needs one directory"},
		{[]string{"--runs", t.TempDir()}, "needs a terminal"},
	} {
		var out, errb bytes.Buffer
		if code := run(c.args, &out, &errb); code != 2 || !strings.Contains(errb.String(), c.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", c.args, code, errb.String(), c.want)
		}
	}
}

// TestUsageErrorNamesTheCommand: a command's usage error shows that command's
// usage, not the program's.
func TestUsageErrorNamesTheCommand(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"snr"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "usage: olmolab snr RUN...") ||
		strings.Contains(errb.String(), "--batch RECIPE") {
		t.Errorf("exit %d, stderr:\n%s", code, errb.String())
	}
}

// TestIsTerminalNotDevNull: /dev/null is a character device but no terminal.
// isTerminal took every character device for one, so `olmolab >/dev/null`
// without a terminal tried to open the interactive lab (exit 1, "bubbletea:
// could not open TTY") instead of printing the usage (exit 2), and --batch
// 2>/dev/null drew a progress bar into it.
func TestIsTerminalNotDevNull(t *testing.T) {
	f, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	if isTerminal(f) {
		t.Fatalf("isTerminal(%s) = true", os.DevNull) // run would open the lab on a developer's terminal
	}
	var errb bytes.Buffer
	if code := run(nil, f, &errb); code != exitBadInput || !strings.Contains(errb.String(), "usage: olmolab") {
		t.Errorf("olmolab >%s: exit %d, want %d with the usage\n%s", os.DevNull, code, exitBadInput, errb.String())
	}
}

// TestHelpNamesEvalRecord: the command list says how scores made after a
// run reach snr (eval --record); it named eval of one checkpoint only.
func TestHelpNamesEvalRecord(t *testing.T) {
	var out bytes.Buffer
	printHelp(&out)
	for _, l := range strings.Split(out.String(), "\n") {
		if f := strings.Fields(l); len(f) > 0 && f[0] == "eval" {
			if !strings.Contains(l, "--record") || !strings.Contains(l, "snr") {
				t.Errorf("eval's line does not name --record and snr: %q", l)
			}
			return
		}
	}
	t.Errorf("no eval line:\n%s", out.String())
}
