package tui

import (
	"charm.land/bubbles/v2/key"
)

// KeyMap is the one table of keys: Update dispatches on it and the help (the
// short line and the full page) is generated from it. Bindings that do not
// apply in the current view or state are disabled, so they neither fire nor
// show up in the help.
type KeyMap struct {
	// views and program
	Help, Quit, ForceQuit                   key.Binding
	Dashboard, Runs, Evals, Home            key.Binding
	Up, Down, Open, Back, Select, ClearSel  key.Binding
	FocusChart, LogY, ClipY, XAxis, Smooth  key.Binding
	SmoothLess, SmoothMore                  key.Binding
	Anneal, Mix, Soup, Checkpoint, Evaluate key.Binding
	Pause, Stop, TakeOver, Rewind           key.Binding
	// dialogs
	Confirm, Cancel, NextField, PrevField, Choose key.Binding
	ClearField, DeleteWord                        key.Binding
	ScrollUp, ScrollDown, TakeMix                 key.Binding
	QuitStop, QuitDetach                          key.Binding
}

// DefaultKeyMap returns the key table.
func DefaultKeyMap() KeyMap {
	b := func(keys []string, k, desc string) key.Binding {
		return key.NewBinding(key.WithKeys(keys...), key.WithHelp(k, desc))
	}
	return KeyMap{
		Help:      b([]string{"?"}, "?", "full help"),
		Quit:      b([]string{"q"}, "q", "quit"),
		ForceQuit: b([]string{"ctrl+c"}, "ctrl+c", "quit (asks if training)"),
		Dashboard: b([]string{"1"}, "1", "dashboard"),
		Runs:      b([]string{"2"}, "2", "runs"),
		Evals:     b([]string{"3"}, "3", "evaluation"),
		Home:      b([]string{"n"}, "n", "recipes / new run"),

		Up:       b([]string{"up", "k"}, "↑/k", "up"),
		Down:     b([]string{"down", "j"}, "↓/j", "down"),
		Open:     b([]string{"enter"}, "enter", "open / launch"),
		Back:     b([]string{"esc"}, "esc", "back"),
		Select:   b([]string{"space"}, "space", "select for overlay and SNR"),
		ClearSel: b([]string{"backspace"}, "backspace", "clear selection"),

		FocusChart: b([]string{"tab"}, "tab", "focus next chart"),
		LogY:       b([]string{"y"}, "y", "log-Y on focused chart"),
		ClipY:      b([]string{"z"}, "z", "clip y outliers"),
		XAxis:      b([]string{"x"}, "x", "x-axis: step / tokens"),
		Smooth:     b([]string{"e"}, "e", "smoothing on/off"),
		SmoothLess: b([]string{"["}, "[", "less smoothing"),
		SmoothMore: b([]string{"]"}, "]", "more smoothing"),

		Anneal:     b([]string{"a"}, "a", "anneal now"),
		Mix:        b([]string{"m"}, "m", "switch data mix"),
		Soup:       b([]string{"s"}, "s", "make a soup"),
		Checkpoint: b([]string{"c"}, "c", "checkpoint now"),
		Evaluate:   b([]string{"v"}, "v", "evaluate now"),
		Pause:      b([]string{"space"}, "space", "pause / resume"),
		Stop:       b([]string{"X"}, "X", "stop the run"),
		TakeOver:   b([]string{"t"}, "t", "take over a headless run"),
		Rewind:     b([]string{"w"}, "w", "rewind"), // fork from a checkpoint (dlgRewind)

		Confirm:   b([]string{"enter"}, "enter", "confirm"),
		Cancel:    b([]string{"esc"}, "esc", "cancel"),
		NextField: b([]string{"tab", "down"}, "tab/↓", "next field"),
		PrevField: b([]string{"shift+tab", "up"}, "shift+tab/↑", "previous field"),
		Choose:    b([]string{"left", "right"}, "←/→", "choose"),
		// a text field edits as bubbles' textinput and readline do (its
		// cursor is always at the end): ctrl+u clears it, ctrl+w and
		// alt+backspace delete the last word
		ClearField: b([]string{"ctrl+u"}, "ctrl+u", "clear"),
		DeleteWord: b([]string{"ctrl+w", "alt+backspace"}, "ctrl+w", "delete the field's last word"),
		ScrollUp:   b([]string{"pgup", "ctrl+u"}, "pgup", "scroll a tall dialog up"),
		ScrollDown: b([]string{"pgdown", "ctrl+d"}, "pgdn", "scroll a tall dialog down"),
		TakeMix:    b([]string{"ctrl+r"}, "ctrl+r", "ratios: take the run's mix"),
		QuitStop:   b([]string{"s"}, "s", "stop the run and quit"),
		QuitDetach: b([]string{"d"}, "d", "detach: keep training headless"),
	}
}

