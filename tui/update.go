package tui

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/olmolab/olmolab/lab"
	"github.com/olmolab/olmolab/tui/theme"
)

// Update routes each message to its handler, then recomputes which keys apply.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	var cmd tea.Cmd
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.handleResize(msg)
	case tea.BackgroundColorMsg:
		m.handleBackground(msg)
	case tea.KeyPressMsg:
		cmd = m.handleKey(msg)
	case runEventsMsg:
		cmd = m.handleRunEvents(msg)
	case tickMsg:
		cmd = m.handleTick(msg)
	case launchedMsg:
		cmd = m.handleLaunched(msg)
	case runLoadedMsg:
		m.handleRunLoaded(msg)
	case runsScannedMsg:
		cmd = m.handleRunsScanned(msg)
	case overlayLoadedMsg:
		m.handleOverlayLoaded(msg)
	case evalsLoadedMsg:
		m.evals = msg.data
	case detachedMsg:
		cmd = m.handleDetached(msg)
	case headlessExitedMsg:
		cmd = m.handleHeadlessExited(msg)
	case liveReloadedMsg:
		m.handleLiveReloaded(msg)
	case soupBaseMsg:
		if m.soupBases == nil {
			m.soupBases = map[string]*soupBase{}
		}
		m.soupBases[msg.dir] = msg.base
	}
	m.updateKeys()
	if ev, ok := msg.(runEventsMsg); !ok || ev.done {
		m.screenDirt = true // a key, a resize, the clock, the end of a run: draw now
	}
	return m, cmd
}

func (m *Model) handleResize(msg tea.WindowSizeMsg) {
	m.width, m.height = msg.Width, msg.Height
	m.help.SetWidth(m.width)
	if m.dialog != nil && m.width >= minWidth && m.height >= minHeight {
		// rewrapped, the dialog's focused input stays in view
		w, _ := m.dialogSize()
		m.scrollDialog(0, m.layoutDialog(w).focus)
	}
}

func (m *Model) handleBackground(msg tea.BackgroundColorMsg) {
	m.theme = theme.New(msg.IsDark(), m.opts.NoColor)
	m.applyTheme()
}

func (m *Model) setNotice(ok bool, format string, args ...any) {
	m.notice, m.noticeOK, m.noticeAt = fmt.Sprintf(format, args...), ok, m.opts.Now()
}

// handleKey dispatches a key press: dialogs and the help page take keys
// first, then the bindings of the current view.
func (m *Model) handleKey(msg tea.KeyPressMsg) tea.Cmd {
	k := m.keys
	if key.Matches(msg, k.ForceQuit) {
		if m.dialog != nil && m.dialog.kind == dlgQuit {
			return m.quitStop() // a second ctrl+c: stop and quit
		}
		m.dialog, m.showHelp = nil, false
		return m.requestQuit()
	}
	if m.dialog != nil {
		return m.handleDialogKey(msg)
	}
	if m.showHelp {
		switch msg.String() {
		case "up", "k":
			m.helpTop--
		case "down", "j":
			m.helpTop++
		case "pgup", "ctrl+u":
			m.helpTop -= max(m.height-8, 1)
		case "pgdown", "ctrl+d":
			m.helpTop += max(m.height-8, 1)
		}
		m.helpTop = max(min(m.helpTop, m.helpLines), 0) // drawing clamps it to the page
		if key.Matches(msg, k.Help, k.Back, k.Quit) || msg.String() == "esc" || msg.String() == "q" {
			m.showHelp = false
		}
		return nil
	}
	switch {
	case key.Matches(msg, k.Help):
		m.showHelp, m.helpTop = true, 0
	case key.Matches(msg, k.Quit):
		return m.requestQuit()
	case key.Matches(msg, k.Dashboard):
		if m.cur != nil {
			m.mode = modeDashboard
		}
	case key.Matches(msg, k.Runs):
		m.mode = modeRuns
		return tea.Batch(m.scanCmd(), m.loadOverlay())
	case key.Matches(msg, k.Evals):
		m.mode = modeEvals
		return m.loadEvals()
	case key.Matches(msg, k.Home):
		m.showHome()
		return m.scanCmd()
	}
	switch m.mode {
	case modeHome:
		return m.handleHomeKey(msg)
	case modeDashboard:
		return m.handleDashboardKey(msg)
	case modeRuns:
		return m.handleRunsKey(msg)
	case modeEvals:
		return m.handleEvalsKey(msg)
	}
	return nil
}

