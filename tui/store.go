package tui

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/olmolab/olmolab/experiments"
	"github.com/olmolab/olmolab/lab"
	"github.com/olmolab/olmolab/lab/jsonfield"
)

// Files a detached headless run writes its output to, in the run directory.
const (
	HeadlessStdout = "headless.stdout.jsonl"
	HeadlessStderr = "headless.stderr.log"
)

// eventLine is a JSONL line decoded as an event without the per-step
// source counts (a map per step, which the UI never shows): at a million
// steps they were most of the time and memory of reading a run back.
type eventLine struct {
	lab.Event
	Sources struct{} `json:"sources,omitempty"`
}

// decodeEvent parses one line; false for a blank or unreadable one.
func decodeEvent(line []byte, e *lab.Event) bool {
	if len(bytes.TrimSpace(line)) == 0 {
		return false
	}
	if fastStepEvent(line, e) {
		return true
	}
	var l eventLine
	if json.Unmarshal(line, &l) != nil {
		return false
	}
	*e = l.Event
	return true
}

// fastStepEvent decodes a step line as the lab writes it with jsonfield.Each
// and strconv, five times faster than encoding/json; false for anything else
// (another event, a key it does not know, an escaped string), which
// encoding/json then reads.
func fastStepEvent(line []byte, e *lab.Event) bool {
	*e = lab.Event{}
	ok := true
	num := func(v []byte) float64 {
		if string(v) == "null" { // a value that was not finite (lab.Event.MarshalJSON): a skipped step's loss
			return math.NaN()
		}
		f, err := strconv.ParseFloat(string(v), 64)
		ok = ok && err == nil
		return f
	}
	integer := func(v []byte) int64 {
		n, err := strconv.ParseInt(string(v), 10, 64)
		ok = ok && err == nil
		return n
	}
	str := func(v []byte) string {
		// encoding/json decodes escapes and turns invalid UTF-8 into U+FFFD
		if len(v) < 2 || v[0] != '"' || bytes.IndexByte(v, '\\') >= 0 || !utf8.Valid(v) {
			ok = false
			return ""
		}
		return string(v[1 : len(v)-1])
	}
	parsed := jsonfield.Each(line, func(k, v []byte) {
		switch string(k) {
		case "type":
			e.Type = lab.EventKind(str(v))
		case "time":
			t, err := time.Parse(time.RFC3339Nano, str(v))
			ok = ok && err == nil
			e.Time = t
		case "run":
			e.Run = str(v)
		case "phase":
			e.Phase = str(v)
		case "step":
			e.Step = integer(v)
		case "tokens":
			e.Tokens = integer(v)
		case "total_tokens":
			e.TotalTokens = integer(v)
		case "tokens_left":
			e.TokensLeft = integer(v)
		case "ingredient":
			e.Ingredient = str(v)
		case "soup_index":
			e.SoupIndex = int(integer(v))
		case "soup_of":
			e.SoupOf = int(integer(v))
		case "loss":
			e.Loss = num(v)
		case "z_loss":
			e.ZLoss = num(v)
		case "grad_norm":
			e.GradNorm = num(v)
		case "lr":
			e.LR = num(v)
		case "tokens_per_s":
			e.TokensPerSec = num(v)
		case "mfu":
			e.MFU = num(v)
		case "loss_z":
			e.LossZ = num(v)
		case "grad_z":
			e.GradZ = num(v)
		case "skipped":
			e.Skipped = string(v) == "true"
			ok = ok && (e.Skipped || string(v) == "false")
		case "sources": // not shown
		case "spike_score":
			if string(v) == "null" {
				return
			}
			var sc lab.SpikeScores
			ok = ok && jsonfield.Each(v, func(k, v []byte) {
				switch string(k) {
				case "loss":
					sc.Loss = num(v)
				case "grad_norm":
					sc.GradNorm = num(v)
				default:
					ok = false
				}
			})
			e.SpikeScore = &sc
		default:
			ok = false
		}
	})
	return parsed && ok && e.Type == lab.EvStep
}