// all lists every binding, for enabling and disabling them together.
func (k *KeyMap) all() []*key.Binding {
	return []*key.Binding{&k.Help, &k.Quit, &k.ForceQuit, &k.Dashboard, &k.Runs, &k.Evals, &k.Home,
		&k.Up, &k.Down, &k.Open, &k.Back, &k.Select, &k.ClearSel,
		&k.FocusChart, &k.LogY, &k.ClipY, &k.XAxis, &k.Smooth, &k.SmoothLess, &k.SmoothMore,
		&k.Anneal, &k.Mix, &k.Soup, &k.Checkpoint, &k.Evaluate, &k.Pause, &k.Stop, &k.TakeOver, &k.Rewind,
		&k.Confirm, &k.Cancel, &k.NextField, &k.PrevField, &k.Choose, &k.ClearField, &k.DeleteWord, &k.ScrollUp, &k.ScrollDown, &k.TakeMix, &k.QuitStop, &k.QuitDetach}
}

// ShortHelp is the help line under every view.
func (k KeyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.Confirm, k.Cancel, k.QuitStop, k.QuitDetach, k.NextField, k.Choose, k.ClearField,
		k.Anneal, k.Mix, k.Soup, k.Checkpoint, k.Evaluate, k.Pause, k.Stop, k.TakeOver, k.Rewind,
		k.Open, k.Select, k.Dashboard, k.Runs, k.Evals, k.Home, k.Help, k.Quit}
}

// FullHelp is the help page, one column per group.
func (k KeyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{
		{k.Dashboard, k.Runs, k.Evals, k.Home, k.Help, k.Quit, k.ForceQuit},
		{k.Up, k.Down, k.Open, k.Back, k.Select, k.ClearSel},
		{k.FocusChart, k.LogY, k.ClipY, k.XAxis, k.Smooth, k.SmoothLess, k.SmoothMore},
		{k.Anneal, k.Mix, k.Soup, k.Checkpoint, k.Evaluate, k.Pause, k.Stop, k.TakeOver, k.Rewind},
		{k.Confirm, k.Cancel, k.NextField, k.PrevField, k.Choose, k.ClearField, k.DeleteWord, k.ScrollUp, k.ScrollDown, k.TakeMix, k.QuitStop, k.QuitDetach},
	}
}

// helpGroupNames title FullHelp's columns.
var helpGroupNames = []string{"views", "navigate", "charts", "run actions", "dialogs"}

