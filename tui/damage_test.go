package tui

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/olmolab/olmolab/lab"
)

// A line of a run's metrics.jsonl that does not parse, with lines after it
// (damage: a disk error, an edit), was passed over by the runs list without
// a word. The message line says so once, naming the file and the line; a
// torn last line (a killed writer) stays silent.
func TestDamagedMetricsLineIsSaid(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "hurt")
	writeLongRun(t, dir, 7)
	path := filepath.Join(dir, lab.MetricsFile)
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"type":"step","run":"long","st`) // torn: a killed writer's
	f.Close()
	o := testOptions(t, 100, 30)
	o.RunsDir = root
	m := New(o)
	m.Update(runsScannedMsg{runs: m.scanner.scan(root, time.Hour)})
	if strings.Contains(m.notice, path) {
		t.Errorf("a torn last line is said: %q", m.notice)
	}

	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(b), "\n")
	lines[2] = "garbage\n"
	if err := os.WriteFile(path, []byte(strings.Join(lines, "")), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(path, time.Now().Add(time.Minute), time.Now().Add(time.Minute))
	m.notice = ""
	m.Update(runsScannedMsg{runs: m.scanner.scan(root, time.Hour)})
	if want := path + ": line 3 is not a JSON record"; !strings.Contains(m.notice, want) {
		t.Fatalf("notice %q, want %q", m.notice, want)
	}
	m.notice = ""
	m.Update(runsScannedMsg{runs: m.scanner.scan(root, time.Hour)})
	if m.notice != "" {
		t.Errorf("said again on the next scan: %q", m.notice)
	}
}