// lineReader yields the complete lines of a file from an offset on, one at a
// time, so that a run's files are never held in memory whole. A torn last
// line (a killed writer) waits for its newline: Off stays before it.
type lineReader struct {
	f   *os.File
	r   *bufio.Reader
	Off int64 // just after the last line returned
	buf []byte
}

func openLines(path string, offset int64) (*lineReader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		f.Close()
		return nil, err
	}
	return &lineReader{f: f, r: bufio.NewReaderSize(f, 256<<10), Off: offset}, nil
}

// next returns the next complete line (newline included), valid until the
// next call; nil at the end of the file's complete lines or on an error.
func (l *lineReader) next() []byte {
	line, err := l.r.ReadSlice('\n')
	if err == bufio.ErrBufferFull { // longer than the buffer: gather it
		l.buf = append(l.buf[:0], line...)
		for err == bufio.ErrBufferFull {
			line, err = l.r.ReadSlice('\n')
			l.buf = append(l.buf, line...)
		}
		line = l.buf
	}
	if err != nil {
		return nil
	}
	l.Off += int64(len(line))
	return line
}

func (l *lineReader) close() { l.f.Close() }

// readEvents parses the complete lines of a JSONL file from offset on and
// returns the offset after the last complete line. A torn last line (a killed
// writer) waits for its newline.
func readEvents(path string, offset int64) ([]lab.Event, int64, error) {
	lr, err := openLines(path, offset)
	if err != nil {
		return nil, offset, err
	}
	defer lr.close()
	var out []lab.Event
	for line := lr.next(); line != nil; line = lr.next() {
		var e lab.Event
		if decodeEvent(line, &e) {
			out = append(out, e)
		}
	}
	return out, lr.Off, nil
}

// follower reads a run directory's JSONL files as they grow, so a run trained
// by another process shows live.
type follower struct {
	dir     string
	offsets map[string]int64
	sizes   map[string]int64
}

func newFollower(dir string) *follower {
	return &follower{dir: dir, offsets: map[string]int64{}, sizes: map[string]int64{}}
}

// files are the JSONL files of the run and of its soup ingredients.
func (f *follower) files() []string {
	out := []string{filepath.Join(f.dir, lab.MetricsFile), filepath.Join(f.dir, lab.EventsFile)}
	ing, _ := filepath.Glob(filepath.Join(f.dir, "soups", "*", "ingredient-*", lab.MetricsFile))
	sort.Strings(ing)
	return append(out, ing...)
}

// poll returns the events appended since the last poll, in time order, and
// whether a file shrank (a resumed run rewrote it), in which case the caller
// reloads the run.
func (f *follower) poll() (evs []lab.Event, reload bool) {
	for _, p := range f.files() {
		st, err := os.Stat(p)
		if err != nil {
			continue
		}
		if st.Size() < f.sizes[p] {
			return nil, true
		}
		f.sizes[p] = st.Size()
		if st.Size() == f.offsets[p] {
			continue
		}
		es, off, err := readEvents(p, f.offsets[p])
		if err != nil {
			continue
		}
		f.offsets[p] = off
		evs = append(evs, es...)
	}
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].Time.Before(evs[j].Time) })
	return evs, false
}

// loadRun rebuilds a run's picture from its directory: recipe.yaml,
// metrics.jsonl, events.jsonl and the soup ingredients' metrics, merged in time
// order and folded in exactly as the live events were. The follower continues
// from where the files end.
func loadRun(dir string) (*runData, *follower, error) {
	d, f, err := replayRun(dir, time.Time{})
	if err != nil {
		return nil, nil, err
	}
	if d.Summary == nil {
		if s, ok := lab.ReadSummary(dir); ok {
			d.Summary = &s
		}
	}
	d.State = runState(dir, d)
	return d, f, nil
}

