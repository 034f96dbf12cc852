package data

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// openFDs counts the process's open descriptors (/proc/self/fd), or -1.
func openFDs() int {
	es, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(es)
}

// TestManyTokenFilesFewDescriptors: a token source of more files than the process may open at once trains. Every
// token file stayed open for the whole run, so 1,000 files under a soft limit of 1024 descriptors less what the
// process holds (ulimit -n 256 in a shell, which Go cannot raise past the hard limit) stopped the start with "too
// many open files". With the soft limit set to what is open now plus 100, 1,000 files must open, serve every
// instance of two epochs, and keep at most maxOpenTokenFiles of them open.
func TestManyTokenFilesFewDescriptors(t *testing.T) {
	if openFDs() < 0 {
		t.Skip("no /proc/self/fd here")
	}
	dir := t.TempDir()
	const files, T = 1000, 8
	for i := range files {
		ids := make([]uint32, 2*T)
		for j := range ids {
			ids[j] = uint32(i*2*T + j)
		}
		ids[len(ids)-1] = uint32(dolma2().EOS())
		writeTokens(t, filepath.Join(dir, fmt.Sprintf("f%04d.npy", i)), Uint32, ids)
	}
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
		t.Skip(err)
	}
	low := old
	low.Cur = uint64(openFDs() + 100)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Skip(err)
	}
	t.Cleanup(func() { syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old) })
	fds0 := openFDs()
	l, err := NewLoader(LoaderParams{Tokenizer: dolma2(), SeqLen: T, Sources: []SourceSpec{{Name: "many", TargetRatio: 1, Paths: []string{dir}}}})
	if err != nil {
		t.Fatalf("1,000 token files under a limit of %d descriptors: %v", low.Cur, err)
	}
	defer l.Close()
	seen := map[int32]int{}
	for _, b := range batches(t, l, 2*2*files, 1) {
		seen[b[0]]++
	}
	if len(seen) != 2*files {
		t.Errorf("two epochs served %d distinct instances, want %d", len(seen), 2*files)
	}
	if n := openFDs() - fds0; n > maxOpenTokenFiles+4 { // and a few the runtime may open
		t.Errorf("%d descriptors open after reading 1,000 files, want at most %d", n, maxOpenTokenFiles)
	}
}
