package export

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/olmolab/olmolab/model/tempfile"
)

// WriteDir writes files into dir all at once: into a temporary directory beside
// it, renamed into place. A dir that exists and is not empty is refused unless
// force, and then replaced whole; force replaces only an earlier export (a dir
// that holds nothing but files of these names), never a directory of other
// things (--out . or a project's directory), which it would delete.
func WriteDir(dir string, files []File, force bool) error {
	if entries, err := os.ReadDir(dir); err == nil {
		if len(entries) > 0 && !force {
			return fmt.Errorf("%s exists and is not empty; give --force to replace it", dir)
		}
		ours := map[string]bool{}
		for _, f := range files {
			ours[f.Name] = true
		}
		var other []string
		for _, e := range entries {
			if !ours[e.Name()] || e.IsDir() {
				other = append(other, e.Name())
			}
		}
		if len(other) > 0 {
			list := strings.Join(other[:min(3, len(other))], ", ")
			if len(other) > 3 {
				list += ", …"
			}
			return fmt.Errorf("%s holds files an export does not write (%s); --force replaces only an earlier export, whole: give another --out", dir, list)
		}
	} else if errors.Is(err, syscall.ENOTDIR) {
		// a file, or a path under one: Go's "open DIR: not a directory"
		// said the path twice and not which flag
		return fmt.Errorf("--out %s: a file, or under one, not a directory; HINT: give --out a directory (made if missing)", dir)
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("--out %s: %w", dir, err)
	}
	parent := filepath.Dir(filepath.Clean(dir))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("--out %s: %w", dir, err)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".tmp-")
	if err != nil {
		return fmt.Errorf("--out %s: %w", dir, err)
	}
	defer os.RemoveAll(tmp) // a no-op once renamed
	for _, f := range files {
		// synced before the rename, as every writer here does
		// (tempfile.WriteFile): a crash after it could otherwise leave
		// the export's name on files whose data never reached the disk
		if err := tempfile.WriteFile(filepath.Join(tmp, f.Name), f.Data, f.Mode); err != nil {
			return fmt.Errorf("--out %s: %w", dir, err)
		}
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("--out %s: %w", dir, err)
	}
	tempfile.SyncDir(tmp)
	old := ""
	if _, err := os.Stat(dir); err == nil {
		old = tmp + ".old"
		if err := os.Rename(dir, old); err != nil {
			return fmt.Errorf("--out %s: move the earlier export aside: %w", dir, err)
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		if old != "" {
			_ = os.Rename(old, dir)
		}
		return fmt.Errorf("--out %s: %w", dir, err)
	}
	tempfile.SyncDir(parent)
	if old != "" {
		return os.RemoveAll(old)
	}
	return nil
}