func (m *Model) handleHomeKey(msg tea.KeyPressMsg) tea.Cmd {
	// the file under the cursor may have been fixed (or broken) since it was
	// read: enter follows what it says now
	m.refreshRecipe()
	m.updateKeys()
	k := m.keys
	n := len(m.recipes) + len(m.runs)
	switch {
	case key.Matches(msg, k.Up):
		m.homeCursor = max(m.homeCursor-1, 0)
		m.refreshRecipe()
	case key.Matches(msg, k.Down):
		m.homeCursor = min(m.homeCursor+1, n-1)
		m.refreshRecipe()
	case key.Matches(msg, k.Back):
		if m.cur != nil {
			m.mode = modeDashboard
		}
	case key.Matches(msg, k.Open):
		if m.homeCursor < len(m.recipes) {
			e := m.recipes[m.homeCursor] // one that does not parse has enter disabled
			if m.training() {
				// say so now, not after the overrides are typed in
				m.setNotice(false, "one run trains at a time here, and %s is: stop it (X) or detach it (q, d) first", m.live.Name())
				return nil
			}
			m.showDialog(&dialog{kind: dlgLaunch, title: "Launch " + e.Name, recipe: &e,
				fields: []*field{{label: "--set", hint: "overrides, e.g. max_tokens=200K anneal.auto_at=150K"},
					{label: "name", hint: "run directory (default: recipe name and time)"}}})
			return nil
		}
		if i := m.homeCursor - len(m.recipes); i < len(m.runs) {
			return m.openRun(m.runs[i].Dir)
		}
	}
	return nil
}

// handleChartKey applies the chart settings keys (dashboard and overlay);
// the overlay is a loss chart, so log-Y there is the loss chart's.
func (m *Model) handleChartKey(msg tea.KeyPressMsg) bool {
	k := m.keys
	switch {
	case key.Matches(msg, k.FocusChart):
		m.focus = (m.focus + 1) % 3
	case key.Matches(msg, k.LogY):
		f := m.focus
		if m.mode == modeRuns {
			f = chartLoss
		}
		m.logY[f] = !m.logY[f]
	case key.Matches(msg, k.ClipY):
		m.clipY[m.focus] = !m.clipY[m.focus] // the dashboard's only: the overlay has no such key
	case key.Matches(msg, k.XAxis):
		m.byTokens = !m.byTokens
	case key.Matches(msg, k.Smooth):
		m.smoothOn = !m.smoothOn
	case key.Matches(msg, k.SmoothLess):
		m.smoothOn, m.smoothIdx = true, max(m.smoothIdx-1, 0)
	case key.Matches(msg, k.SmoothMore):
		m.smoothOn, m.smoothIdx = true, min(m.smoothIdx+1, len(smoothLevels)-1)
	default:
		return false
	}
	return true
}

func (m *Model) handleDashboardKey(msg tea.KeyPressMsg) tea.Cmd {
	k := m.keys
	if m.handleChartKey(msg) {
		return nil
	}
	switch {
	case key.Matches(msg, k.Back):
		m.showHome()
	case key.Matches(msg, k.Anneal):
		m.openDialog(dlgAnneal)
	case key.Matches(msg, k.Mix):
		m.openDialog(dlgMix)
	case key.Matches(msg, k.Soup):
		m.openDialog(dlgSoup)
	case key.Matches(msg, k.Checkpoint):
		m.openDialog(dlgCheckpoint)
	case key.Matches(msg, k.Evaluate):
		m.openDialog(dlgEval)
	case key.Matches(msg, k.Pause):
		m.openDialog(dlgPause)
	case key.Matches(msg, k.Stop):
		m.openDialog(dlgStop)
	case key.Matches(msg, k.TakeOver):
		m.openDialog(dlgTakeOver)
	case key.Matches(msg, k.Rewind):
		m.openDialog(dlgRewind)
	default:
		m.refuseActionKey(msg)
	}
	return nil
}

// refuseActionKey answers a run action key that does not apply now with why,
// on the notice line. Such a key is left out of the help line, but pressed
// anyway (from habit, or as the run moved on: `s` just after an anneal began)
// it did nothing at all, which under pressure reads as a key not taken.
func (m *Model) refuseActionKey(msg tea.KeyPressMsg) {
	k := m.keys
	for _, a := range []struct {
		b    key.Binding
		kind dialogKind
	}{{k.Anneal, dlgAnneal}, {k.Mix, dlgMix}, {k.Soup, dlgSoup}, {k.Checkpoint, dlgCheckpoint},
		{k.Evaluate, dlgEval}, {k.Pause, dlgPause}, {k.Stop, dlgStop}} {
		if a.b.Enabled() || !slices.Contains(a.b.Keys(), msg.String()) {
			continue
		}
		why := ""
		switch d := m.cur; {
		case d == nil:
			return
		case d == m.liveData && m.training():
			why = m.actionWhyNot(a.kind)
		case d.State == "headless" && !d.Ended:
			why = "it trains headless"
			if k.TakeOver.Enabled() {
				why += "; " + k.TakeOver.Help().Key + " takes it over"
			}
		case d.Ended:
			why = "the run has ended (" + d.State + ")"
		default:
			why = "it is not training in this session"
		}
		if why != "" {
			m.setNotice(false, "%s (%s) does not apply now: %s", a.b.Help().Key, a.b.Help().Desc, why)
		}
		return
	}
}

