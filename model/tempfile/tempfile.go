// Package tempfile keeps the list of temporary files and directories this
// process is writing (an atomic write's NAME.tmp-PID, a checkpoint's
// directory), so that a process that quits at once, without finishing its
// writes (a second Ctrl-C), can remove them and start no other: it leaves
// no temporary file behind.
package tempfile

import (
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
)

var temps struct {
	sync.Mutex
	paths   map[string]bool
	watched map[string]*atomic.Bool // Watch's: set by a Rename into the path
}

// Track runs create, which creates the temporary file or directory path,
// and records path until Untrack. After Abandon it never returns: the
// process is about to exit, and nothing it starts writing now may be left
// behind.
func Track(path string, create func() error) error {
	temps.Lock() // Abandon keeps it
	defer temps.Unlock()
	if err := create(); err != nil {
		return err
	}
	if temps.paths == nil {
		temps.paths = map[string]bool{}
	}
	temps.paths[path] = true
	return nil
}

// Untrack forgets path, renamed into place or removed.
func Untrack(path string) {
	temps.Lock()
	delete(temps.paths, path)
	temps.Unlock()
}

// Rename renames the tracked oldpath to newpath and forgets it, as one step
// against Abandon: a rename is the one change inside a tracked directory
// that is not the creation of a tracked file (an atomic write's
// NAME.tmp-PID becoming NAME in a checkpoint's temporary directory), and
// one made while Abandon's RemoveAll walks that directory adds an entry
// behind it, so that its last step, removing the directory, fails and the
// directory is left. After Abandon it never returns.
func Rename(oldpath, newpath string) error {
	temps.Lock()
	defer temps.Unlock()
	if err := os.Rename(oldpath, newpath); err != nil {
		return err
	}
	delete(temps.paths, oldpath)
	if w := temps.watched[filepath.Clean(newpath)]; w != nil {
		w.Store(true)
	}
	return nil
}

// Watch reports, through renamed, whether a Rename has put a file in place
// at path since Watch was called, until stop. A process that quits on a
// signal asks it after Abandon, to say whether its write had been made: as
// Rename and Abandon hold one lock, the answer is then final (renamed
// takes no lock, so it answers after Abandon too).
func Watch(path string) (renamed func() bool, stop func()) {
	path = filepath.Clean(path)
	w := new(atomic.Bool)
	temps.Lock()
	if temps.watched == nil {
		temps.watched = map[string]*atomic.Bool{}
	}
	temps.watched[path] = w
	temps.Unlock()
	return w.Load, func() {
		temps.Lock()
		if temps.watched[path] == w {
			delete(temps.watched, path)
		}
		temps.Unlock()
	}
}

// Guard runs f, which creates something inside what may be a tracked
// directory (the directory a checkpoint's files go to), as Track runs
// create: after Abandon it never returns, so a removed directory is not
// made again.
func Guard(f func() error) error {
	temps.Lock()
	defer temps.Unlock()
	return f()
}

// Abandon removes every temporary file and directory being written and
// keeps any other from being created: a write still under way writes into
// a removed file and fails. It does not give back Track's lock: call it
// only just before the process exits.
func Abandon() {
	temps.Lock()
	for p := range temps.paths {
		os.RemoveAll(p)
	}
}

// SyncFile flushes f to the disk: every writer of a file renamed into
// place calls it before the rename, or a crash can leave the new name on a
// file whose data never reached the disk. A variable so that a test can
// see what was synced.
var SyncFile = (*os.File).Sync

// SyncDir makes the entries made or renamed in dir durable. Best effort:
// some file systems refuse to sync a directory, and the files in it are
// synced already.
func SyncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		SyncFile(d)
		d.Close()
	}
}

// WriteFile writes data to path (created or truncated, with mode exactly,
// past the umask) and syncs it to the disk before it returns: os.WriteFile
// for a file about to be renamed into place.
func WriteFile(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(mode)
	}
	if err == nil {
		err = SyncFile(f)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
