package main

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"syscall"

	"github.com/olmolab/olmolab/lab"
	"github.com/olmolab/olmolab/lab/export"
)

const exportUsage = `usage: olmolab export olmo-core RECIPE [--set key=value]... --out DIR [--nproc N] [--nodes N] [--force]`

// runExport is `olmolab export olmo-core`: one large run handed to OLMo-core
// under torchrun (DESIGN.md, "Beyond one machine"). It writes train.py,
// launch.sh and EXPORT.md into DIR, all or nothing.
func runExport(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("export", stdout, stderr)
	fs.Usage = func() { printUsage(fs, exportUsage) }
	var sets stringList
	fs.Var(&sets, "set", "override a recipe value: key.path=value (repeatable)")
	out := fs.String("out", "", "directory for train.py, launch.sh and EXPORT.md")
	nproc := fs.Int("nproc", 8, "processes (GPUs) per node")
	nodes := fs.Int("nodes", 1, "nodes")
	force := fs.Bool("force", false, "replace an earlier export in a non-empty --out (never a directory holding other files)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) == 0:
		return usageError{"export needs a target and a recipe\n" + exportUsage}
	case pos[0] != "olmo-core":
		return usageError{fmt.Sprintf("unknown export target %q (known: olmo-core)", pos[0])}
	case len(pos) == 1:
		return usageError{"export olmo-core needs a recipe: a YAML file or a shipped name\n" + exportUsage}
	case len(pos) > 2:
		return usageError{fmt.Sprintf("unexpected argument %q (one recipe per export)", pos[2])}
	case *out == "":
		return usageError{"export needs --out DIR, the directory for train.py, launch.sh and EXPORT.md"}
	case *nproc < 1 || *nodes < 1:
		return usageError{fmt.Sprintf("--nproc %d, --nodes %d: each must be at least 1 (GPUs per node, nodes)", *nproc, *nodes)}
	}
	rec, err := loadRecipe(pos[1], sets)
	if err != nil {
		return err
	}
	for _, w := range rec.Warnings {
		fmt.Fprintln(stderr, "olmolab: warning:", w)
	}
	source := pos[1]
	for _, s := range sets {
		source += " --set " + s
	}
	files, err := export.OLMoCore(export.OLMoCoreParams{Recipe: rec, Source: source, NProc: *nproc, Nodes: *nodes})
	if err != nil {
		return inputError{err}
	}
	if err := export.WriteDir(*out, files, *force); err != nil {
		return exportWriteError(*out, err)
	}
	fmt.Fprintf(stdout, "wrote %s/{train.py,launch.sh,EXPORT.md}: %s for OLMo-core %.12s, %d×%d ranks (checked against its API, not run; see EXPORT.md)\n",
		*out, rec.Name, export.OLMoCoreCommit, *nodes, *nproc)
	return nil
}

// exportWriteError is WriteDir's err as the command fails with it: a write
// the machine refused (a full disk, a quota, a read-only file system, an
// I/O error) is an error (exit 1) saying what to do, since nothing about the
// command was wrong; anything else (an --out in the way) is bad input (exit
// 2). A full disk was exit 2, with no word of what to do.
func exportWriteError(out string, err error) error {
	for _, e := range []error{syscall.ENOSPC, syscall.EDQUOT, syscall.EROFS, syscall.EIO} {
		if errors.Is(err, e) {
			return lab.WriteHint(err, filepath.Dir(filepath.Clean(out)), "run the command again (nothing was written: --out is made whole or not at all)")
		}
	}
	return inputError{err}
}