// replayRun folds a run directory's events into a new picture, those up to
// until when it is not zero (the live run's events after it come from its
// queue). The files are merged in time order as they are read (each is
// written in time order; at equal times the metrics come first, as the
// follower's stable sort has them), so only the picture is held in memory,
// not the million events of a long run.
func replayRun(dir string, until time.Time) (*runData, *follower, error) {
	if _, err := os.Stat(dir); err != nil {
		return nil, nil, err
	}
	rec, _ := lab.LoadRecipe(filepath.Join(dir, lab.RecipeFile), nil)
	d := newRunData(filepath.Base(dir), dir, rec)
	f := newFollower(dir)
	type stream struct {
		path string
		lr   *lineReader
		e    lab.Event
		ok   bool
	}
	advance := func(s *stream) {
		s.ok = false
		for line := s.lr.next(); line != nil; line = s.lr.next() {
			if decodeEvent(line, &s.e) {
				s.ok = true
				return
			}
		}
	}
	var ss []*stream
	for _, p := range f.files() {
		lr, err := openLines(p, 0)
		if err != nil {
			continue
		}
		defer lr.close()
		s := &stream{path: p, lr: lr}
		advance(s)
		ss = append(ss, s)
	}
	for {
		var first *stream
		for _, s := range ss {
			if s.ok && (first == nil || s.e.Time.Before(first.e.Time)) {
				first = s
			}
		}
		if first == nil {
			break
		}
		if until.IsZero() || !first.e.Time.After(until) {
			d.apply(first.e)
		}
		advance(first)
	}
	for _, s := range ss {
		// the follower goes on from the last complete line
		f.offsets[s.path], f.sizes[s.path] = s.lr.Off, s.lr.Off
	}
	return d, f, nil
}

// runState decides a reopened run's state: a live lock (lab.LiveLock) says
// running, or headless for a --batch process; otherwise the done event or
// summary.json; a run with neither was killed, unless its files are still
// growing (a run written by an olmolab from before the lab locked its runs).
// The lock eval --record holds while it writes the run's evals.jsonl
// (lab.LockEval) is no training: it read as running.
func runState(dir string, d *runData) string {
	if l, ok := lab.LiveLock(dir); ok && l.Mode != lab.LockEval {
		if l.Mode == lab.LockHeadless {
			return "headless"
		}
		return "running"
	}
	if d != nil && d.Ended {
		return d.State
	}
	if s, ok := lab.ReadSummary(dir); ok && s.State != "" {
		return s.State
	}
	if st, err := os.Stat(filepath.Join(dir, lab.MetricsFile)); err == nil && time.Since(st.ModTime()) < 2*time.Minute {
		return "running"
	}
	return "crashed"
}

// runInfo is one row of the runs list.
type runInfo struct {
	Name, Dir  string
	Recipe     string
	State      string
	Steps      int64
	Tokens     int64
	BestLoss   float64
	LastLoss   float64
	Modified   time.Time
	Soups      []soupInfo
	HasEvals   bool
	Fork       *lab.ForkInfo // the run it was forked from (fork.json), nil for most runs
	lockMode   string
	metricSize int64
	metricOff  int64      // how far metrics.jsonl has been read into agg
	agg        lossAgg    // its losses so far
	damage     damageScan // metrics.jsonl's bad lines so far (agg's lines)
	pending    bool       // metrics.jsonl still to be read (the losses are those of an earlier scan, or none)
}

// soupInfo is a soup of a run: its ingredients' directories and its report.
type soupInfo struct {
	Name        string // soup-N
	Dir         string
	Report      *lab.SoupReport // nil until the soup is done
	Ingredients []string        // ingredient directory names
}

