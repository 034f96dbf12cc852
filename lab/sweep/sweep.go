// Package sweep turns one recipe into many runs and hands them to an engine
// that already exists: a Slurm sbatch array, or `olmolab --batch` processes on
// this machine. It expands the cartesian product of --vary lists into named
// runs, writes the sweep's manifest and sbatch script, and reads a sweep's
// progress back from its run directories. It trains nothing itself: every run
// is an ordinary `olmolab --batch` run (DESIGN.md, "Beyond one machine").
package sweep

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Axis is one --vary: a recipe key (dotted, as --set takes it) and its values.
type Axis struct {
	Key    string   `json:"key"`
	Values []string `json:"values"`
}

// Run is one point of a sweep: its name (the run directory's) and the
// key=value overrides, one per axis, applied after the sweep's common --set.
type Run struct {
	Index     int      `json:"index"` // position in the sweep, and the Slurm array task id
	Name      string   `json:"name"`
	Overrides []string `json:"overrides"`
}

var keyPart = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// ParseAxis reads a --vary value, "key=v1,v2,...". Values are YAML, as --set
// takes them; a comma inside brackets, braces or quotes does not split, so
// `paths=["a","b"],["c"]` has two values.
func ParseAxis(s string) (Axis, error) {
	key, vals, ok := strings.Cut(s, "=")
	if !ok {
		return Axis{}, fmt.Errorf("--vary %q: want key=v1,v2,... (e.g. --vary seed=1,2,3)", s)
	}
	key = strings.TrimSpace(key)
	if key == "" {
		return Axis{}, fmt.Errorf("--vary %q: the key before '=' is empty", s)
	}
	for _, p := range strings.Split(key, ".") {
		if !keyPart.MatchString(p) {
			return Axis{}, fmt.Errorf("--vary %q: key %q is not a dotted recipe path (e.g. optimizer.lr, dataset.sources.0.target_ratio)", s, key)
		}
	}
	values, err := splitValues(vals)
	if err != nil {
		return Axis{}, fmt.Errorf("--vary %q: %v", s, err)
	}
	seen := map[string]string{}
	for _, v := range values {
		if v == "" {
			return Axis{}, fmt.Errorf("--vary %q: an empty value (two commas in a row, or a comma at an end)", s)
		}
		k := canonicalValue(v)
		if first, dup := seen[k]; dup {
			switch {
			case first == v:
				return Axis{}, fmt.Errorf("--vary %q: value %q is given twice", s, v)
			case strings.HasPrefix(k, "l:"):
				return Axis{}, fmt.Errorf("--vary %q: values %q and %q are the same list of numbers, so their runs would be the same", s, first, v)
			}
			return Axis{}, fmt.Errorf("--vary %q: values %q and %q are the same number, so their runs would be the same", s, first, v)
		}
		seen[k] = v
	}
	if err := sameMixes(s, key, values); err != nil {
		return Axis{}, err
	}
	return Axis{Key: key, Values: values}, nil
}

// sameMixes refuses two values of a whole mix's ratios (a target_ratio key
// without an element index, one number per source) in the same proportion:
// the recipe normalises the ratios, so [1,4] and [0.2,0.8] train on the same
// mix. Shares within 1e-9 of each other are the same.
func sameMixes(s, key string, values []string) error {
	parts := strings.Split(key, ".")
	if len(parts) < 2 || parts[len(parts)-1] != "target_ratio" {
		return nil
	}
	if _, err := strconv.Atoi(parts[len(parts)-2]); err == nil {
		return nil // one source's ratio: the others stay, so a proportion is another mix
	}
	var seen [][]float64
	var from []string
	for _, v := range values {
		sh := shares(v)
		if sh == nil {
			continue
		}
		for i, o := range seen {
			if len(o) != len(sh) {
				continue
			}
			same := true
			for j := range o {
				if math.Abs(o[j]-sh[j]) > 1e-9 {
					same = false
					break
				}
			}
			if same {
				pct := make([]string, len(sh))
				for j, x := range sh {
					pct[j] = fmt.Sprintf("%.3g%%", 100*x) // as the plan writes shares
				}
				return fmt.Errorf("--vary %q: values %q and %q are the same mix (%s once normalised), so their runs would be the same", s, from[i], v, strings.Join(pct, ", "))
			}
		}
		seen, from = append(seen, sh), append(from, v)
	}
	return nil
}