func (m *Model) handleRunsKey(msg tea.KeyPressMsg) tea.Cmd {
	k := m.keys
	rows := m.runRows()
	if m.handleChartKey(msg) {
		return nil
	}
	switch {
	case key.Matches(msg, k.Up):
		m.runsCursor, m.runsMoved = max(m.runsCursor-1, 0), true
		return m.loadOverlay() // with nothing selected, it shows the cursor's
	case key.Matches(msg, k.Down):
		m.runsCursor, m.runsMoved = min(m.runsCursor+1, len(rows)-1), true
		return m.loadOverlay()
	case key.Matches(msg, k.Back):
		switch {
		case m.soupOpen != "":
			m.soupOpen = ""
		case m.cur != nil:
			m.mode = modeDashboard
		default:
			m.showHome()
		}
	case key.Matches(msg, k.Select):
		if m.runsCursor < len(rows) && rows[m.runsCursor].curveDir != "" {
			r := rows[m.runsCursor]
			if m.selected[r.curveDir] {
				delete(m.selected, r.curveDir)
			} else {
				m.selected[r.curveDir] = true
			}
			return m.loadOverlay()
		}
	case key.Matches(msg, k.ClearSel):
		m.selected = map[string]bool{}
		return m.loadOverlay() // the cursor's item, now
	case key.Matches(msg, k.Open):
		if m.runsCursor >= len(rows) {
			return nil
		}
		// a run opens its dashboard; a soup, one of its ingredients or the
		// averaged soup, the soup's details in place of the overlay
		if r := rows[m.runsCursor]; r.kind == rowRun {
			return m.openRun(r.run.Dir)
		} else if r.soup != nil {
			m.soupOpen = r.soup.Dir
			return m.loadSoupBase(r.soup.Dir)
		}
	}
	return nil
}

func (m *Model) handleEvalsKey(msg tea.KeyPressMsg) tea.Cmd {
	k := m.keys
	switch {
	case key.Matches(msg, k.Up):
		m.evalScroll = max(m.evalScroll-1, 0)
	case key.Matches(msg, k.Down):
		m.evalScroll++
	case key.Matches(msg, k.Back):
		if m.cur != nil {
			m.mode = modeDashboard
		} else {
			m.showHome()
		}
	}
	return nil
}

func (m *Model) handleDialogKey(msg tea.KeyPressMsg) tea.Cmd {
	d, k := m.dialog, m.keys
	switch {
	case key.Matches(msg, k.Cancel):
		m.dialog = nil
		return nil
	case key.Matches(msg, k.QuitStop):
		m.dialog = nil
		return m.quitStop()
	case key.Matches(msg, k.QuitDetach):
		m.dialog = nil
		return m.quitDetach()
	case key.Matches(msg, k.Confirm):
		cmd := m.confirmDialog()
		if m.dialog == d && d.err != "" {
			m.updateKeys()
			// show why not: the error ends the body, from its first line
			w, _ := m.dialogSize()
			lay := m.layoutDialog(w)
			m.scrollDialog(0, len(lay.body)-1)
			m.scrollDialog(0, lay.errAt)
		}
		return cmd
	case key.Matches(msg, k.ClearField):
		d.clearField()
	case key.Matches(msg, k.DeleteWord):
		d.deleteWord()
	case key.Matches(msg, k.ScrollUp):
		m.scrollDialog(-m.dialogPage(), -1)
		return nil
	case key.Matches(msg, k.ScrollDown):
		m.scrollDialog(m.dialogPage(), -1)
		return nil
	case key.Matches(msg, k.TakeMix):
		d.takeRunMix()
	case key.Matches(msg, k.NextField):
		d.move(1)
	case key.Matches(msg, k.PrevField):
		d.move(-1)
	case msg.String() == "left":
		d.choose(-1)
	case msg.String() == "right":
		d.choose(1)
	case msg.String() == "backspace":
		d.backspace()
	case msg.Text != "" && d.hasInput():
		d.typeText(msg.Text)
	}
	if m.dialog == d {
		// what a key changed is the focused input: keep it in view, measured
		// with the key line the key leaves (a choice that adds fields adds
		// "tab/↓ next field" to it, a line at 60 columns)
		m.updateKeys()
		w, _ := m.dialogSize()
		m.scrollDialog(0, m.layoutDialog(w).focus)
	}
	return nil
}

