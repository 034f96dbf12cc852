// Package theme holds every colour and text style of olmolab's terminal UI,
// named by role (text, subtle, accent, running, annealing, spike, …) so that no
// other file names a colour. It is its own package so that every part of the
// UI can import it without an import cycle (soft-serve's styles package does
// the same).
//
// Colours are xterm-256 cube entries: tmux without RGB support downsamples
// off-cube truecolor values (a red can come out grey), while cube entries
// survive exactly. Light and dark terminals get their own variants; with
// NO_COLOR set (any non-empty value, https://no-color.org) the theme carries no
// colour at all and the charts switch to glyphs that tell their layers apart
// without colour.
package theme

import (
	"hash/fnv"
	"image/color"

	"charm.land/lipgloss/v2"
)

// Theme is the set of styles the UI draws with.
type Theme struct {
	Dark    bool
	NoColor bool

	Text      lipgloss.Style // body text
	Subtle    lipgloss.Style // labels, units, secondary text
	Faint     lipgloss.Style // raw series under the smoothed one
	Accent    lipgloss.Style // the smoothed line, the focused chart's title
	Heading   lipgloss.Style // section and chart titles
	Border    lipgloss.Style // box borders and separators
	Selected  lipgloss.Style // the row under the cursor
	Key       lipgloss.Style // a key in help text
	Running   lipgloss.Style // run states
	Paused    lipgloss.Style
	Annealing lipgloss.Style
	Soup      lipgloss.Style
	Finished  lipgloss.Style
	Failed    lipgloss.Style
	Spike     lipgloss.Style // spike markers and high z-scores
	Marker    lipgloss.Style // phase-change markers on charts
	Warning   lipgloss.Style
	Error     lipgloss.Style
	Dialog    lipgloss.Style // confirmation boxes

	palette []color.Color
}

// cube picks a light- or dark-background xterm-256 colour.
func cube(dark bool, light, onDark string) color.Color {
	return lipgloss.LightDark(dark)(lipgloss.Color(light), lipgloss.Color(onDark))
}

// New builds the theme for a dark or light background; noColor drops every
// colour (NO_COLOR) and keeps only bold, faint and reverse.
func New(dark, noColor bool) *Theme {
	t := &Theme{Dark: dark, NoColor: noColor}
	s := lipgloss.NewStyle
	if noColor {
		t.Text, t.Subtle, t.Faint, t.Accent = s(), s(), s().Faint(true), s().Bold(true)
		t.Heading, t.Border, t.Selected, t.Key = s().Bold(true), s(), s().Reverse(true), s().Bold(true)
		t.Running, t.Paused, t.Annealing, t.Soup, t.Finished = s().Bold(true), s(), s().Bold(true), s().Bold(true), s()
		t.Failed, t.Spike, t.Marker, t.Warning, t.Error = s().Bold(true), s().Bold(true), s(), s(), s().Bold(true)
		t.Dialog = s().Border(lipgloss.NormalBorder()).Padding(0, 1)
		t.palette = []color.Color{lipgloss.NoColor{}}
		return t
	}
	c := func(light, onDark string) color.Color { return cube(dark, light, onDark) }
	t.Text = s().Foreground(c("235", "252"))
	t.Subtle = s().Foreground(c("243", "245"))
	t.Faint = s().Foreground(c("250", "240"))
	t.Accent = s().Foreground(c("25", "75")).Bold(true)
	t.Heading = s().Foreground(c("238", "255")).Bold(true)
	t.Border = s().Foreground(c("250", "238"))
	t.Selected = s().Background(c("254", "236")).Foreground(c("232", "255")).Bold(true)
	t.Key = s().Foreground(c("25", "111")).Bold(true)
	t.Running = s().Foreground(c("28", "78")).Bold(true)
	t.Paused = s().Foreground(c("136", "221"))
	t.Annealing = s().Foreground(c("91", "177")).Bold(true)
	t.Soup = s().Foreground(c("30", "80")).Bold(true)
	t.Finished = s().Foreground(c("242", "250"))
	t.Failed = s().Foreground(c("160", "203")).Bold(true)
	t.Spike = s().Foreground(c("160", "203")).Bold(true)
	t.Marker = s().Foreground(c("130", "215"))
	t.Warning = s().Foreground(c("130", "214"))
	t.Error = s().Foreground(c("160", "203")).Bold(true)
	t.Dialog = s().Border(lipgloss.RoundedBorder()).BorderForeground(c("25", "75")).Padding(0, 1)
	// Okabe–Ito (colour-blind safe), darker variants on light backgrounds
	if dark {
		t.palette = []color.Color{lipgloss.Color("75"), lipgloss.Color("214"), lipgloss.Color("42"),
			lipgloss.Color("176"), lipgloss.Color("209"), lipgloss.Color("227"), lipgloss.Color("117"), lipgloss.Color("250")}
	} else {
		t.palette = []color.Color{lipgloss.Color("25"), lipgloss.Color("166"), lipgloss.Color("29"),
			lipgloss.Color("127"), lipgloss.Color("160"), lipgloss.Color("136"), lipgloss.Color("31"), lipgloss.Color("240")}
	}
	return t
}

// Series returns the style of the i-th series (source of a mix, run in an
// overlay); it cycles through the palette.
func (t *Theme) Series(i int) lipgloss.Style {
	if t.NoColor {
		return lipgloss.NewStyle()
	}
	return lipgloss.NewStyle().Foreground(t.palette[i%len(t.palette)])
}

// RunStyle is a run's colour, stable across sessions and views: it depends on
// the name only, so a run keeps its colour when others come and go.
func (t *Theme) RunStyle(name string) lipgloss.Style {
	return t.Series(StableIndex(name))
}

// StableIndex hashes a name onto a palette slot.
func StableIndex(name string) int {
	h := fnv.New32a()
	h.Write([]byte(name))
	return int(h.Sum32() % 8)
}

// State returns the style of a run state ("running", "paused", "finished", …).
func (t *Theme) State(state string) lipgloss.Style {
	switch state {
	case "running", "headless":
		return t.Running
	case "paused":
		return t.Paused
	case "annealing":
		return t.Annealing
	case "soup":
		return t.Soup
	case "failed", "diverged", "crashed":
		return t.Failed
	case "stopped", "interrupted":
		return t.Warning
	}
	return t.Finished
}