// SameMixRuns refuses two runs that differ only in target_ratio values (the
// same overrides otherwise) and train the same mixes once normalised:
// per-index axes (dataset.sources.0.target_ratio, ….1.target_ratio) whose
// combinations are in the same proportion, which sameMixes cannot see in
// one axis. mixes[i] is run i's mixes as it trains on them, normalised
// (the caller's key; equal keys are the same training data), and shown[i]
// how the error writes them.
func SameMixRuns(runs []Run, mixes, shown []string) error {
	seen := map[string]int{}
	for i, r := range runs {
		var rest []string
		varied := false
		for _, o := range r.Overrides {
			if k, _, _ := strings.Cut(o, "="); strings.HasSuffix(k, "target_ratio") {
				varied = true
				continue
			}
			rest = append(rest, o)
		}
		if !varied {
			continue
		}
		key := strings.Join(rest, "\x00") + "\x01" + mixes[i]
		if j, dup := seen[key]; dup {
			return fmt.Errorf("runs %s (%s) and %s (%s) would train the same mix (%s once normalised): their target_ratio values are in the same proportion; HINT: leave one of those values out, or vary whole mixes at once (--vary 'dataset.sources.target_ratio=[0.2,0.8],[0.5,0.5]')",
				runs[j].Name, ratioOverrides(runs[j]), r.Name, ratioOverrides(r), shown[i])
		}
		seen[key] = i
	}
	return nil
}

// ratioOverrides is a run's target_ratio overrides, for messages.
func ratioOverrides(r Run) string {
	var out []string
	for _, o := range r.Overrides {
		if k, _, _ := strings.Cut(o, "="); strings.HasSuffix(k, "target_ratio") {
			out = append(out, o)
		}
	}
	return strings.Join(out, " ")
}

// shares is a list of numbers divided by their sum, nil when v is not a list
// of non-negative numbers with a positive sum (the recipe refuses those).
func shares(v string) []float64 {
	var l []any
	if yaml.Unmarshal([]byte(v), &l) != nil || len(l) == 0 {
		return nil
	}
	out := make([]float64, len(l))
	var sum float64
	for i, e := range l {
		switch n := e.(type) {
		case int:
			out[i] = float64(n)
		case float64:
			out[i] = n
		default:
			return nil
		}
		if out[i] < 0 || math.IsInf(out[i], 0) || math.IsNaN(out[i]) {
			return nil
		}
		sum += out[i]
	}
	if !(sum > 0) || math.IsInf(sum, 0) {
		return nil
	}
	for i := range out {
		out[i] /= sum
	}
	return out
}

// canonicalValue is what a --vary value means for comparing: a YAML number
// (1e-3, 0.001, 1.0, 1) as its float64, a list of numbers ([0.2, 0.8],
// [.2,.8]: a whole mix's ratios) as theirs, anything else as written.
func canonicalValue(v string) string {
	var x any
	if yaml.Unmarshal([]byte(v), &x) == nil {
		if n, ok := number(x); ok {
			return "n:" + n
		}
		if l, ok := x.([]any); ok && len(l) > 0 {
			parts := make([]string, len(l))
			for i, e := range l {
				n, ok := number(e)
				if !ok {
					return "s:" + v
				}
				parts[i] = n
			}
			return "l:" + strings.Join(parts, ",")
		}
	}
	return "s:" + v
}

// number writes a decoded YAML number canonically.
func number(x any) (string, bool) {
	switch n := x.(type) {
	case int:
		return strconv.FormatFloat(float64(n), 'g', -1, 64), true
	case float64:
		return strconv.FormatFloat(n, 'g', -1, 64), true
	}
	return "", false
}

// splitValues splits at commas outside [], {} and quotes.
func splitValues(s string) ([]string, error) {
	var out []string
	depth, start := 0, 0
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '[' || c == '{':
			depth++
		case c == ']' || c == '}':
			depth--
			if depth < 0 {
				return nil, fmt.Errorf("unbalanced %q", c)
			}
		case c == ',' && depth == 0:
			out = append(out, strings.TrimSpace(s[start:i]))
			start = i + 1
		}
	}
	if quote != 0 || depth != 0 {
		return nil, fmt.Errorf("unbalanced brackets or quotes")
	}
	return append(out, strings.TrimSpace(s[start:])), nil
}