// confirmDialog carries out what the dialog announced.
func (m *Model) confirmDialog() tea.Cmd {
	d := m.dialog
	switch d.kind {
	case dlgQuit:
		return nil // s, d or esc
	case dlgLaunch:
		return m.launch(d)
	case dlgTakeOver:
		m.dialog = nil
		return m.takeOver()
	case dlgRewind:
		return m.rewind(d)
	}
	if m.live == nil {
		m.dialog = nil
		return nil
	}
	if m.actionWhyNot(d.kind) != "" {
		return nil // the dialog says why; esc closes it
	}
	a, err := m.dialogAction(d)
	if err != nil {
		d.err = err.Error()
		return nil
	}
	if err := m.live.Do(a); err != nil {
		d.err = err.Error()
		return nil
	}
	if a.Kind == lab.ActCheckpoint && m.liveData != nil {
		m.liveData.awaitCheckpoint = true // its report is the next checkpoint event
	}
	if a.Kind == lab.ActSoup && m.liveData != nil {
		// what is sent after it waits behind it: the lab answers that
		// during the soup, which takes only pause, resume and stop
		m.liveData.soupAsked = true
	}
	m.dialog = nil
	what := strings.ReplaceAll(string(a.Kind), "_", " ")
	if cur := m.liveData; cur != nil && cur.State == "paused" {
		// no step boundary comes while paused: the lab applies it now
		m.setNotice(true, "%s requested: the run is paused at step %d, so it applies now", what, cur.Last.Step)
	} else {
		m.setNotice(true, "%s requested: it applies at the next step boundary", what)
	}
	m.log.Info("action", "kind", a.Kind, "tokens", a.Tokens, "k", a.K, "mix", mixLine(a.Mix))
	return nil
}

// runName is what a run directory name may hold.
var runName = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// launch parses the recipe with the dialog's overrides and starts the run.
func (m *Model) launch(d *dialog) tea.Cmd {
	if m.live != nil {
		select {
		case <-m.live.Done():
		default:
			d.err = "a run is already training in this session: stop it (X) or quit and detach it first"
			return nil
		}
	}
	e := d.recipe
	sets := strings.Fields(d.fields[0].value)
	rec, err := lab.ParseRecipe(e.Path, e.YAML, sets)
	if err != nil {
		d.err = err.Error()
		return nil
	}
	name := strings.TrimSpace(d.fields[1].value)
	if name != "" && (!runName.MatchString(name) || name == "." || name == "..") {
		d.err = fmt.Sprintf("name: %q is not a directory name (letters, digits, . _ -)", name)
		return nil
	}
	m.dialog = nil
	m.launching, m.launchPath = true, e.Path
	m.setNotice(true, "starting %s: checking data and memory…", rec.Name)
	p := lab.RunParams{Recipe: rec, RunsDir: m.opts.RunsDir, Name: name, Evaluator: m.opts.Evaluator}
	return m.startCmd(p, false)
}

func (m *Model) startCmd(p lab.RunParams, resume bool) tea.Cmd {
	ctx, cancel := context.WithCancel(context.Background())
	start := m.opts.StartRun
	m.liveCancel = cancel
	return func() tea.Msg {
		r, err := start(ctx, p)
		if err != nil {
			cancel()
		}
		return launchedMsg{run: r, resume: resume, err: err}
	}
}

func (m *Model) handleLaunched(msg launchedMsg) tea.Cmd {
	m.launching = false
	if msg.err != nil {
		if !msg.resume {
			m.startErrPath, m.startErr = m.launchPath, msg.err.Error()
			// the first line here, the whole error beside the recipe
			first, _, _ := strings.Cut(msg.err.Error(), "\n")
			m.setNotice(false, "could not start: %s", first)
		} else {
			m.setNotice(false, "could not start: %v", msg.err)
		}
		m.log.Error("start", "err", msg.err)
		return nil
	}
	if !msg.resume && m.startErrPath == m.launchPath {
		m.startErrPath, m.startErr = "", ""
	}
	r := msg.run
	m.live = r
	m.liveGen++
	m.liveData = newRunData(r.Name(), r.Dir(), r.Recipe())
	m.liveDropped, m.reloading, m.reloadBuf = 0, false, nil
	// a resumed run's past is in its directory, and it may have written
	// more already: it is read back once the first events arrive, up to
	// the newest of them (the lab writes each event before publishing it)
	m.needReload = msg.resume
	m.cur, m.follow = m.liveData, nil
	m.mode = modeDashboard
	m.setNotice(true, "training %s → %s", r.Name(), r.Dir())
	m.log.Info("started", "run", r.Name(), "dir", r.Dir())
	return tea.Batch(waitEvents(r, m.liveGen, m.opts.Frame, time.Time{}), m.scanCmd())
}

