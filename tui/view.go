package tui

import (
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/olmolab/olmolab/lab"
)

// redrawEvery is how often the screen follows a live run's events at most
// (twice a second): they are folded in as they come, 10 times a second, but
// drawing is what costs, and every moment the UI draws it takes a core from
// the training's parallel kernels (scripts/tui-bench.sh on two cores: 6%
// slower training at 10 redraws a second, 3% at 4, 1% at 2). Keys, dialogs
// and resizes still draw at once.
const redrawEvery = 500 * time.Millisecond

// Minimum terminal size the layout is designed for; smaller terminals get a
// note instead of a broken layout.
const (
	minWidth  = 60
	minHeight = 16
)

// View draws the whole screen: header, the current view, the notice line and
// the help line, with a dialog or the help page on top.
func (m *Model) View() tea.View {
	if m.screenDirt || m.screen == "" || time.Since(m.screenAt) >= redrawEvery {
		m.screen, m.screenAt, m.screenDirt = m.render(), time.Now(), false
	}
	v := tea.NewView(m.screen)
	v.AltScreen = true
	v.WindowTitle = "olmolab"
	if m.cur != nil {
		v.WindowTitle = "olmolab · " + m.cur.Name
	}
	return v
}

// render is the screen as a string of exactly height lines of width cells.
func (m *Model) render() string {
	w, h := m.width, m.height
	if w < minWidth || h < minHeight {
		msg := fmt.Sprintf("olmolab needs a terminal of at least %d×%d (this one is %d×%d)", minWidth, minHeight, w, h)
		// wrapped to the window, which may be narrower than the sentence
		box := m.theme.Subtle.Width(max(w, 1)).Align(lipgloss.Center).Render(msg)
		return lipgloss.Place(w, h, lipgloss.Center, lipgloss.Center, box)
	}
	notice := m.viewNotice(w)
	bodyH := h - 2 - len(notice)
	var body []string
	switch m.mode {
	case modeHome:
		body = m.viewHome(w, bodyH)
	case modeDashboard:
		body = m.viewDashboard(w, bodyH)
	case modeRuns:
		body = m.viewRuns(w, bodyH)
	case modeEvals:
		body = m.viewEvals(w, bodyH)
	}
	lines := make([]string, 0, h)
	lines = append(lines, m.viewHeader(w))
	lines = append(lines, fitLines(body, w, bodyH)...)
	lines = append(lines, notice...)
	lines = append(lines, padRight(m.shortHelpLine(w), w))
	screen := strings.Join(lines, "\n")
	if m.showHelp {
		screen = overlay(screen, m.viewHelpPage(w-4, h-2), w, h)
	}
	if m.dialog != nil {
		screen = overlay(screen, m.viewDialog(m.dialogSize()), w, h)
	}
	return screen
}

// shortHelpLine is the help line within w cells: the keys that apply, and
// what has no room cut with "…", but never the full help and quit at its end
// (cut with the rest at 80 columns, the dashboard's line did not say how to
// see the others, or how to leave).
func (m *Model) shortHelpLine(w int) string {
	var rest, tail []key.Binding
	if m.mode == modeRuns && m.dialog == nil && !m.showHelp && m.openSoup() != nil && !m.soupEscShown {
		// the soup details' title, drawn before this line, gave up its
		// "esc: back to the overlay" on a narrow window: the help line
		// says it, first
		rest = append(rest, key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "back to the overlay")))
	}
	for _, b := range m.keys.ShortHelp() {
		if !b.Enabled() {
			continue
		}
		if b.Help() == m.keys.Help.Help() || b.Help() == m.keys.Quit.Help() {
			tail = append(tail, b)
			continue
		}
		if b.Help() == m.keys.Pause.Help() && m.cur != nil && m.cur == m.liveData && m.liveData.State == "paused" {
			// paused, resuming is what is asked next: first, where a
			// narrow line cuts the actions after a, m, s, c, v
			rest = append([]key.Binding{b}, rest...)
			continue
		}
		rest = append(rest, b)
	}
	h := m.help
	h.SetWidth(0)
	tailView := h.ShortHelpView(tail)
	if tailView == "" || len(rest) == 0 {
		h.SetWidth(w)
		return h.ShortHelpView(append(rest, tail...))
	}
	sep := h.Styles.ShortSeparator.Inline(true).Render(h.ShortSeparator)
	h.SetWidth(w - lipgloss.Width(sep+tailView))
	restView := h.ShortHelpView(rest)
	if restView == "" {
		return tailView
	}
	return restView + sep + tailView
}

