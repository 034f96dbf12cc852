// Command olmolab is a terminal lab for training OLMo 2 language models.
//
// main chooses the front end or subcommand and maps errors to exit codes:
// 0 done, 1 error, 2 bad usage or input, 3 diverged, 130 interrupted.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/olmolab/olmolab/lab"
)

// Exit codes shared by every front end.
const (
	exitOK          = 0
	exitError       = 1
	exitBadInput    = 2
	exitDiverged    = 3
	exitInterrupted = 130
)

// usageError is bad command-line usage: exit 2 with a usage line.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// inputError is bad input (a file, a field): exit 2.
type inputError struct{ err error }

func (e inputError) Error() string { return e.err.Error() }
func (e inputError) Unwrap() error { return e.err }

type command struct {
	name, args, summary string
	run                 func(args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"presets", "", "list model presets with their parameter counts", runPresets},
		{"verify", "--model DIR --case FILE", "check a checkpoint against reference tensors (forward, backward, one AdamW step)", runVerify},
		{"train", "[--preset NAME] [--steps N] ...", "train a preset on a generated token stream (engine smoke run)", runTrain},
		{"tokenize", "INPUT... --out DIR [--tokenizer dolma2]", "convert documents (JSONL, .gz, .zst, text) to OLMo token files", runTokenize},
		{"eval", "--model CKPT_OR_RUN [--tasks LIST] [--record]", "evaluate a checkpoint OLMES-style (built-in tasks, ARC, MMLU, …); --record: every checkpoint of a run, into its evals.jsonl for snr", runEval},
		{"snr", "RUN... [--last N] [--noise per-run|pooled] [--target RUNS]", "signal-to-noise of every task and metric across runs", runSNR},
		{"olmes", "requests --task NAME --formulation rc|mc --data DIR [--split S]", "write OLMES requests as oe-eval JSONL", runOLMES},
		{"sweep", "RECIPE --vary k=a,b|--seeds N --local|--slurm", "many runs of one recipe: here, or as a Slurm sbatch array (--status DIR: progress)", runSweep},
		{"runs", "[DIR] [--json]", "list a runs directory's runs (default ./runs) without the lab: state, progress, losses, checkpoint, evaluation", runRuns},
		{"export", "olmo-core RECIPE --out DIR [--nproc N] [--nodes N]", "write an OLMo-core train.py + torchrun launch.sh for one large run of a recipe", runExport},
		{"bench", "[--preset NAME | --d-model --layers --heads --mlp --vocab --seq --batch]", "GEMM GFLOP/s and training tokens/s on this machine", runBench},
	}
}

const usageLine = "usage: olmolab [--runs DIR] | --batch RECIPE [flags] | --batch --resume RUNDIR | <command> [flags] | --help"

