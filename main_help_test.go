package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestHelpNamesTheLab: the help says that olmolab alone, on a terminal, opens
// the interactive lab (piped, it prints this help instead).
func TestHelpNamesTheLab(t *testing.T) {
	var out bytes.Buffer
	printHelp(&out)
	var line string
	for _, l := range strings.Split(out.String(), "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "olmolab ") && strings.Contains(l, "no arguments") {
			line = l
		}
	}
	if line == "" || !strings.Contains(line, "terminal") || !strings.Contains(out.String(), "interactive lab") {
		t.Errorf("help does not say that olmolab with no arguments opens the interactive lab:\n%s", out.String())
	}
}