// fitLines pads or cuts lines to exactly h lines of w cells.
func fitLines(lines []string, w, h int) []string {
	out := make([]string, 0, h)
	for i := 0; i < h; i++ {
		if i < len(lines) {
			out = append(out, padRight(lines[i], w))
		} else {
			out = append(out, strings.Repeat(" ", w))
		}
	}
	return out
}

func truncate(s string, w int) string {
	if w <= 0 {
		return ""
	}
	return ansi.Truncate(s, w, "…")
}

// truncateMiddle cuts plain text s to w cells in its middle, keeping its
// start and end: runs of one recipe differ only at the end of their names
// ("tiny-20261129-024924", "tiny-20261129-024935"), which truncate cuts off.
func truncateMiddle(s string, w int) string {
	if ansi.StringWidth(s) <= w {
		return s
	}
	if w <= 2 {
		return truncate(s, w)
	}
	head := (w - 1) / 2
	tail := w - 1 - head
	return ansi.Truncate(s, head, "") + "…" + ansi.TruncateLeft(s, ansi.StringWidth(s)-tail, "")
}

// overlay draws box centred on top of screen.
func overlay(screen, box string, w, h int) string {
	bw, bh := lipgloss.Width(box), lipgloss.Height(box)
	x, y := max((w-bw)/2, 0), max((h-bh)/2, 0)
	c := lipgloss.NewCanvas(w, h)
	c.Compose(lipgloss.NewCompositor(lipgloss.NewLayer(screen), lipgloss.NewLayer(box).X(x).Y(y).Z(1)))
	return c.Render()
}

func (m *Model) viewHeader(w int) string {
	t := m.theme
	tabs := []struct {
		md          mode
		k, n, short string
	}{{modeDashboard, "1", "dashboard", "dash"}, {modeRuns, "2", "runs", "runs"}, {modeEvals, "3", "evaluation", "eval"}, {modeHome, "n", "recipes", "recipes"}}
	left := func(short bool) string {
		var parts []string
		for _, tb := range tabs {
			label := tb.k + " " + tb.n
			if short {
				label = tb.k + " " + tb.short
			}
			if tb.md == m.mode {
				parts = append(parts, t.Selected.Render(" "+label+" "))
			} else if tb.md == modeDashboard && m.cur == nil {
				parts = append(parts, t.Faint.Render(" "+label+" "))
			} else {
				parts = append(parts, t.Subtle.Render(" "+label+" "))
			}
		}
		return t.Heading.Render(" olmolab ") + strings.Join(parts, "")
	}
	l := left(false)
	if m.cur == nil {
		return padRight(l, w)
	}
	// the run's state whole, then its name (cut in its middle): where the
	// tabs leave no room for the state and a few cells of name, they take
	// their short names (at 60 columns the state read "● a…")
	st := m.cur.displayState()
	state := t.State(st).Render("● " + st)
	const nameMin = 8
	if w-lipgloss.Width(l)-1 < lipgloss.Width(state)+1+nameMin+1 {
		l = left(true)
	}
	room := w - lipgloss.Width(l) - 1
	right := state + " "
	if nameRoom := room - lipgloss.Width(state) - 2; nameRoom >= nameMin {
		right += t.Text.Render(truncateMiddle(m.cur.Name, nameRoom)) + " "
	}
	if lipgloss.Width(right) > room {
		right = truncate(right, max(room, 0))
	}
	gap := w - lipgloss.Width(l) - lipgloss.Width(right)
	return l + strings.Repeat(" ", max(gap, 0)) + right
}