// handleRunEvents folds a frame's events into the live run and re-arms the
// bridge until the run has ended.
func (m *Model) handleRunEvents(msg runEventsMsg) tea.Cmd {
	if msg.gen != m.liveGen || m.live == nil {
		return nil
	}
	var reload tea.Cmd
	switch {
	case len(msg.events) > 0 && (msg.dropped > m.liveDropped || m.needReload):
		// the queue dropped step events (the UI fell behind, e.g. the
		// terminal was suspended): the charts would have gaps, so read the
		// run back from its files, up to the newest event here
		m.liveDropped, m.needReload = msg.dropped, false
		reload = m.reloadLive(msg.events[len(msg.events)-1].Time)
	case m.reloading:
		m.reloadBuf = append(m.reloadBuf, msg.events...)
	}
	evalSeen, news := false, false
	d := m.liveData
	for _, e := range msg.events {
		was, wasAt := d.Message, d.MessageTime
		d.apply(e)
		if e.Type == lab.EvEval {
			evalSeen = true
		}
		if d.Message != was || !d.MessageTime.Equal(wasAt) {
			// what a run says as it starts, before the session's
			// "training … → dir" notice, which hid it for good: the
			// recipe's warnings, the checkpoint it resumed from, the run
			// it loaded (a take-over, a resume, a stage-2 recipe)
			news = e.Type == lab.EvWarning || e.Type == lab.EvError || e.Type == lab.EvResumed || e.Kind() == lab.ChangeLoadPath
		}
	}
	if news && d.MessageTime.Before(m.noticeAt) {
		m.noticeAt = time.Time{}
	}
	if m.dialog != nil {
		m.dialog.followMix(m.liveData.runMix())
	}
	if !msg.done {
		cmds := []tea.Cmd{waitEvents(m.live, m.liveGen, m.opts.Frame, msg.at), reload}
		if evalSeen && m.mode == modeEvals {
			cmds = append(cmds, m.loadEvals())
		}
		return tea.Batch(cmds...)
	}
	// the run has ended (the lab has removed its lock)
	r := m.live
	if !m.liveData.Ended {
		m.liveData.Ended = true
	}
	m.log.Info("ended", "run", r.Name(), "state", m.liveData.State)
	switch {
	case m.quitting != quitNone && !resumable(m.liveData.State):
		// it ended on its own before the stop or the detach took
		// (finished during its final evaluation, which the lab lets end)
		m.exitMsg = fmt.Sprintf("run %s %s at step %d", r.Name(), m.liveData.State, m.liveData.endStep())
		if m.liveData.State == "finished" {
			m.exitMsg += "; nothing to continue"
		}
		return tea.Quit
	case m.quitting == quitAfterStop:
		m.exitMsg = fmt.Sprintf("run %s %s; continue it with: olmolab --batch --resume %s", r.Name(), m.liveData.State, r.Dir())
		return tea.Quit
	case m.quitting == quitAfterDetach:
		dir, detach := r.Dir(), m.opts.Detach
		return func() tea.Msg {
			pid, err := detach(dir)
			return detachedMsg{dir: dir, pid: pid, err: err}
		}
	}
	if m.liveData.MessageKind != lab.EvDone {
		// the run's own last word (its done event: "run diverged at step 16:
		// training diverged: …", or the line that continues a stopped run)
		// says more than this, and a newer notice would hide it
		m.setNotice(true, "run %s %s", r.Name(), m.liveData.State)
	}
	cmds := []tea.Cmd{m.scanCmd(), reload}
	if m.mode == modeEvals {
		// the final evaluation may come in the frame that ends the run; and
		// whatever the frame holds, summary.json, written just before the
		// end, says whether the run ended with its recipe's soup, whose
		// scores are then the latest (an earlier frame read them as the
		// scores before the soup)
		cmds = append(cmds, m.loadEvals())
	}
	return tea.Batch(cmds...)
}

// reloadLive reads the live run back from its directory, up to until; the
// events that arrive meanwhile are kept to be folded in on top.
func (m *Model) reloadLive(until time.Time) tea.Cmd {
	m.reloadSeq++
	m.reloading, m.reloadBuf = true, nil
	gen, seq, dir := m.liveGen, m.reloadSeq, m.live.Dir()
	m.log.Info("reload", "run", m.live.Name(), "until", until)
	return func() tea.Msg {
		d, _, err := replayRun(dir, until)
		return liveReloadedMsg{gen: gen, seq: seq, data: d, err: err}
	}
}