// scanRuns lists the run directories under root (those holding recipe.yaml),
// newest first. cache keeps the expensive part (scanning metrics.jsonl for the
// best loss) per directory until the file changes. The cheap files (recipe,
// summary, lock) are read for every run; the metrics files that need reading
// are read in parallel for at most budget (at least one of them), and the
// runs whose read did not fit come back pending, with the losses they had
// (none for a run never read): the caller shows the list at once and scans
// again to fill them in.
func scanRuns(root string, cache map[string]runInfo, budget time.Duration) []runInfo {
	ents, _ := os.ReadDir(root)
	var out []runInfo
	var todo []int          // indices in out whose metrics.jsonl needs a read
	var sumSteps [][2]int64 // summary.json's steps and tokens, per run in out
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(root, e.Name())
		rst, err := os.Stat(filepath.Join(dir, lab.RecipeFile))
		if err != nil {
			continue
		}
		ri := runInfo{Name: e.Name(), Dir: dir, Modified: rst.ModTime(), BestLoss: math.NaN(), LastLoss: math.NaN()}
		mst, merr := os.Stat(filepath.Join(dir, lab.MetricsFile))
		if merr == nil {
			ri.Modified = mst.ModTime()
			ri.metricSize = mst.Size()
		}
		sum, hasSum := lab.ReadSummary(dir)
		c, cached := cache[dir]
		read := false
		switch {
		case cached && !c.pending && c.metricSize == ri.metricSize && c.Modified.Equal(ri.Modified):
			ri = c
		case cached && c.agg.n > 0 && ri.metricSize >= c.metricSize:
			// a running run: read only what it appended
			ri.Recipe, ri.agg, ri.metricOff, ri.damage = c.Recipe, c.agg, c.metricOff, c.damage
			ri.BestLoss, ri.LastLoss, ri.Steps, ri.Tokens = c.BestLoss, c.LastLoss, c.Steps, c.Tokens
			read = true
		default:
			ri.Recipe = recipeName(filepath.Join(dir, lab.RecipeFile))
			ri.agg = newLossAgg()
			read = !summaryLosses(&ri, mst, sum, hasSum)
		}
		var summed [2]int64 // summary.json's count alone: a cached count is the last scan's, which the lines read since replace
		if hasSum && sum.Steps > 0 {
			ri.Steps, ri.Tokens = sum.Steps, sum.Tokens
			summed = [2]int64{sum.Steps, sum.Tokens}
		}
		sumSteps = append(sumSteps, summed)
		ri.State = runState(dir, nil)
		if l, ok := lab.LiveLock(dir); ok && l.Mode != lab.LockEval {
			ri.lockMode = l.Mode
		} else if _, ok := lab.Recording(dir); ok {
			// eval --record scores it (a resume is refused meanwhile)
			ri.State = "recording"
		}
		ri.Soups = scanSoups(dir)
		ri.Fork = nil
		if fi, ok := lab.ReadFork(dir); ok {
			ri.Fork = &fi
		}
		if st, err := os.Stat(filepath.Join(dir, lab.EvalsFile)); err == nil && st.Size() > 0 {
			ri.HasEvals = true
		}
		ri.pending = read
		if read {
			todo = append(todo, len(out))
		}
		out = append(out, ri)
	}
	// the newest first: those are the rows on screen
	sort.SliceStable(todo, func(a, b int) bool { return out[todo[a]].Modified.After(out[todo[b]].Modified) })
	fillAll(out, todo, time.Now().Add(budget))
	for i, ri := range out {
		if sumSteps[i][0] > 0 { // summary.json's count wins over the lines read
			ri.Steps, ri.Tokens = sumSteps[i][0], sumSteps[i][1]
			out[i] = ri
		}
		if !ri.pending {
			cache[ri.Dir] = ri
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Modified.After(out[j].Modified) })
	return out
}

// fillAll reads the metrics of out[todo] with one worker per core, each
// taking the next run until the deadline has passed (the first is always
// read, so repeated scans make progress); those left stay pending.
func fillAll(out []runInfo, todo []int, deadline time.Time) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(todo)) {
		wg.Go(func() {
			for {
				k := int(next.Add(1)) - 1
				if k >= len(todo) || (k > 0 && time.Now().After(deadline)) {
					return
				}
				ri := &out[todo[k]]
				fillLosses(ri)
				ri.pending = false
			}
		})
	}
	wg.Wait()
}

