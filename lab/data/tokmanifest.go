package data

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/olmolab/olmolab/lab/plural"
)

// ManifestName is the file in a Tokenize OutDir that says what the run has finished, so that an interrupted run can
// be resumed (TokenizeParams.Resume). Hidden and of no data suffix, so that a source reading the directory skips it.
const ManifestName = ".olmolab-tokenize"

// tokManifest is ManifestName's content, rewritten (to a temporary name, then renamed) every time a part file is
// renamed into place: the settings that shape the output, every input file, and each finished part with where in
// the inputs it ends. A resumed run skips the inputs before the last part's end, reads past (without tokenizing) the
// documents of the input it ends in, and starts the next part there, exactly as the uninterrupted run would have.
type tokManifest struct {
	Tokenizer    string     `json:"tokenizer"`
	DType        DType      `json:"dtype"`
	MaxFileBytes int64      `json:"max_file_bytes"`
	Inputs       []tokInput `json:"inputs"`
	Parts        []tokPart  `json:"parts"`
	Complete     bool       `json:"complete"`
	Skipped      int64      `json:"skipped,omitempty"` // malformed lines in all, once Complete
}

type tokInput struct {
	Path    string `json:"path"`
	Size    int64  `json:"size"`
	ModTime int64  `json:"mtime_ns"`
}

// tokPart is a finished part file: its size, the position of its last document (docPos) and the totals of the
// parts up to it.
type tokPart struct {
	Name  string `json:"name"`
	Bytes int64  `json:"bytes"`
	docPos
	Documents int64 `json:"documents"`
	Tokens    int64 `json:"tokens"`
	Text      int64 `json:"text_bytes"`
}

// docPos is where a document was read: inputs[Input], line Line (1-based); Skipped counts the malformed lines skipped
// before it.
type docPos struct {
	Input   int   `json:"input"`
	Line    int   `json:"line"`
	Skipped int64 `json:"skipped"`
}

func statInputs(paths []string) ([]tokInput, error) {
	out := make([]tokInput, len(paths))
	for i, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, &InputError{Path: p, Msg: "cannot stat input", Err: unwrapPathErr(err)}
		}
		out[i] = tokInput{Path: p, Size: st.Size(), ModTime: st.ModTime().UnixNano()}
	}
	return out, nil
}

func writeManifest(dir string, m *tokManifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(dir, ManifestName)
	tmp := path + ".new"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		os.Remove(tmp)
		return writeErr(tmp, "write", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return writeErr(tmp, "rename", err)
	}
	return nil
}

// readManifest reads dir's manifest; nil without one.
func readManifest(dir string) (*tokManifest, error) {
	path := filepath.Join(dir, ManifestName)
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, &InputError{Path: path, Msg: "cannot read the tokenize manifest", Err: unwrapPathErr(err)}
	}
	var m tokManifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, &InputError{Path: path, Msg: "damaged tokenize manifest", Err: err,
			Hint: "tokenize into a new --out directory (this one's part files cannot be told whole)"}
	}
	return &m, nil
}

// checkResume says why m's run cannot be continued with these settings and inputs: the settings that differ (the
// output would not be the uninterrupted run's), other inputs, an input read already that changed, a part file
// missing or of another size.
func checkResume(dir string, m *tokManifest, tok string, dt DType, maxBytes int64, inputs []tokInput) error {
	path := filepath.Join(dir, ManifestName)
	var diff, was []string
	if m.Tokenizer != tok {
		diff = append(diff, fmt.Sprintf("--tokenizer %s (the run's was %s)", tok, m.Tokenizer))
		was = append(was, "--tokenizer "+m.Tokenizer)
	}
	if m.DType != dt {
		diff = append(diff, fmt.Sprintf("--dtype %s (the run's was %s)", dt, m.DType))
		was = append(was, "--dtype "+m.DType.String())
	}
	if m.MaxFileBytes != maxBytes {
		diff = append(diff, fmt.Sprintf("--max-file-mb %s (the run's was %s)", mib(maxBytes), mib(m.MaxFileBytes)))
		was = append(was, "--max-file-mb "+mib(m.MaxFileBytes))
	}
	if len(diff) > 0 {
		return &InputError{Path: path, Msg: "cannot resume with other settings: " + strings.Join(diff, ", "),
			Hint: "resume with the run's settings (" + strings.Join(was, " ") + "), or tokenize into a new --out directory"}
	}
	names := func(in []tokInput) []string {
		var out []string
		for _, i := range in {
			out = append(out, i.Path)
		}
		return out
	}
	if !slices.Equal(names(m.Inputs), names(inputs)) {
		return &InputError{Path: path, Msg: fmt.Sprintf("cannot resume with other inputs: the run read %s (%s), these are %s (%s)",
			plural.N(len(m.Inputs), "file"), listFew(names(m.Inputs)), plural.N(len(inputs), "file"), listFew(names(inputs))),
			Hint: "give the run's inputs, in the same order, or tokenize into a new --out directory"}
	}
	if len(m.Parts) > 0 {
		last := m.Parts[len(m.Parts)-1].Input
		for i := 0; i <= last; i++ {
			if m.Inputs[i] != inputs[i] {
				return &InputError{Path: inputs[i].Path, Msg: "changed since the run being resumed read it (size or modification time)",
					Hint: "tokenize into a new --out directory: the files written hold its old documents"}
			}
		}
	}
	for _, p := range m.Parts {
		st, err := os.Stat(filepath.Join(dir, p.Name))
		if err != nil || st.Size() != p.Bytes {
			return &InputError{Path: filepath.Join(dir, p.Name), Msg: "missing, or not the size the run wrote",
				Hint: "tokenize into a new --out directory"}
		}
	}
	return nil
}

// mib writes a size as --max-file-mb takes it, in bytes where it is not a whole MiB.
func mib(n int64) string {
	if n%(1<<20) == 0 {
		return fmt.Sprint(n >> 20)
	}
	return fmt.Sprintf("%d bytes", n)
}

// summary is what a complete run's parts hold.
func (m *tokManifest) summary(dir string) TokenizeSummary {
	var s TokenizeSummary
	for _, pt := range m.Parts {
		s.Files = append(s.Files, filepath.Join(dir, pt.Name))
	}
	if n := len(m.Parts); n > 0 {
		last := m.Parts[n-1]
		s.Documents, s.Tokens, s.TextBytes = last.Documents, last.Tokens, last.Text
	}
	s.Skipped, s.Resumed, s.ResumedTokens = m.Skipped, len(m.Parts), s.Tokens
	return s
}