// handleLiveReloaded puts the live run's picture read from its files in
// place of the one built from its events, with the events since on top.
func (m *Model) handleLiveReloaded(msg liveReloadedMsg) {
	if msg.gen != m.liveGen || msg.seq != m.reloadSeq || !m.reloading || m.live == nil {
		return // a newer reload is under way, or another run is live
	}
	m.reloading = false
	buf := m.reloadBuf
	m.reloadBuf = nil
	if msg.err != nil {
		m.log.Warn("reload", "err", msg.err)
		return
	}
	d, old := msg.data, m.liveData
	if rec := m.live.Recipe(); rec != nil {
		d.Recipe = rec
	}
	for _, e := range buf {
		d.apply(e)
	}
	// what was asked here is in no file: the picture replaced has it, and
	// has seen every event the files and buf hold (only steps are dropped),
	// the lab's answer included, which cleared it there
	d.soupAsked, d.awaitCheckpoint = old.soupAsked, old.awaitCheckpoint
	if old.Ended && !d.Ended {
		d.Ended, d.State = true, old.State
	}
	m.liveData = d
	if m.cur == old {
		m.cur = d
	}
	if m.dialog != nil {
		m.dialog.followMix(d.runMix())
	}
}

func (m *Model) handleDetached(msg detachedMsg) tea.Cmd {
	if msg.err != nil {
		m.exitMsg = fmt.Sprintf("could not start the headless run: %v\ncontinue it with: olmolab --batch --resume %s", msg.err, msg.dir)
		return tea.Quit
	}
	// the headless process writes the same lock once it has loaded the
	// checkpoint; written here too, so the run never looks unattended
	if err := lab.WriteLock(msg.dir, msg.pid, lab.LockHeadless); err != nil {
		m.log.Warn("lock", "err", err)
	}
	m.exitMsg = fmt.Sprintf("run %s keeps training headless (pid %d): output in %s/%s and %s; reopen olmolab to follow it",
		msg.dir, msg.pid, msg.dir, HeadlessStdout, HeadlessStderr)
	return tea.Quit
}

// requestQuit quits, asking first while a run trains in this session.
func (m *Model) requestQuit() tea.Cmd {
	if m.training() {
		m.openDialog(dlgQuit)
		return nil
	}
	return tea.Quit
}

// training says whether a run is training in this process.
func (m *Model) training() bool {
	if m.live == nil {
		return false
	}
	select {
	case <-m.live.Done():
		return false
	default:
		return true
	}
}

func (m *Model) quitStop() tea.Cmd {
	if !m.training() {
		return tea.Quit
	}
	m.dialog = nil
	if why := m.actionWhyNot(dlgStop); why != "" {
		// during its final evaluation the run finishes whatever is asked
		// (the lab would answer a stop with a warning): wait for it
		m.quitting = quitAfterStop
		m.setNotice(true, "quitting when the run has finished: %s…", why)
		return nil
	}
	m.quitting = quitAfterStop
	if err := m.live.Do(lab.Action{Kind: lab.ActStop}); err != nil {
		m.liveCancel()
	}
	m.setNotice(true, "stopping: writing a checkpoint, then quitting…")
	return nil
}

func (m *Model) quitDetach() tea.Cmd {
	if !m.training() || m.opts.Detach == nil {
		return m.quitStop()
	}
	m.quitting = quitAfterDetach
	// cancelling the run's context makes it checkpoint and end as interrupted;
	// the headless process resumes from that checkpoint
	m.liveCancel()
	m.setNotice(true, "detaching: writing a checkpoint, then handing the run to a headless process…")
	return nil
}

// openRun shows a run directory on the dashboard (the live run's own data
// when it is the live one).
func (m *Model) openRun(dir string) tea.Cmd {
	if m.liveData != nil && absPath(m.liveData.Dir) == absPath(dir) {
		m.cur, m.follow, m.mode = m.liveData, nil, modeDashboard
		return nil
	}
	m.loadingTo = dir
	return func() tea.Msg {
		d, f, err := loadRun(dir)
		return runLoadedMsg{dir: dir, data: d, follow: f, err: err}
	}
}

func (m *Model) handleRunLoaded(msg runLoadedMsg) {
	if msg.dir != m.loadingTo {
		return
	}
	m.loadingTo = ""
	if msg.err != nil {
		m.setNotice(false, "cannot read %s: %v", msg.dir, msg.err)
		return
	}
	m.cur, m.follow, m.mode = msg.data, msg.follow, modeDashboard
}

// handleTick follows a run trained elsewhere, refreshes the runs list and
// re-arms the clock.
func (m *Model) handleTick(msg tickMsg) tea.Cmd {
	cmds := []tea.Cmd{m.tick()}
	if m.cur != nil && m.cur != m.liveData && m.follow != nil && (m.cur.State == "running" || m.cur.State == "headless" || m.cur.State == "paused") {
		evs, reload := m.follow.poll()
		if reload {
			cmds = append(cmds, m.openRun(m.cur.Dir))
		} else {
			for _, e := range evs {
				m.cur.apply(e)
			}
			if st := runState(m.cur.Dir, m.cur); st != m.cur.State {
				m.cur.State = st
			}
		}
	}
	if (m.mode == modeHome || m.mode == modeRuns) && !m.scanning && time.Since(m.lastScan) >= 2*time.Second {
		cmds = append(cmds, m.scanCmd())
	}
	if m.mode == modeRuns {
		cmds = append(cmds, m.loadOverlay())
	}
	return tea.Batch(cmds...)
}

