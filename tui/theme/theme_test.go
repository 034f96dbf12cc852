package theme

import (
	"strings"
	"testing"
)

func TestNoColorHasNoColour(t *testing.T) {
	th := New(true, true)
	for _, s := range []string{th.Running.Render("x"), th.Series(3).Render("x"), th.RunStyle("run").Render("x"), th.Faint.Render("x")} {
		if strings.Contains(s, "38;") || strings.Contains(s, "48;") {
			t.Errorf("NO_COLOR style renders a colour: %q", s)
		}
	}
}

func TestLightAndDarkDiffer(t *testing.T) {
	if New(true, false).Text.Render("x") == New(false, false).Text.Render("x") {
		t.Error("light and dark text are the same colour")
	}
}

func TestRunColoursAreStable(t *testing.T) {
	a, b := StableIndex("quickstart-20260301-120000"), StableIndex("quickstart-20260301-120000")
	if a != b || a < 0 || a >= 8 {
		t.Errorf("StableIndex %d, %d", a, b)
	}
	th := New(true, false)
	if th.State("diverged").Render("x") != th.Failed.Render("x") || th.State("annealing").Render("x") != th.Annealing.Render("x") {
		t.Error("state styles are not the roles'")
	}
}
