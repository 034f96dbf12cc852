//go:build linux

package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/olmolab/olmolab/lab"
)

// openPty opens a pseudo-terminal: what its slave is written, its master reads.
func openPty(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err == nil {
		err = unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0)
	}
	if err != nil {
		m.Close()
		t.Skipf("no pseudo-terminal: %v", err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		t.Skipf("no pseudo-terminal: %v", err)
	}
	return m, s
}

// TestBatchOnATerminalKeepsJSONLOff: `olmolab --batch quickstart` typed in a
// terminal, the README's first command, wrote a JSON line of about 600
// characters per step to the screen between the progress lines (831 for the
// quickstart). On a terminal stdout gets none, and stderr says where they
// are; the run directory has them all. A pipe or file still gets the stream
// (TestBatch).
func TestBatchOnATerminalKeepsJSONLOff(t *testing.T) {
	master, slave := openPty(t)
	defer master.Close()
	screen := make(chan []byte)
	go func() {
		b, _ := io.ReadAll(master) // until the slave is closed (EIO)
		screen <- b
	}()
	runs := t.TempDir()
	var errb bytes.Buffer
	code := run([]string{"--batch", "testdata/tiny.yaml", "--runs", runs, "--name", "t"}, slave, &errb)
	slave.Close()
	got := string(<-screen)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errb.String())
	}
	if strings.Contains(got, `{"type":`) {
		t.Errorf("the terminal got JSONL:\n%.600s", got)
	}
	if want := "stdout is a terminal: the JSONL events go only to the run directory (metrics.jsonl: steps, events.jsonl: the rest)"; !strings.Contains(errb.String(), want) {
		t.Errorf("stderr does not say where the events went (%q):\n%s", want, errb.String())
	}
	for _, f := range []string{lab.MetricsFile, lab.EventsFile} {
		if b, err := os.ReadFile(filepath.Join(runs, "t", f)); err != nil || !bytes.Contains(b, []byte(`{"type":`)) {
			t.Errorf("%s: %v, %d bytes", f, err, len(b))
		}
	}
}