func (m *Model) scanCmd() tea.Cmd {
	m.scanning = true
	s, root := m.scanner, m.opts.RunsDir
	return func() tea.Msg { return runsScannedMsg{runs: s.scan(root, scanBudget)} }
}

// handleRunsScanned shows the list scanned, and scans again at once while
// runs are still pending, so their losses fill in as their reads finish.
func (m *Model) handleRunsScanned(msg runsScannedMsg) tea.Cmd {
	m.scanning = false
	m.lastScan = time.Now()
	// the cursors stay on their run (row): a new run comes first, the
	// newest, and pushed them onto another, which enter then opened
	homeOn, rowOn := "", ""
	if i := m.homeCursor - len(m.recipes); i >= 0 && i < len(m.runs) {
		homeOn = m.runs[i].Dir
	}
	if rows := m.runRows(); m.runsMoved && m.runsCursor < len(rows) {
		rowOn = rows[m.runsCursor].key() // not the top row the view opened on: the newest run's place
	}
	m.runs = msg.runs
	m.rowsCache = nil
	for _, r := range m.runs {
		// a damaged metrics.jsonl is said once per run and place, on the
		// message line: the list's losses leave its bad lines out
		path := filepath.Join(r.Dir, lab.MetricsFile)
		if w := r.damage.Warning(path); w != "" && m.damageSaid[path] != r.damage.Damage {
			if m.damageSaid == nil {
				m.damageSaid = map[string]lab.Damage{}
			}
			m.damageSaid[path] = r.damage.Damage
			m.setNotice(false, "%s", w)
		}
	}
	if i := slices.IndexFunc(m.runs, func(r runInfo) bool { return r.Dir == homeOn }); homeOn != "" && i >= 0 {
		m.homeCursor = len(m.recipes) + i
	}
	if i := slices.IndexFunc(m.runRows(), func(r runRow) bool { return r.key() == rowOn }); rowOn != "" && i >= 0 {
		m.runsCursor = i
	}
	m.runsCursor = max(min(m.runsCursor, len(m.runRows())-1), 0)
	if n := len(m.recipes) + len(m.runs); m.homeCursor >= n {
		m.homeCursor = max(n-1, 0)
	}
	if m.mode == modeHome {
		m.refreshRecipe() // a file fixed while the view is on screen
	}
	if pendingRuns(m.runs) {
		return m.scanCmd()
	}
	return nil
}

// loadOverlay reads the curves the overlay draws (overlayDirs): what
// their metrics.jsonl gained since the last read (the whole file for a run
// just selected, or one a resume rewrote), one read at a time.
func (m *Model) loadOverlay() tea.Cmd {
	if time.Since(m.overlayBusy) < 10*time.Second {
		return nil // the last read is still under way
	}
	from := map[string]int64{}
	dirs, _ := m.overlayDirs()
	// the curves of what the overlay no longer shows go: the cursor passes
	// over every run, and each curve is 4 bytes a step
	for d := range m.overlay {
		if !slices.Contains(dirs, d) {
			delete(m.overlay, d)
			delete(m.overlayOff, d)
		}
	}
	for _, d := range dirs {
		if m.liveData != nil && absPath(d) == absPath(m.liveData.Dir) {
			continue
		}
		from[d] = m.overlayOff[d]
	}
	if len(from) == 0 {
		return nil
	}
	m.overlayBusy = time.Now()
	return func() tea.Msg {
		out := map[string]overlayPart{}
		for d, off := range from {
			path := filepath.Join(d, lab.MetricsFile)
			st, err := os.Stat(path)
			if err != nil {
				continue
			}
			part := overlayPart{from: off, steps: &curve{lossOnly: true}}
			if st.Size() == off {
				out[d] = overlayPart{from: off, off: off}
				continue
			}
			if st.Size() < off { // rewritten by a resume
				part.from, part.reset = 0, true
			}
			part.off, err = readSteps(path, part.from, nil, func(p stepPoint) {
				part.steps.dropAfter(p.Step - 1)
				part.steps.add(p)
			})
			if err != nil {
				continue
			}
			out[d] = part
		}
		return overlayLoadedMsg{parts: out}
	}
}

