package tui

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"charm.land/bubbles/v2/help"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"

	"github.com/olmolab/olmolab/experiments"
	"github.com/olmolab/olmolab/lab"
	"github.com/olmolab/olmolab/tui/theme"
)

// Options configure a session.
type Options struct {
	RunsDir   string // run directories live here (default "runs")
	RecipeDir string // *.yaml recipes are listed from here besides the shipped ones (default ".")
	// Shipped are the built-in recipes (default experiments.All()); tests pin them.
	Shipped   func() []experiments.Recipe
	Evaluator lab.Evaluator
	// StartRun starts (or resumes) a run in this process; default StartLabRun.
	StartRun func(context.Context, lab.RunParams) (Run, error)
	// Detach starts `olmolab --batch --resume DIR` as a background process of
	// its own session and returns its pid; nil disables detaching.
	Detach func(runDir string) (int, error)
	// Interrupt asks a headless run's process to checkpoint and exit
	// (TakeOverSignal) so the session can take the run over; default sends
	// TakeOverSignal.
	Interrupt func(pid int) error
	Logger    *slog.Logger  // default: discard (never the terminal)
	Frame     time.Duration // how often live events reach the view (default 100 ms: 10 Hz)
	Poll      time.Duration // how often runs of other processes are read (default 1 s)
	NoColor   bool          // NO_COLOR: no colour, glyph fallbacks
	Now       func() time.Time
	Size      [2]int // initial width and height before the terminal reports (tests)
	DarkKnown bool   // Dark is what the terminal said; don't ask it
	Dark      bool
}

// mode is the view on screen.
type mode int

const (
	modeHome mode = iota
	modeDashboard
	modeRuns
	modeEvals
)

func (m mode) String() string {
	switch m {
	case modeHome:
		return "recipes"
	case modeDashboard:
		return "dashboard"
	case modeRuns:
		return "runs"
	case modeEvals:
		return "evaluation"
	}
	return "?"
}

// quitKind is what the session does once the live run has ended.
type quitKind int

const (
	quitNone quitKind = iota
	quitAfterStop
	quitAfterDetach
)

var smoothLevels = []float64{0.5, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99}

// Model is the root of the UI: one mode enum picks the view; dialogs and the
// help page sit on top of it.
type Model struct {
	opts   Options
	theme  *theme.Theme
	keys   KeyMap
	help   help.Model
	log    *slog.Logger
	width  int
	height int
	mode   mode

	showHelp bool
	// the help page's first line shown, and how many it has (set as it is
	// drawn): a page taller than the window scrolls
	helpTop, helpLines int
	dialog             *dialog
	notice             string
	noticeOK           bool
	noticeAt           time.Time
	damageSaid         map[string]lab.Damage // metrics files whose damage the message line said (handleRunsScanned)
	exitMsg            string

	// recipes and runs on disk
	recipes    []recipeEntry
	recipeDir  recipeDirStamp // the recipe directory as it was when listed
	runs       []runInfo
	scanner    *scanner
	homeCursor int
	scanning   bool
	lastScan   time.Time

	// the run training in this process (at most one)
	live       Run
	liveData   *runData
	liveGen    int
	liveCancel context.CancelFunc
	launching  bool
	// the recipe being launched, and the error of the last launch that
	// failed to start (its whole text: the notice line has room for its
	// start only, and the hint that says what to do comes last)
	launchPath, startErrPath, startErr string
	quitting                           quitKind
	// reading the live run back from its files: after its queue dropped
	// events (liveDropped counts them), or when a resumed run starts
	liveDropped int64
	needReload  bool
	reloading   bool
	reloadSeq   int
	reloadBuf   []lab.Event // events since the reload's cutoff

	// the run on the dashboard: the live one or one read from its directory
	cur       *runData
	follow    *follower
	loadingTo string

	// take-over of a headless run
	takingOver string

	// charts
	smoothOn  bool
	smoothIdx int
	logY      [3]bool
	clipY     [3]bool // the y range leaves out the highest columns (chart.clipY)
	byTokens  bool
	focus     int

	plots map[string]plotCache // rendered charts by what they show
	// the version of each run's data its charts show (cachedPlot)
	plotFrames map[*runData]plotFrame

	// the last screen drawn: while only a live run's events arrive it is
	// redrawn at most every redrawEvery (anything else redraws at once)
	screen     string
	screenAt   time.Time
	screenDirt bool

	// runs view
	runsCursor   int
	runsMoved    bool // the cursor was moved: it stays on its row as runs come (else on the top row, the newest run)
	selected     map[string]bool
	overlay      map[string]*curve
	overlayOff   map[string]int64 // how far each overlay curve's metrics.jsonl has been read
	overlayBusy  time.Time        // when the read of the overlay's curves under way began (zero: none)
	overlayPlot  overlayPlot      // the overlay chart last drawn
	rowsCache    []runRow
	soupOpen     string               // the soup whose details replace the overlay (its directory; "" none)
	soupEscShown bool                 // its details' title, as last drawn, says "esc: back to the overlay"
	soupBases    map[string]*soupBase // per soup directory, the run's evaluation its details compare with (nil: none)

	// evaluation view
	evals      *evalData
	evalScroll int
}