func printHelp(w io.Writer) {
	fmt.Fprintln(w, "olmolab: a terminal lab for training OLMo 2 models")
	fmt.Fprintln(w)
	fmt.Fprintln(w, usageLine)
	fmt.Fprintln(w)
	fmt.Fprintln(w, "  olmolab                  with no arguments, on a terminal: the interactive lab (launch recipes,")
	fmt.Fprintln(w, "                           watch runs live, anneal, switch mix, soup, pause; docs/tui.md)")
	fmt.Fprintln(w, "  olmolab --runs DIR       the same on another runs directory (default ./runs; a sweep's)")
	fmt.Fprintln(w, "  olmolab --batch RECIPE   train headless: progress on stderr, JSONL events on stdout (a file or pipe)")
	fmt.Fprintln(w, "                           (RECIPE: a YAML file or a shipped name such as quickstart)")
	fmt.Fprintln(w, "  olmolab --batch --resume RUNDIR [--backend NAME]")
	fmt.Fprintln(w, "                           continue a killed, stopped or interrupted run from its last checkpoint,")
	fmt.Fprintln(w, "                           on the engine that wrote it or on NAME (a run moves between CPU and GPU)")
	fmt.Fprintln(w, "  olmolab --batch --resume RUNDIR --from step-N [--skip-steps K]")
	fmt.Fprintln(w, "                           rewind: fork the run from an earlier checkpoint into a new run and train")
	fmt.Fprintln(w, "                           that, leaving out K steps of data (a loss spike); the run is left as it is")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	// a command's arguments longer than the column put its summary on the
	// next line, in the column, so that every summary starts at one place
	const argsWidth = 50
	for _, c := range commands() {
		if len(c.args) < argsWidth {
			fmt.Fprintf(w, "  %-8s %-*s %s\n", c.name, argsWidth, c.args, c.summary)
		} else {
			fmt.Fprintf(w, "  %-8s %s\n  %-8s %-*s %s\n", c.name, c.args, "", argsWidth, "", c.summary)
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'olmolab <command> --help' for a command's flags.")
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes one invocation and returns its exit code.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		if isTerminal(stdout) {
			return exitCode(runTUI("runs", stdout, stderr), stderr)
		}
		printHelp(stderr)
		return exitBadInput
	}
	switch args[0] {
	case "--runs", "-runs":
		// `olmolab --runs DIR`: the interactive lab on another runs directory
		// (a sweep's, a shared one), rather than ./runs.
		if len(args) != 2 || args[1] == "" {
			fmt.Fprintf(stderr, "olmolab: --runs needs one directory: olmolab --runs DIR (for --batch, put --runs after --batch)\n%s\n", usageLine)
			return exitBadInput
		}
		if !isTerminal(stdout) {
			fmt.Fprintf(stderr, "olmolab: --runs %s opens the interactive lab, which needs a terminal\n", args[1])
			return exitBadInput
		}
		return exitCode(runTUI(args[1], stdout, stderr), stderr)
	case "-h", "--help", "-help", "help":
		printHelp(stdout)
		return exitOK
	case "--batch", "-batch":
		err := runBatch(args[1:], stdout, stderr)
		var ue usageError
		if errors.As(err, &ue) { // --batch's usage, as a command's, not the program's
			fmt.Fprintf(stderr, "olmolab: %s\nusage: olmolab --batch RECIPE [flags] | --batch --resume RUNDIR [flags]  (olmolab --batch --help for the flags)\n", hintLines(ue.msg))
			return exitBadInput
		}
		return exitCode(err, stderr)
	}
	for _, c := range commands() {
		if c.name == args[0] {
			// a usage error shows this command's usage, not the program's
			err := c.run(args[1:], stdout, stderr)
			var ue usageError
			if errors.As(err, &ue) {
				fmt.Fprintf(stderr, "olmolab: %s\nusage: olmolab %s %s  (olmolab %s --help for the flags)\n", hintLines(ue.msg), c.name, c.args, c.name)
				return exitBadInput
			}
			return exitCode(err, stderr)
		}
	}
	if len(args[0]) > 0 && args[0][0] == '-' {
		fmt.Fprintf(stderr, "olmolab: unknown flag %s\n%s%s\n", args[0], didYouMean(args[0], "--batch", "--runs", "--help"), usageLine)
	} else {
		var names []string
		for _, c := range commands() {
			names = append(names, c.name)
		}
		fmt.Fprintf(stderr, "olmolab: unknown command %q\n%s%s\n", args[0], didYouMean(args[0], names...), usageLine)
	}
	return exitBadInput
}

// didYouMean is a "HINT: did you mean X?" line for a mistyped name (evl:
// eval), or "" when none of names is near it.
func didYouMean(s string, names ...string) string {
	if n := lab.Nearest(s, names); n != "" {
		return "HINT: did you mean " + n + "?\n"
	}
	return ""
}

// hintLines puts each HINT of msg on a line of its own, as llm.c does and
// as the errors of lab/olmes and lab/data write it: many errors say it
// after the problem, "…; HINT: …", which a long message wrapped out of
// sight at the end of a terminal line.
func hintLines(msg string) string {
	return strings.ReplaceAll(msg, "; HINT: ", "\nHINT: ")
}

// exitCode prints err and maps it to an exit code.
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return exitOK
	}
	if errors.Is(err, errHelp) {
		return exitOK
	}
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "olmolab: %s\n%s\n", hintLines(ue.msg), usageLine)
		return exitBadInput
	}
	var verr verifyFailed
	if errors.As(err, &verr) {
		return exitError
	}
	fmt.Fprintf(stderr, "olmolab: %s\n", hintLines(err.Error()))
	var ee codedError
	if errors.As(err, &ee) {
		return ee.code
	}
	var ie inputError
	if errors.As(err, &ie) {
		return exitBadInput
	}
	return exitError
}