// viewNotice is the notice line: the session's latest notice or the run's
// own latest message, on one line, or two where it is longer than the
// window.
func (m *Model) viewNotice(w int) []string {
	t := m.theme
	msg := m.notice
	st := t.Subtle
	if !m.noticeOK {
		st = t.Error
	}
	style := func(d *runData) lipgloss.Style {
		switch d.MessageKind {
		case "warning":
			return t.Warning
		case "error":
			return t.Error
		case "spike":
			return t.Spike
		case "done":
			if s := d.State; s == "failed" || s == "diverged" || s == "crashed" {
				return t.Error
			}
		}
		return t.Subtle
	}
	shownAt := m.noticeAt
	// the run's own latest message replaces a notice older than it
	if m.cur != nil && m.cur.Message != "" && (msg == "" || m.cur.MessageTime.After(m.noticeAt)) {
		msg, st, shownAt = m.cur.Message, style(m.cur), m.cur.MessageTime
	}
	// While another run is open, the news of the run training in this
	// session that a person must not miss (a spike, a warning, an error,
	// its end) comes here too, named: it was seen only on its own
	// dashboard, once opened again.
	if l := m.liveData; l != nil && l != m.cur && l.Message != "" && (msg == "" || l.MessageTime.After(shownAt)) {
		switch l.MessageKind {
		case lab.EvSpike, lab.EvWarning, lab.EvError, lab.EvDone:
			msg, st = l.Name+": "+l.Message, style(l)
		}
	}
	// an error's HINT comes on a line of its own, which broke the frame by
	// a line: joined. What does not fit one line takes a second (the view
	// above gives it up), so the end of a message, where a stopped run's
	// directory to resume or an anneal's last step is, is not cut; what
	// does not fit two is cut.
	msg = strings.ReplaceAll(strings.TrimRight(msg, "\n"), "\n", " · ")
	lines := wrapText(msg, w-2)
	if len(lines) > 2 {
		lines = []string{lines[0], truncate(strings.Join(lines[1:], " "), w-2)}
	}
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = padRight(st.Render(" "+l), w)
	}
	return out
}

// viewHelpPage is the full help, generated from the key table: every enabled
// binding of the current view, group by group, flowed into as many columns
// as the height needs.
func (m *Model) viewHelpPage(w, h int) string {
	t := m.theme
	inner := max(w-4, 10) // the box's border and padding
	rows := max(h-2-4, 3) // its border, the title and the foot, with a blank line each
	var blocks [][]string
	for i, g := range m.keys.FullHelp() {
		kw := 0
		var bs []key.Binding
		for _, b := range g {
			if b.Enabled() {
				bs = append(bs, b)
				kw = max(kw, lipgloss.Width(b.Help().Key))
			}
		}
		if len(bs) == 0 {
			continue
		}
		block := []string{t.Heading.Render(helpGroupNames[i])}
		for _, b := range bs {
			block = append(block, truncate(t.Key.Render(padRight(b.Help().Key, kw))+"  "+t.Text.Render(b.Help().Desc), inner))
		}
		blocks = append(blocks, block)
	}
	// the groups flowed into columns as tall as the box allows; where those
	// are wider than the box (60 columns) into taller ones, down to one,
	// which then scrolls: side by side, the run actions fell off the right
	// edge at 60×16
	flow := func(colH int) (cols [][]string, width int) {
		var col []string
		for _, b := range blocks {
			if len(col) > 0 && len(col)+1+len(b) > colH {
				cols, col = append(cols, col), nil
			}
			if len(col) > 0 {
				col = append(col, "")
			}
			col = append(col, b...)
		}
		if len(col) > 0 {
			cols = append(cols, col)
		}
		for i, c := range cols {
			if i > 0 {
				width += 4
			}
			cw := 0
			for _, l := range c {
				cw = max(cw, lipgloss.Width(l))
			}
			width += cw
		}
		return cols, width
	}
	cols, width := flow(max(rows, 6))
	for colH := max(rows, 6) + 1; width > inner && len(cols) > 1; colH++ {
		cols, width = flow(colH)
	}
	var rendered []string
	for i, c := range cols {
		st := lipgloss.NewStyle()
		if i < len(cols)-1 {
			st = st.PaddingRight(4)
		}
		rendered = append(rendered, st.Render(strings.Join(c, "\n")))
	}
	content := strings.Split(lipgloss.JoinHorizontal(lipgloss.Top, rendered...), "\n")
	foot := "Keys that do not apply right now are left out. ? or esc closes."
	m.helpLines = len(content)
	if len(content) > rows {
		// every line as wide as the widest, or as the foot at its longest,
		// so the box keeps its width as it scrolls
		const scrollFoot = " more: ↑/↓ pgup/pgdn · esc closes"
		n := len(content)
		cw := min(lipgloss.Width(fmt.Sprintf("↑ %d · ↓ %d", n, n)+scrollFoot), inner)
		for _, l := range content {
			cw = max(cw, lipgloss.Width(l))
		}
		for i, l := range content {
			content[i] = padRight(l, cw)
		}
		m.helpTop = max(min(m.helpTop, len(content)-rows), 0)
		above, below := m.helpTop, len(content)-rows-m.helpTop
		content = content[m.helpTop : m.helpTop+rows]
		var more []string
		if above > 0 {
			more = append(more, fmt.Sprintf("↑ %d", above))
		}
		if below > 0 {
			more = append(more, fmt.Sprintf("↓ %d", below))
		}
		foot = strings.Join(more, " · ") + scrollFoot
	}
	return m.theme.Dialog.Render(t.Heading.Render("olmolab keys — "+m.mode.String()) + "\n\n" + strings.Join(content, "\n") + "\n\n" +
		t.Subtle.Render(truncate(foot, inner)))
}

