package olmes

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckTasks: CheckTasks refuses what LoadTasks would, with LoadTasks'
// error, and finds every split where LoadTasks would read it, without
// reading one: a file whose content does not parse passes the check (the
// run's LoadTasks reads it), and MMLU's 57 subjects are 114 stats, not
// 14K questions built into requests.
func TestCheckTasks(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, content string) {
		t.Helper()
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("ARC-V1-Feb2018-2/ARC-Easy/ARC-Easy-Dev.jsonl", "not json\n") // validation only, and unreadable
	row := "What is one plus one?,1,2,3,4,B\n"
	for _, s := range mmluSubjects {
		write("data/val/"+s+"_val.csv", row)
		if s != "virology" { // its few-shot examples missing
			write("data/dev/"+s+"_dev.csv", strings.Repeat(row, 5))
		}
	}
	dump := filepath.Join(dir, "dump", "requests.jsonl.gz")
	write("dump/requests.jsonl.gz", "not gzip")
	val := BuildOptions{Split: "validation"}
	for _, tc := range []struct {
		name     string
		tasks    []string
		build    BuildOptions
		dataDir  string
		ok, data bool
	}{
		{"built-in only", []string{"builtin", "arith:mc"}, val, "", true, false},
		{"arc_easy validation", []string{"arc_easy", "fact_cloze"}, val, dir, true, true},
		{"arc_easy test", []string{"arc_easy"}, BuildOptions{}, dir, false, true},
		{"no data directory", []string{"arith,piqa"}, val, "", false, true},
		{"unknown task", []string{"arc_eazy"}, val, dir, false, false},
		{"no tasks", []string{" , "}, val, dir, false, false},
		{"mmlu, a subject's dev split missing", []string{"mmlu"}, val, dir, false, true},
		{"mmlu, one subject", []string{"mmlu_anatomy:mc"}, val, dir, true, true},
		{"mmlu zero-shot", []string{"mmlu"}, BuildOptions{Split: "validation", Shots: -1}, dir, true, true},
		{"request dump missing", []string{filepath.Join(dir, "nope.jsonl")}, val, dir, false, false},
		{"request dump not gzip", []string{dump}, val, dir, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := LoadOptions{DataDir: tc.dataDir, Build: tc.build}
			data, err := CheckTasks(tc.tasks, o)
			if (err == nil) != tc.ok || data != tc.data {
				t.Fatalf("CheckTasks = %v, %v; want ok %v, data %v", data, err, tc.ok, tc.data)
			}
			if err != nil {
				if !IsInputError(err) {
					t.Errorf("%v is not an InputError", err)
				}
				if _, lerr := LoadTasks(tc.tasks, RC, o); lerr == nil || lerr.Error() != err.Error() {
					t.Errorf("CheckTasks says\n%v\nLoadTasks\n%v", err, lerr)
				}
			}
		})
	}
	if _, err := LoadTasks([]string{"arc_easy"}, RC, LoadOptions{DataDir: dir, Build: val}); err == nil {
		t.Error("LoadTasks read the unreadable ARC-Easy file without an error: the check above proves nothing")
	}
}