// updateKeys enables exactly the bindings that apply now, so the help (short
// line and full page) lists only keys that do something.
func (m *Model) updateKeys() {
	k := &m.keys
	for _, b := range k.all() {
		b.SetEnabled(false)
	}
	k.ForceQuit.SetEnabled(true)
	k.Open.SetHelp("enter", "open / launch") // on a soup's row in the runs view: its details
	if d := m.dialog; d != nil {
		k.Cancel.SetEnabled(true)
		// the scroll keys apply to a dialog taller than the window; the
		// lines that say so name them
		w, h := m.dialogSize()
		lay := m.layoutDialog(w)
		k.ScrollUp.SetEnabled(len(lay.body) > lay.room(h))
		k.ScrollDown.SetEnabled(len(lay.body) > lay.room(h))
		// in a text field ctrl+u clears it, as in a line editor; elsewhere
		// it scrolls, as ctrl+d does everywhere
		k.ClearField.SetEnabled(d.hasInput())
		k.DeleteWord.SetEnabled(d.hasInput())
		if d.hasInput() {
			k.ScrollUp.SetKeys("pgup")
		} else {
			k.ScrollUp.SetKeys("pgup", "ctrl+u")
		}
		if d.kind == dlgQuit {
			k.QuitStop.SetEnabled(true)
			if m.training() && m.quitting == quitNone && m.actionWhyNot(dlgStop) != "" {
				k.QuitStop.SetHelp("s", "quit when it has finished") // the run ends anyway
			} else {
				k.QuitStop.SetHelp("s", "stop the run and quit")
			}
			k.QuitDetach.SetEnabled(m.opts.Detach != nil)
			return
		}
		k.Confirm.SetEnabled(true)
		n := len(d.slots())
		k.NextField.SetEnabled(n > 1)
		k.PrevField.SetEnabled(n > 1)
		k.Choose.SetEnabled(len(d.mixes) > 0)
		k.TakeMix.SetEnabled(d.keptRatios())
		return
	}
	k.Help.SetEnabled(true)
	k.Quit.SetEnabled(true)
	k.Runs.SetEnabled(m.mode != modeRuns)
	k.Evals.SetEnabled(m.mode != modeEvals)
	k.Home.SetEnabled(m.mode != modeHome)
	k.Dashboard.SetEnabled(m.cur != nil && m.mode != modeDashboard)
	switch m.mode {
	case modeHome:
		k.Up.SetEnabled(true)
		k.Down.SetEnabled(true)
		// a recipe that does not parse has nothing to launch: its
		// details say what is wrong
		bad := m.homeCursor < len(m.recipes) && m.recipes[m.homeCursor].Err != nil
		k.Open.SetEnabled(len(m.recipes)+len(m.runs) > 0 && !m.launching && !bad)
		k.Back.SetEnabled(m.cur != nil)
	case modeDashboard:
		k.Back.SetEnabled(true)
		for _, b := range []*key.Binding{&k.FocusChart, &k.LogY, &k.ClipY, &k.XAxis, &k.Smooth, &k.SmoothLess, &k.SmoothMore} {
			b.SetEnabled(true)
		}
		if m.cur != nil && m.cur == m.liveData && m.training() && m.quitting == quitNone {
			// the lab's rule (lab.ActionState.WhyNot): while a soup is
			// being made it takes only pause, resume and stop, during the
			// final evaluation nothing; once a soup made on request is done
			// the run is back in the phase it left
			k.Anneal.SetEnabled(m.actionWhyNot(dlgAnneal) == "")
			k.Mix.SetEnabled(m.actionWhyNot(dlgMix) == "")
			k.Soup.SetEnabled(m.actionWhyNot(dlgSoup) == "")
			k.Checkpoint.SetEnabled(m.actionWhyNot(dlgCheckpoint) == "")
			k.Evaluate.SetEnabled(m.actionWhyNot(dlgEval) == "")
			k.Pause.SetEnabled(m.actionWhyNot(dlgPause) == "")
			if m.liveData.State == "paused" {
				k.Pause.SetHelp("space", "resume training")
			} else {
				k.Pause.SetHelp("space", "pause training")
			}
			k.Stop.SetEnabled(m.actionWhyNot(dlgStop) == "")
		}
		k.TakeOver.SetEnabled(m.cur != nil && m.cur != m.liveData && m.cur.State == "headless" && !m.training() && m.takingOver == "")
		// a fork trains here, and one run trains at a time: stop (X) the
		// training one first
		k.Rewind.SetEnabled(m.cur != nil && m.cur.Dir != "" && !m.training() && m.cur.State != "headless" && m.takingOver == "")
	case modeRuns:
		rows := m.runRows()
		// the overlay follows the dashboard's chart settings
		for _, b := range []*key.Binding{&k.LogY, &k.XAxis, &k.Smooth, &k.SmoothLess, &k.SmoothMore} {
			b.SetEnabled(true)
		}
		k.Up.SetEnabled(true)
		k.Down.SetEnabled(true)
		k.Back.SetEnabled(true)
		k.Select.SetEnabled(len(rows) > 0)
		k.ClearSel.SetEnabled(len(m.selected) > 0)
		k.Open.SetEnabled(m.runsCursor < len(rows) && (rows[m.runsCursor].kind == rowRun || rows[m.runsCursor].soup != nil))
		switch {
		case m.runsCursor < len(rows) && rows[m.runsCursor].soup != nil:
			k.Open.SetHelp("enter", "soup details")
		case m.runsCursor < len(rows):
			k.Open.SetHelp("enter", "open its dashboard") // nothing launches here
		}
	case modeEvals:
		k.Up.SetEnabled(true)
		k.Down.SetEnabled(true)
		k.Back.SetEnabled(true)
	}
}
