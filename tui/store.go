package tui

import (
	"bytes"
	"encoding/json"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/olmolab/olmolab/experiments"
	"github.com/olmolab/olmolab/lab"
)

// Files a detached headless run writes its output to, in the run directory.
const (
	HeadlessStdout = "headless.stdout.jsonl"
	HeadlessStderr = "headless.stderr.log"
)

// readEvents parses the complete lines of a JSONL file from offset on and
// returns the offset after the last complete line. A torn last line (a killed
// writer) waits for its newline.
func readEvents(path string, offset int64) ([]lab.Event, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, offset, err
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return nil, offset, err
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return nil, offset, err
	}
	end := bytes.LastIndexByte(b, '\n')
	if end < 0 {
		return nil, offset, nil
	}
	var out []lab.Event
	for _, line := range bytes.Split(b[:end], []byte{'\n'}) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var e lab.Event
		if json.Unmarshal(line, &e) == nil {
			out = append(out, e)
		}
	}
	return out, offset + int64(end) + 1, nil
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
// queue).
func replayRun(dir string, until time.Time) (*runData, *follower, error) {
	if _, err := os.Stat(dir); err != nil {
		return nil, nil, err
	}
	rec, _ := lab.LoadRecipe(filepath.Join(dir, lab.RecipeFile), nil)
	d := newRunData(filepath.Base(dir), dir, rec)
	f := newFollower(dir)
	evs, _ := f.poll()
	for _, e := range evs {
		if until.IsZero() || !e.Time.After(until) {
			d.apply(e)
		}
	}
	return d, f, nil
}

// runState decides a reopened run's state: a live lock (lab.LiveLock) says
// running, or headless for a --batch process; otherwise the done event or
// summary.json; a run with neither was killed, unless its files are still
// growing (a run written by an olmolab from before the lab locked its runs).
func runState(dir string, d *runData) string {
	if l, ok := lab.LiveLock(dir); ok {
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
	lockMode   string
	metricSize int64
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
// best loss) per directory until the file changes.
func scanRuns(root string, cache map[string]runInfo) []runInfo {
	ents, _ := os.ReadDir(root)
	var out []runInfo
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
		if c, ok := cache[dir]; ok && c.metricSize == ri.metricSize && c.Modified.Equal(ri.Modified) {
			ri = c
		} else {
			ri.Recipe = recipeName(filepath.Join(dir, lab.RecipeFile))
			fillLosses(&ri)
		}
		if s, ok := lab.ReadSummary(dir); ok && s.Steps > 0 {
			ri.Steps, ri.Tokens = s.Steps, s.Tokens
		}
		ri.State = runState(dir, nil)
		if l, ok := lab.LiveLock(dir); ok {
			ri.lockMode = l.Mode
		}
		ri.Soups = scanSoups(dir)
		if st, err := os.Stat(filepath.Join(dir, lab.EvalsFile)); err == nil && st.Size() > 0 {
			ri.HasEvals = true
		}
		cache[dir] = ri
		out = append(out, ri)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Modified.After(out[j].Modified) })
	return out
}

// fillLosses reads the run's steps for its best and last loss.
func fillLosses(ri *runInfo) {
	evs, _, err := readEvents(filepath.Join(ri.Dir, lab.MetricsFile), 0)
	if err != nil {
		return
	}
	c := curve{}
	for _, e := range evs {
		if e.Type == lab.EvStep {
			c.Pts = append(c.Pts, stepPoint{Step: e.Step, Tokens: e.Tokens, Loss: e.Loss, Skipped: e.Skipped})
		}
	}
	ri.BestLoss, ri.LastLoss = c.bestLoss(), c.lastLoss()
	if n := len(c.Pts); n > 0 {
		ri.Steps, ri.Tokens = c.Pts[n-1].Step, c.Pts[n-1].Tokens
	}
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
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	sort.Strings(files)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		e := recipeEntry{Name: strings.TrimSuffix(filepath.Base(f), ".yaml"), Path: f, YAML: b, File: true}
		e.Recipe, e.Err = lab.ParseRecipe(f, b, nil)
		if e.Recipe != nil && e.Recipe.Name != "" {
			e.Name = e.Recipe.Name
		}
		out = append(out, e)
	}
	return out
}