// dialogSize is the open dialog's box: at most 76 cells wide, and as tall
// as the screen less its header and key lines.
func (m *Model) dialogSize() (w, h int) { return min(m.width-4, 76), m.height - 2 }

// dialogLayout is the open dialog's text, w cells wide and wrapped, never
// cut: its title, its body (what it will do, its inputs, an error) and its
// key line; focus is the body line of the focused input, -1 when none, and
// errAt the body line its error starts at, -1 when none.
type dialogLayout struct {
	title, body, help []string
	focus, errAt      int
}

func (m *Model) layoutDialog(w int) dialogLayout {
	t := m.theme
	d := m.dialog
	inner := w - 4
	var lines []string
	add := func(st lipgloss.Style, s string) {
		for _, l := range wrapText(s, inner) {
			lines = append(lines, st.Render(l))
		}
	}
	lay := dialogLayout{focus: -1, errAt: -1}
	add(t.Heading, m.dialogTitle(d))
	lay.title, lines = lines, nil
	for _, l := range m.dialogBody(d) {
		add(t.Text, l)
	}
	focus := d.focused()
	if len(d.fields) > 0 || len(d.mixes) > 0 {
		lines = append(lines, "")
	}
	// an input line: marker, label, value, and its hint after it when there
	// is room, else wrapped on the lines below, under the value
	const valueCol = 14
	input := func(indent, label, val string, st lipgloss.Style, focused bool, hint string) {
		mark := "  "
		if focused {
			mark = t.Accent.Render("› ")
			lay.focus = len(lines)
		}
		head := indent + mark + t.Subtle.Render(padRight(label, valueCol-2)) + st.Render(val)
		if hint == "" {
			lines = append(lines, truncate(head, inner))
			return
		}
		if lipgloss.Width(head)+2+lipgloss.Width(hint) <= inner {
			lines = append(lines, head+"  "+t.Faint.Render(hint))
			return
		}
		lines = append(lines, truncate(head, inner))
		pad := strings.Repeat(" ", len(indent)+valueCol)
		for _, l := range wrapText(pad+hint, inner) {
			lines = append(lines, pad+t.Faint.Render(strings.TrimLeft(l, " ")))
		}
	}
	fieldLine := func(indent string, f *field) {
		val, st := f.value, t.Text
		if focus.f == f {
			val += "▏"
			st = t.Accent
			// typing goes to the field's end: a value wider than its
			// column shows that end, cut at its start, not its first
			// cells with the cursor and what was typed out of sight
			if avail := inner - len(indent) - valueCol; avail > 1 && ansi.StringWidth(val) > avail {
				val = "…" + ansi.TruncateLeft(val, ansi.StringWidth(val)-(avail-1), "")
			}
		}
		input(indent, f.label, val, st, focus.f == f, d.ratioHint(f))
	}
	for _, f := range d.fields {
		fieldLine("", f)
	}
	if len(d.mixes) > 0 {
		c := d.mixes[d.mixIdx]
		st := t.Text
		if focus.picker {
			st = t.Accent
		}
		label := "mix"
		if d.kind == dlgMix {
			label = "target mix"
		}
		hint := ""
		if !c.edit && c.mix != nil {
			hint = mixLine(c.mix)
		}
		input("", label, "◀ "+c.name+" ▶", st, focus.picker, hint)
		if c.edit {
			for _, f := range d.ratios {
				fieldLine("  ", f)
			}
		}
	}
	if d.err != "" {
		lines = append(lines, "")
		lay.errAt = len(lines)
		for _, l := range strings.Split(d.err, "\n") {
			add(t.Error, l)
		}
	}
	lay.body, lines = lines, nil
	add(t.Subtle, m.dialogHelp())
	lay.help = lines
	return lay
}