func (m *Model) handleOverlayLoaded(msg overlayLoadedMsg) {
	m.overlayBusy = time.Time{}
	for d, part := range msg.parts {
		c := m.overlay[d]
		if part.reset || c == nil || m.overlayOff[d] != part.from {
			if part.from != 0 {
				continue // read from where an older curve ended: read again
			}
			c = &curve{Name: d, lossOnly: true}
			m.overlay[d] = c
		}
		n := 0
		if part.steps != nil {
			n = part.steps.len()
			if c.len() == 0 && n > 0 { // a whole file: the curve read is the curve
				part.steps.Name, part.steps.version = d, c.version
				c, m.overlay[d] = part.steps, part.steps
			} else {
				for i := range n {
					p := part.steps.at(i)
					c.dropAfter(p.Step - 1)
					c.add(p)
				}
			}
		}
		if n > 0 || part.reset {
			c.version++
		}
		m.overlayOff[d] = part.off
	}
}

// loadEvals reads the evaluation view's data: the dashboard run's latest
// scores and the SNR table across the selected runs (or a default:
// snrScope).
func (m *Model) loadEvals() tea.Cmd {
	run, dir := "", ""
	primary := map[string]string{}
	if m.cur != nil {
		run, dir = m.cur.Name, m.cur.Dir
		if m.cur.Eval != nil {
			for _, s := range m.cur.Eval.Scores {
				if s.Primary {
					form := s.Formulation
					if form == "" {
						form = "rc"
					}
					primary[s.Task+"\x00"+form] = metricColumn(s.Metric)
				}
			}
		}
	}
	// The run training in this session counts as soon as it has been
	// evaluated: the last scan may predate its first evaluation, or the run
	// itself, and this view does not scan. A run without evaluations is left
	// out when its evals.jsonl is read.
	var dirs []string
	liveDir, liveListed := "", false
	if m.liveData != nil {
		liveDir = absPath(m.liveData.Dir)
	}
	for _, r := range m.runs {
		live := liveDir != "" && absPath(r.Dir) == liveDir
		liveListed = liveListed || live
		if (r.HasEvals || live) && (len(m.selected) < 2 || m.selected[r.Dir]) {
			dirs = append(dirs, r.Dir)
		}
	}
	if liveDir != "" && !liveListed && len(m.selected) < 2 {
		dirs = append(dirs, m.liveData.Dir)
	}
	scope := snrScope{Dirs: dirs, Selected: len(m.selected) >= 2, Root: m.opts.RunsDir, Open: dir}
	return func() tea.Msg { return evalsLoadedMsg{data: loadEvalData(run, dir, primary, scope)} }
}

// TakeOverSignal is what `t` sends a headless run's process: it stops after
// its step and writes a checkpoint. SIGTERM, not SIGINT: a second Ctrl-C
// quits a batch run at once without its checkpoint, and a second `t` (from
// this session or another one watching the run) must not.
const TakeOverSignal = syscall.SIGTERM

// takeOver interrupts the headless process of the run on the dashboard and,
// once it has exited, resumes the run in this session.
func (m *Model) takeOver() tea.Cmd {
	c := m.cur
	l, ok := lab.LiveLock(c.Dir)
	if !ok {
		m.setNotice(false, "%s has no headless process to take over", c.Name)
		return nil
	}
	if l.Remote() { // its pid is not a process here: a signal would hit the wrong one
		m.setNotice(false, "%s is trained on another host by %s: stop it there; a dead node's lock is taken over once its heartbeat is %s old",
			c.Name, l.Holder(), lab.LockStaleAfter)
		return nil
	}
	interrupt := m.opts.Interrupt
	if interrupt == nil {
		interrupt = func(pid int) error { return syscall.Kill(pid, TakeOverSignal) }
	}
	if err := interrupt(l.PID); err != nil {
		m.setNotice(false, "cannot signal pid %d: %v", l.PID, err)
		return nil
	}
	m.takingOver = c.Dir
	m.setNotice(true, "taking over %s: waiting for pid %d to write its checkpoint…", c.Name, l.PID)
	dir, pid := c.Dir, l.PID
	return func() tea.Msg {
		deadline := time.Now().Add(5 * time.Minute)
		for lab.PIDAlive(pid) {
			if time.Now().After(deadline) {
				return headlessExitedMsg{dir: dir, err: fmt.Errorf("pid %d did not exit", pid)}
			}
			time.Sleep(200 * time.Millisecond)
		}
		return headlessExitedMsg{dir: dir}
	}
}

func (m *Model) handleHeadlessExited(msg headlessExitedMsg) tea.Cmd {
	m.takingOver = ""
	if msg.err != nil {
		m.setNotice(false, "take over: %v", msg.err)
		return nil
	}
	if m.training() {
		m.setNotice(false, "a run is already training in this session")
		return nil
	}
	m.setNotice(true, "resuming %s here…", msg.dir)
	return m.startCmd(lab.RunParams{ResumeDir: msg.dir, Evaluator: m.opts.Evaluator}, true)
}
