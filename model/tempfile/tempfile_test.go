package tempfile

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestAbandon: Abandon removes what is tracked, leaves what was untracked
// (renamed into place), and a Track or Guard after it never runs.
// TestWatch: Watch says whether a Rename put a file at its path, and only
// there. It runs before TestAbandon, which keeps the package's lock.
func TestWatch(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "evals.jsonl")
	renamed, stop := Watch(dir + "/./evals.jsonl")
	other, stopOther := Watch(filepath.Join(dir, "other"))
	defer stopOther()
	tmp := path + ".tmp-1"
	if err := Track(tmp, func() error { return os.WriteFile(tmp, []byte("x"), 0o644) }); err != nil {
		t.Fatal(err)
	}
	if renamed() {
		t.Error("renamed before the Rename")
	}
	if err := Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	if !renamed() || other() {
		t.Errorf("after the Rename: renamed %v (want true), another path's %v (want false)", renamed(), other())
	}
	stop()
	again, stopAgain := Watch(path)
	defer stopAgain()
	if again() {
		t.Error("a new Watch of the path says renamed before any Rename")
	}
}

func TestAbandon(t *testing.T) {
	dir := t.TempDir()
	tmp, done := filepath.Join(dir, "a.tmp-1"), filepath.Join(dir, "b.tmp-1")
	for _, p := range []string{tmp, done} {
		if err := Track(p, func() error { return os.WriteFile(p, []byte("x"), 0o644) }); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Rename(done, filepath.Join(dir, "b")); err != nil {
		t.Fatal(err)
	}
	Untrack(done)
	Abandon()
	if _, err := os.Stat(tmp); !os.IsNotExist(err) {
		t.Errorf("Abandon left %s (%v)", tmp, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "b")); err != nil {
		t.Errorf("Abandon removed a file renamed into place: %v", err)
	}
	ran := make(chan bool, 2)
	go Track(filepath.Join(dir, "c"), func() error { ran <- true; return nil })
	go Guard(func() error { ran <- true; return nil })
	select {
	case <-ran:
		t.Error("a Track or Guard ran after Abandon")
	case <-time.After(100 * time.Millisecond): // a bound: nothing may happen in it
	}
}
