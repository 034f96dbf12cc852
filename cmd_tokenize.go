package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/olmolab/olmolab/lab/data"
	"github.com/olmolab/olmolab/lab/plural"
)

// runTokenize is `olmolab tokenize INPUT... --out DIR --tokenizer NAME`.
func runTokenize(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("tokenize", stdout, stderr)
	out := fs.String("out", "", "output directory for part-NNNNN.npy token files")
	tokName := fs.String("tokenizer", "dolma2", "tokenizer: dolma2, world or bytes")
	maxMB := fs.Int64("max-file-mb", 1024, "split output files at this size (MiB), at document boundaries")
	strict := fs.Bool("strict", false, "stop at the first malformed JSON line instead of skipping it")
	dtype := fs.String("dtype", "", "uint16 or uint32 (default: the smallest that holds the vocabulary)")
	resume := fs.Bool("resume", false, "continue the run that wrote --out (interrupted by Ctrl-C): same inputs and settings; its whole files are kept and the output is as if it had not stopped")
	// inputs may come before, between or after the flags
	inputs, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(inputs) == 0 || *out == "" {
		return usageError{"tokenize needs INPUT... and --out DIR"}
	}
	if *maxMB < 1 {
		return usageError{fmt.Sprintf("tokenize: --max-file-mb %d: want a size of at least 1 MiB", *maxMB)}
	}
	tok, err := data.NewTokenizer(*tokName)
	if err != nil {
		return inputError{err}
	}
	p := data.TokenizeParams{Inputs: inputs, OutDir: *out, Tokenizer: tok, MaxFileBytes: *maxMB << 20, Strict: *strict, Resume: *resume,
		Warn: func(s string) { fmt.Fprintln(stderr, "warning:", s) }}
	if *dtype != "" {
		if p.DType, err = data.ParseDType(*dtype); err != nil {
			return usageError{fmt.Sprintf("tokenize: --dtype %q: want uint16 or uint32 (the token files' element type)", *dtype)}
		}
	}
	term := isTerminal(stderr)
	p.Progress = func(pr data.TokenizeProgress) {
		pct := 0.0
		if pr.TotalBytes > 0 {
			pct = 100 * float64(pr.ReadBytes) / float64(pr.TotalBytes)
		}
		bar := progressBar(pct, 30)
		line := fmt.Sprintf("%s %5.1f%%  %s  %s  %s", bar, pct, plural.N(int(pr.Documents), "document"), plural.N(int(pr.Tokens), "token"), plural.N(pr.Files, "file"))
		if term {
			fmt.Fprintf(stderr, "\r\033[K%s", line)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	sum, err := data.Tokenize(ctx, p)
	if term {
		fmt.Fprintln(stderr)
	}
	if err != nil {
		if data.IsInputError(err) {
			return inputError{err}
		}
		if errors.Is(err, context.Canceled) {
			// the counts are the kept files': the unfinished file's documents were dropped
			return codedError{exitInterrupted, fmt.Errorf("tokenize interrupted: kept %s with %s and %s%s; the rest was not written\nHINT: run the same command with --resume to continue from there",
				plural.N(len(sum.Files), "whole file"), plural.N(int(sum.Documents), "document"), plural.N(int(sum.Tokens), "token"), listed(sum.Files))}
		}
		return err
	}
	if sum.Resumed > 0 {
		fmt.Fprintf(stderr, "resumed: %s of %d written before were kept\n", plural.N(sum.Resumed, "file"), len(sum.Files))
	}
	// tokens/s: whether a corpus takes minutes or days, and a slow disk or too few cores
	fmt.Fprintf(stdout, "documents\t%d\ntokens\t%d\nbytes/token\t%.3f\nskipped lines\t%d\nfiles\t%d (%s)\nseconds\t%.1f\ntokens/s\t%.0f\n",
		sum.Documents, sum.Tokens, sum.BytesPerToken(), sum.Skipped, len(sum.Files), strings.Join(sum.Files, ", "), sum.Elapsed.Seconds(),
		float64(sum.Tokens-sum.ResumedTokens)/max(sum.Elapsed.Seconds(), 1e-9)) // this run's: a resume's kept files took no time
	return nil
}

// listed is " (a, b, c)" for up to three files, " (a, b, c, …)" for more, "" for none.
func listed(files []string) string {
	switch {
	case len(files) == 0:
		return ""
	case len(files) > 3:
		return " (" + strings.Join(files[:3], ", ") + ", …)"
	}
	return " (" + strings.Join(files, ", ") + ")"
}

func progressBar(pct float64, width int) string {
	n := int(pct / 100 * float64(width))
	n = max(0, min(n, width))
	return "[" + strings.Repeat("#", n) + strings.Repeat(".", width-n) + "]"
}
