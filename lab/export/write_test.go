package export

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/olmolab/olmolab/model/tempfile"
)

// WriteDir renamed its files into place unsynced (os.WriteFile): a crash
// soon after could leave the export's name on empty or partial files. Each
// file is synced, with the directory, before the rename, and the parent
// after it.
func TestWriteDirSyncs(t *testing.T) {
	var synced []string // what was synced, by name, in order
	tempfile.SyncFile = func(f *os.File) error {
		synced = append(synced, filepath.Base(f.Name()))
		return f.Sync()
	}
	defer func() { tempfile.SyncFile = (*os.File).Sync }()
	root := t.TempDir()
	dir := filepath.Join(root, "out")
	if err := WriteDir(dir, []File{{Name: "a.yaml", Mode: 0o644, Data: []byte("a")}, {Name: "b.sh", Mode: 0o755, Data: []byte("b")}}, false); err != nil {
		t.Fatal(err)
	}
	i, j := slices.Index(synced, "a.yaml"), slices.Index(synced, "b.sh")
	tmp := slices.IndexFunc(synced, func(s string) bool { return len(s) > 4 && s[:5] == ".out." })
	parent := slices.Index(synced, filepath.Base(root))
	if i < 0 || j < 0 || tmp < max(i, j) || parent < tmp {
		t.Errorf("synced %q: want a.yaml and b.sh, then the temporary directory, then %s (after the rename)", synced, filepath.Base(root))
	}
	if st, err := os.Stat(filepath.Join(dir, "b.sh")); err != nil || st.Mode().Perm() != 0o755 {
		t.Errorf("b.sh: %v, %v; want mode 0755", st.Mode(), err)
	}
}