// readSteps calls fn for each step line of a metrics file from offset on (its
// step, tokens, loss and skipped: what the runs list and the overlay read) and
// returns the offset after the last complete line, streaming (a million-step
// run is half a gigabyte of JSON).
// ds, where not nil, counts the lines read (from the file's start: offset
// is where its count ended) and notes those that do not parse: a complete
// line is never a killed writer's torn end, which waits for its newline,
// so such a line is damage (lab.Damage).
func readSteps(path string, offset int64, ds *damageScan, fn func(stepPoint)) (int64, error) {
	lr, err := openLines(path, offset)
	if err != nil {
		return offset, err
	}
	defer lr.close()
	for line := lr.next(); line != nil; line = lr.next() {
		if ds != nil {
			ds.lines++
		}
		var e lab.Event
		if decodeEvent(line, &e) {
			if e.Type == lab.EvStep {
				fn(stepPoint{Step: e.Step, Tokens: e.Tokens, Loss: e.Loss, Skipped: e.Skipped})
			}
		} else if ds != nil && len(bytes.TrimSpace(line)) > 0 {
			if ds.Line == 0 {
				ds.Line = ds.lines
			} else {
				ds.More++
			}
		}
	}
	return lr.Off, nil
}

// damageScan is where a metrics file read so far is damaged, and how many
// lines were read.
type damageScan struct {
	lab.Damage
	lines int
}

// lossAgg keeps a run's best loss and its last 10 finite losses as its steps
// are read, so the runs list reads only what a running run appended since.
type lossAgg struct {
	best          float64 // NaN before the first finite loss
	last          [10]float64
	n             int // finite losses seen
	steps, tokens int64
}

func newLossAgg() lossAgg { return lossAgg{best: math.NaN()} }

func (a *lossAgg) add(s stepPoint) {
	a.steps, a.tokens = s.Step, s.Tokens
	if s.Skipped {
		return
	}
	if math.IsNaN(a.best) || s.Loss < a.best {
		a.best = s.Loss
	}
	a.last[a.n%len(a.last)] = s.Loss
	a.n++
}

// lastLoss is the mean of the last up to 10 finite losses (curve.lastLoss).
func (a *lossAgg) lastLoss() float64 {
	k := min(a.n, len(a.last))
	if k == 0 {
		return math.NaN()
	}
	var sum float64
	for i := a.n - k; i < a.n; i++ {
		sum += a.last[i%len(a.last)]
	}
	return sum / float64(k)
}

// fillLosses reads the run's steps from ri.metricOff on, into ri.agg, for its
// best and last loss.
func fillLosses(ri *runInfo) {
	off, err := readSteps(filepath.Join(ri.Dir, lab.MetricsFile), ri.metricOff, &ri.damage, ri.agg.add)
	if err != nil {
		return
	}
	ri.metricOff = off
	ri.BestLoss, ri.LastLoss = ri.agg.best, ri.agg.lastLoss()
	if ri.agg.steps > 0 {
		ri.Steps, ri.Tokens = ri.agg.steps, ri.agg.tokens
	}
}

// summaryLosses takes a run's best and last loss from its summary.json when
// the summary was written after the last step (a run that ended): the lab's
// own min_loss and final_loss (the mean of the last 10), without reading a
// metrics file of a million lines.
func summaryLosses(ri *runInfo, metrics os.FileInfo, s lab.RunSummary, ok bool) bool {
	path := filepath.Join(ri.Dir, lab.SummaryFile)
	st, err := os.Stat(path)
	if err != nil || metrics == nil || st.ModTime().Before(metrics.ModTime()) {
		return false
	}
	if !ok || s.Steps <= 0 || math.IsInf(s.MinLoss, 0) || math.IsNaN(s.MinLoss) || s.MinLoss == 0 {
		return false
	}
	ri.BestLoss, ri.LastLoss = s.MinLoss, s.FinalLoss
	return true
}

func scanSoups(dir string) []soupInfo {
	soups, _ := filepath.Glob(filepath.Join(dir, "soups", "soup-*"))
	sort.Slice(soups, func(i, j int) bool { return soupStep(soups[i]) < soupStep(soups[j]) })
	var out []soupInfo
	for _, s := range soups {
		si := soupInfo{Name: filepath.Base(s), Dir: s}
		if b, err := os.ReadFile(filepath.Join(s, "soup.json")); err == nil {
			var rep lab.SoupReport
			if json.Unmarshal(b, &rep) == nil {
				si.Report = &rep
			}
		}
		ing, _ := filepath.Glob(filepath.Join(s, "ingredient-*"))
		sort.Strings(ing)
		for _, d := range ing {
			si.Ingredients = append(si.Ingredients, filepath.Base(d))
		}
		out = append(out, si)
	}
	return out
}

