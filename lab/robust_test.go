package lab

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// removingDir removes the run directory when the line it writes holds at,
// as someone's rm -rf (or a cleanup script) does while the run trains; the
// write itself goes to the open, now unlinked, file and succeeds.
type removingDir struct {
	f   io.Writer
	dir string
	at  []byte
}

func (d *removingDir) Write(b []byte) (int, error) {
	if bytes.Contains(b, d.at) {
		os.RemoveAll(d.dir)
	}
	return d.f.Write(b)
}

// A run whose directory was removed while it trained wrote on into its
// unlinked files, made the directory again for its next checkpoint
// (MkdirAll) and finished, exit 0, leaving a directory of checkpoints with
// no recipe.yaml, metrics or events: no run, and nothing said. It stops,
// failed, at the step after the removal, with an error naming the
// directory, and makes nothing again.
func TestRunDirRemovedStopsTheRun(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "gone")
	rec := parseTiny(t, "max_tokens=5120", "anneal.auto_at=0", "checkpoint.interval=4")
	jsonlTestWriter = func(path string, f *os.File) io.Writer {
		if filepath.Base(path) == MetricsFile {
			return &removingDir{f: f, dir: dir, at: []byte(`"step":5,`)}
		}
		return f
	}
	defer func() { jsonlTestWriter = nil }()
	s, err := runToEnd(t, RunParams{Recipe: rec, RunsDir: root, Name: "gone"})
	jsonlTestWriter = nil
	if s.State != "failed" || err == nil || s.Steps != 5 {
		t.Fatalf("the run directory was removed at step 5: %s at step %d, err %v; want failed at step 5", s.State, s.Steps, err)
	}
	for _, w := range []string{dir, "was removed", "HINT:"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not say %q", err, w)
		}
	}
	if _, serr := os.Stat(dir); !errors.Is(serr, os.ErrNotExist) {
		t.Errorf("%s was made again after its removal (stat: %v)", dir, serr)
	}
}
