package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOLMESRequestsSplitHint: a split the data directory lacks is refused by
// olmes requests with a hint naming its own --split, not olmolab eval's (the
// hint said "olmolab eval --split validation" under olmes requests).
func TestOLMESRequestsSplitHint(t *testing.T) {
	olmesData := filepath.Join("..", "shared", "data", "olmes")
	if _, err := os.Stat(olmesData); err != nil {
		t.Skip("../shared/data/olmes is absent")
	}
	code, _, stderr := runCLI("olmes", "requests", "--task", "arc_easy", "--formulation", "rc", "--data", olmesData)
	if code != 2 {
		t.Fatalf("exit %d, want 2:\n%s", code, stderr)
	}
	if want := "write its requests instead of the test split's with olmolab olmes requests --split validation"; !strings.Contains(stderr, want) {
		t.Errorf("stderr lacks %q:\n%s", want, stderr)
	}
	if strings.Contains(stderr, "olmolab eval --split") || strings.Contains(stderr, "eval.split") {
		t.Errorf("olmes requests' hint names eval's --split:\n%s", stderr)
	}
}