// MaxRuns is the most runs a sweep may have: Slurm's largest MaxArraySize,
// 4000001, array tasks 0 to 4000000 (slurm.conf(5)). A run's index is its
// array task id, so no bigger sweep can run as one; a bigger grid is a
// mistake (a --vary too many, a --seeds with extra zeros) that would
// otherwise be allocated, run by run, before anything is checked.
const MaxRuns = 4_000_001

// SeedAxis is --seeds N: seed = 1, 2, …, N. Check n against MaxRuns first.
func SeedAxis(n int) Axis {
	a := Axis{Key: "seed"}
	for i := 1; i <= n; i++ {
		a.Values = append(a.Values, strconv.Itoa(i))
	}
	return a
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// SafeName says whether s can name a run directory (and a Slurm job) as it is.
func SafeName(s string) bool {
	return s != "" && s != "." && s != ".." && !unsafeChars.MatchString(s)
}

// Expand returns the cartesian product of the axes in the order given, the
// last axis varying fastest. Each run is named prefix, then per axis "-" and
// the key's last part and the value: "q-target_ratio0.5-seed1". A value that
// does not start like a number is joined with "_" ("q-name_wsd"); characters
// unsafe in a file name become "_". Keys whose last parts clash keep as many
// parts as tell them apart ("0.target_ratio", "1.target_ratio"). Two runs
// with one name are an error.
func Expand(prefix string, axes []Axis) ([]Run, error) {
	if len(axes) == 0 {
		return nil, fmt.Errorf("nothing to vary: give --vary key=v1,v2,... or --seeds N")
	}
	seen := map[string]bool{}
	for _, a := range axes {
		if len(a.Values) == 0 {
			return nil, fmt.Errorf("--vary %s: no values", a.Key)
		}
		if seen[a.Key] {
			return nil, fmt.Errorf("key %q is varied twice (--seeds varies seed)", a.Key)
		}
		seen[a.Key] = true
	}
	n := 1
	for _, a := range axes {
		if len(a.Values) > MaxRuns/n {
			return nil, fmt.Errorf("%s make more than %d runs (Slurm's largest array); HINT: vary fewer keys or fewer values, one sweep after another", axesProduct(axes), MaxRuns)
		}
		n *= len(a.Values)
	}
	short := shortKeys(axes)
	runs := make([]Run, n)
	names := map[string]int{}
	for i := range runs {
		r := Run{Index: i}
		// mixed radix: the last axis is the least significant digit
		idx := make([]int, len(axes))
		for j, rem := len(axes)-1, i; j >= 0; j-- {
			idx[j] = rem % len(axes[j].Values)
			rem /= len(axes[j].Values)
		}
		var b strings.Builder
		b.WriteString(prefix)
		for j, a := range axes {
			v := a.Values[idx[j]]
			r.Overrides = append(r.Overrides, a.Key+"="+v)
			b.WriteString("-" + short[j] + nameValue(v))
		}
		r.Name = b.String()
		if k, dup := names[r.Name]; dup {
			return nil, fmt.Errorf("runs %d (%s) and %d (%s) would both be named %s: values that differ only in characters a file name cannot hold",
				k, strings.Join(runs[k].Overrides, " "), i, strings.Join(r.Overrides, " "), r.Name)
		}
		names[r.Name] = i
		runs[i] = r
	}
	return runs, nil
}

// axesProduct says how many values each axis has: "--vary lr (10 values) × --seeds 1000".
func axesProduct(axes []Axis) string {
	parts := make([]string, len(axes))
	for i, a := range axes {
		parts[i] = fmt.Sprintf("--vary %s (%d values)", a.Key, len(a.Values))
	}
	return strings.Join(parts, " × ")
}

func nameValue(v string) string {
	s := strings.Trim(unsafeChars.ReplaceAllString(v, "_"), "_")
	if s == "" {
		s = "_"
	}
	if c := v[0]; (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' {
		return s
	}
	return "_" + s
}

// shortKeys gives each axis the shortest dotted suffix of its key that no
// other axis shares.
func shortKeys(axes []Axis) []string {
	out := make([]string, len(axes))
	for i, a := range axes {
		parts := strings.Split(a.Key, ".")
		for k := 1; k <= len(parts); k++ {
			s := strings.Join(parts[len(parts)-k:], ".")
			clash := false
			for j, b := range axes {
				if j != i && (b.Key == s || strings.HasSuffix(b.Key, "."+s)) {
					clash = true
				}
			}
			out[i] = s
			if !clash {
				break
			}
		}
	}
	return out
}