// New returns a session's root model.
func New(o Options) *Model {
	if o.RunsDir == "" {
		o.RunsDir = "runs"
	}
	if o.RecipeDir == "" {
		o.RecipeDir = "."
	}
	if o.Shipped == nil {
		o.Shipped = experiments.All
	}
	if o.StartRun == nil {
		o.StartRun = StartLabRun
	}
	if o.Frame <= 0 {
		o.Frame = 100 * time.Millisecond
	}
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	dark := true
	if o.DarkKnown {
		dark = o.Dark
	}
	m := &Model{
		opts: o, theme: theme.New(dark, o.NoColor), keys: DefaultKeyMap(), help: help.New(), log: o.Logger,
		width: 80, height: 24, scanner: newScanner(), smoothOn: true, smoothIdx: 3, byTokens: true,
		selected: map[string]bool{}, overlay: map[string]*curve{}, overlayOff: map[string]int64{}, plots: map[string]plotCache{}, plotFrames: map[*runData]plotFrame{},
	}
	if o.Size[0] > 0 {
		m.width, m.height = o.Size[0], o.Size[1]
	}
	m.applyTheme()
	m.recipeDir = stampRecipeDir(o.RecipeDir)
	m.recipes = listRecipes(o.RecipeDir, o.Shipped())
	m.runs = m.scanner.scan(o.RunsDir, firstScanBudget)
	m.lastScan = o.Now()
	m.updateKeys()
	return m
}

func (m *Model) applyTheme() {
	t := m.theme
	m.overlayPlot = overlayPlot{}
	m.help.Styles = help.Styles{ShortKey: t.Key, ShortDesc: t.Subtle, ShortSeparator: t.Border, Ellipsis: t.Border,
		FullKey: t.Key, FullDesc: t.Text, FullSeparator: t.Border}
	m.help.SetWidth(m.width)
}

// Init asks the terminal for its background (light or dark) and starts the
// clock.
func (m *Model) Init() tea.Cmd {
	cmds := []tea.Cmd{m.tick()}
	if pendingRuns(m.runs) {
		cmds = append(cmds, m.scanCmd())
	}
	if !m.opts.DarkKnown {
		cmds = append(cmds, tea.RequestBackgroundColor)
	}
	return tea.Batch(cmds...)
}

func (m *Model) tick() tea.Cmd {
	return tea.Tick(m.opts.Poll, func(t time.Time) tea.Msg { return tickMsg(t) })
}

// ExitMessage is what the program prints after the screen is restored (e.g.
// where a detached run went); empty when nothing needs saying.
func (m *Model) ExitMessage() string { return m.exitMsg }

// scanner lists run directories off the UI goroutine, caching what it read.
type scanner struct {
	mu    sync.Mutex
	cache map[string]runInfo
}

func newScanner() *scanner { return &scanner{cache: map[string]runInfo{}} }

// scan lists the runs, reading metrics files for at most budget (scanRuns).
func (s *scanner) scan(root string, budget time.Duration) []runInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	return scanRuns(root, s.cache, budget)
}

// Budgets for reading metrics files in one scan: the first one, before the
// screen is up, and those that follow, each showing what it filled in (a
// crashed million-step run takes a second and a half to read).
const (
	firstScanBudget = 100 * time.Millisecond
	scanBudget      = 300 * time.Millisecond
)

// pendingRuns says whether a run of the list still has its metrics to read.
func pendingRuns(runs []runInfo) bool {
	for _, r := range runs {
		if r.pending {
			return true
		}
	}
	return false
}

// Open starts a session on the terminal and returns when the person quits. It
// never writes to stdout or stderr while the screen is up; the exit message
// (if any) is returned for the caller to print.
func Open(ctx context.Context, o Options, progOpts ...tea.ProgramOption) (string, error) {
	if os.Getenv("NO_COLOR") != "" {
		o.NoColor = true
		progOpts = append(progOpts, tea.WithColorProfile(colorprofile.Ascii))
	}
	m := New(o)
	// The renderer wakes fps times a second to flush; the view changes at
	// most 10 times a second (Frame), and every wakeup takes a core from the
	// training's parallel kernels for a moment, so 20 instead of 60.
	opts := append([]tea.ProgramOption{tea.WithContext(ctx), tea.WithFPS(20)}, progOpts...)
	p := tea.NewProgram(m, opts...)
	_, err := p.Run()
	m.shutdown()
	return m.ExitMessage(), err
}

// shutdown ends a live run that is still training when the program stops
// without going through the quit dialog (context cancelled, a signal): the
// run writes a checkpoint and ends as interrupted, resumable later.
func (m *Model) shutdown() {
	if m.live == nil {
		return
	}
	select {
	case <-m.live.Done():
	default:
		if m.liveCancel != nil {
			m.liveCancel()
		}
		select {
		case <-m.live.Done(): // the lab has removed the run's lock
		case <-time.After(2 * time.Minute):
		}
	}
}

func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}
