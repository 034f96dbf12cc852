package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"

	"github.com/olmolab/olmolab/lab"
)

// flagGiven says whether the flag name was set on the command line.
func flagGiven(fs *flag.FlagSet, name string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}

// forkRun is --batch --resume RUN --from step-N [--skip-steps K |
// --skip-tokens T] [--runs DIR] [--name NAME]: it makes the fork's run
// directory (lab.Fork) and returns it, for the resume that trains it. The
// fork goes beside RUN unless --runs is given; its name defaults to
// RUN-from-N (-skipK, -skipTtok). Bad input names its flag and value, exit
// 2, and writes nothing.
func forkRun(parent, from string, skipSteps, skipTokens int64, runs, name string, runsGiven bool, stderr io.Writer) (string, error) {
	step, err := lab.ParseCheckpointStep(from)
	if err != nil {
		return "", usageError{fmt.Sprintf("--batch --from %s: %v", from, err)}
	}
	if name == "" {
		name = fmt.Sprintf("%s-from-%d", filepath.Base(filepath.Clean(parent)), step)
		switch {
		case skipSteps > 0:
			name += fmt.Sprintf("-skip%d", skipSteps)
		case skipTokens > 0:
			name += fmt.Sprintf("-skip%dtok", skipTokens)
		}
	} else if !runNameRE.MatchString(name) || name == "." || name == ".." {
		return "", usageError{fmt.Sprintf("--batch --name %q: a run name is one directory name (letters, digits, '.', '_' and '-'); --runs picks the parent directory", name)}
	}
	root := filepath.Dir(filepath.Clean(parent))
	if runsGiven {
		root = runs
	}
	dir := filepath.Join(root, name)
	fi, err := lab.Fork(lab.ForkParams{Parent: parent, Step: step, SkipSteps: skipSteps, SkipTokens: skipTokens, Dir: dir})
	var fe *lab.ForkError
	if errors.As(err, &fe) {
		flagName := map[string]string{"step": "--from " + from, "dir": "--name " + name, "parent": "--resume " + parent}[fe.Field]
		if fe.Field == "skip" {
			flagName = fmt.Sprintf("--skip-steps %d", skipSteps)
			if skipTokens != 0 {
				flagName = fmt.Sprintf("--skip-tokens %d", skipTokens)
			}
		}
		return "", inputError{fmt.Errorf("--batch %s: %w", flagName, err)}
	}
	if err != nil {
		return "", err
	}
	how := "its checkpoint hard-linked, not copied"
	if !fi.Linked {
		how = "its checkpoint copied: the file system cannot link it"
	}
	if fi.SkipSteps > 0 {
		how += fmt.Sprintf("; %d steps (%s tokens) of data left out: the fork starts at step %d", fi.SkipSteps, lab.HumanCount(fi.SkipTokens), fi.Step+fi.SkipSteps)
	}
	fmt.Fprintf(stderr, "forked %s at step-%d into %s (%s); %s is left as it is\n", parent, fi.Step, dir, how, parent)
	return dir, nil
}