// room is how many body lines fit a box h lines tall: the box's border, the
// title, the key line and a line on each side of the body (blank, or the
// hint that the body goes on above or below).
func (lay dialogLayout) room(h int) int {
	return max(h-2-len(lay.title)-len(lay.help)-2, 1)
}

// top is the first body line shown in a box h lines tall, scrolled to line
// top as far as the body allows.
func (lay dialogLayout) top(h, top int) int {
	return max(min(top, len(lay.body)-lay.room(h)), 0)
}

// viewDialog draws the open dialog, w cells wide and at most h lines tall:
// its text is wrapped to the width, never cut, so every word of what it will
// do is there; a body too tall for the window scrolls between the title and
// the key line, which stay, with a line that says how much is above and
// below and which key shows it.
func (m *Model) viewDialog(w, h int) string {
	t := m.theme
	lay := m.layoutDialog(w)
	room := lay.room(h)
	top := lay.top(h, m.dialog.scroll)
	body := lay.body
	above, below := "", ""
	if len(body) > room {
		end := min(top+room, len(body))
		if top > 0 {
			above = t.Faint.Render(fmt.Sprintf("▲ %d more above · %s", top, m.keys.ScrollUp.Help().Key))
		}
		if n := len(body) - end; n > 0 {
			below = t.Faint.Render(fmt.Sprintf("▼ %d more below · %s", n, m.keys.ScrollDown.Help().Key))
		}
		body = body[top:end]
	}
	lines := append([]string{}, lay.title...)
	lines = append(lines, above)
	lines = append(lines, body...)
	lines = append(lines, below)
	lines = append(lines, lay.help...)
	return t.Dialog.Width(w).Render(strings.Join(lines, "\n"))
}

// dialogPage is how far a scroll key moves the open dialog's body: the lines
// in view less one, kept on screen for context.
func (m *Model) dialogPage() int {
	w, h := m.dialogSize()
	return max(m.layoutDialog(w).room(h)-1, 1)
}

// scrollDialog moves the open dialog's body by delta lines, or, with
// delta 0, just far enough that line (a body line; -1: none) is in view;
// then keeps the scroll within the body.
func (m *Model) scrollDialog(delta, line int) {
	d := m.dialog
	w, h := m.dialogSize()
	lay := m.layoutDialog(w)
	room := lay.room(h)
	top := lay.top(h, d.scroll) + delta
	if line >= 0 {
		top = min(max(top, line-room+1), line)
	}
	d.scroll = lay.top(h, top)
}

// dialogHelp is the dialog's key line, from the same key table.
func (m *Model) dialogHelp() string {
	var parts []string
	for _, b := range []key.Binding{m.keys.Confirm, m.keys.QuitStop, m.keys.QuitDetach, m.keys.Cancel, m.keys.NextField, m.keys.Choose, m.keys.TakeMix} {
		if b.Enabled() {
			parts = append(parts, b.Help().Key+" "+b.Help().Desc)
		}
	}
	return strings.Join(parts, " · ")
}