func soupStep(dir string) int {
	n, _ := strconv.Atoi(strings.TrimPrefix(filepath.Base(dir), "soup-"))
	return n
}

// recipeName reads the name: line of a run's recipe.yaml without parsing the
// whole recipe.
func recipeName(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "name:"); ok {
			return strings.Trim(strings.TrimSpace(v), `"'`)
		}
	}
	return ""
}

// recipeEntry is a recipe a person can launch.
type recipeEntry struct {
	Name   string
	Path   string // experiments/NAME.yaml or a file in the working directory
	YAML   []byte
	File   bool // from the working directory
	Recipe *lab.Recipe
	Err    error
	// a file's size and modification time when it was read: the home view
	// reads it again when they change (refreshRecipe)
	Size    int64
	ModTime time.Time
}

// listRecipes returns the shipped recipes and the *.yaml files of dir (those
// that do not parse are listed with their error).
func listRecipes(dir string, shipped []experiments.Recipe) []recipeEntry {
	var out []recipeEntry
	all := append([]experiments.Recipe(nil), shipped...)
	// quickstart first: it is the recipe to begin with
	sort.SliceStable(all, func(i, j int) bool { return all[i].Name == "quickstart" && all[j].Name != "quickstart" })
	for _, r := range all {
		e := recipeEntry{Name: r.Name, Path: r.Path, YAML: r.YAML}
		e.Recipe, e.Err = lab.ParseRecipe(r.Path, r.YAML, nil)
		out = append(out, e)
	}
	return append(out, listRecipeFiles(dir, nil)...)
}

// listRecipeFiles returns the *.yaml files of dir, sorted, each read and
// parsed but those known already (by path), which are kept as they are.
func listRecipeFiles(dir string, known []recipeEntry) []recipeEntry {
	var out []recipeEntry
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	sort.Strings(files)
	for _, f := range files {
		if i := slices.IndexFunc(known, func(e recipeEntry) bool { return e.File && e.Path == f }); i >= 0 {
			out = append(out, known[i])
		} else if e, ok := readRecipeFile(f); ok {
			out = append(out, e)
		}
	}
	return out
}

// recipeDirStamp is what says that the recipe directory's list of files may
// have changed: its modification time (a file created, deleted or renamed
// there changes it), and when it was listed.
type recipeDirStamp struct {
	mod, listed time.Time
}

// stampRecipeDir stamps dir as listed now.
func stampRecipeDir(dir string) recipeDirStamp {
	s := recipeDirStamp{listed: time.Now()}
	if fi, err := os.Stat(dir); err == nil {
		s.mod = fi.ModTime()
	}
	return s
}

// changed says whether dir may list other files than when s was taken: its
// modification time differs, or it was listed less than 2 s after that time
// (a file created in the same tick of a coarse clock leaves the time as it
// was). It costs a stat.
func (s recipeDirStamp) changed(dir string) bool {
	fi, err := os.Stat(dir)
	if err != nil {
		return !s.mod.IsZero() // gone: its files are
	}
	return !fi.ModTime().Equal(s.mod) || s.listed.Sub(s.mod) < 2*time.Second
}

// readRecipeFile reads and parses the recipe file f; ok is false when it
// cannot be read.
func readRecipeFile(f string) (e recipeEntry, ok bool) {
	e = recipeEntry{Name: strings.TrimSuffix(filepath.Base(f), ".yaml"), Path: f, File: true}
	fi, err := os.Stat(f)
	if err != nil {
		return e, false
	}
	b, err := os.ReadFile(f)
	if err != nil {
		return e, false
	}
	e.YAML, e.Size, e.ModTime = b, fi.Size(), fi.ModTime()
	e.Recipe, e.Err = lab.ParseRecipe(f, b, nil)
	if e.Recipe != nil && e.Recipe.Name != "" {
		e.Name = e.Recipe.Name
	}
	return e, true
}
