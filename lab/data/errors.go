package data

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// InputError is a problem with the data a person asked for: a missing file, a bad ratio, a malformed line, an empty
// source. The lab maps it to exit code 2 (bad input) with errors.As; everything else is an internal or I/O error.
// Several problems found at once are returned joined (their Unwrap() []error), each an *InputError.
type InputError struct {
	Source string // the mix source's name, if any
	Path   string // the file, if any
	Line   int    // 1-based line in Path, if any
	Msg    string // what was wrong
	Hint   string // what to do about it, if we know
	Err    error  // the underlying error, if any
}

func (e *InputError) Error() string {
	var b strings.Builder
	e.writeMsg(&b)
	if e.Hint != "" {
		b.WriteString("\nHINT: ")
		b.WriteString(e.Hint)
	}
	return b.String()
}

// writeMsg writes the problem without its hint: where (the source, the
// file and line) and what, with no package name, which says nothing to
// whoever gave the data (the caller adds the recipe file and field).
func (e *InputError) writeMsg(b *strings.Builder) {
	if e.Source != "" {
		fmt.Fprintf(b, "source %q: ", e.Source)
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		if e.Line > 0 {
			fmt.Fprintf(b, ":%d", e.Line)
		}
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
}

func (e *InputError) Unwrap() error { return e.Err }

// inputErrors is several problems found at once. Its message has each
// problem on a line, and each distinct hint once, after the last problem
// that has it: three sources whose files are missing get one "check the
// path" hint, not three.
type inputErrors []*InputError

func (es inputErrors) Error() string {
	var b strings.Builder
	for i, e := range es {
		if i > 0 {
			b.WriteByte('\n')
		}
		e.writeMsg(&b)
		if e.Hint != "" && !slices.ContainsFunc(es[i+1:], func(l *InputError) bool { return l.Hint == e.Hint }) {
			b.WriteString("\nHINT: ")
			b.WriteString(e.Hint)
		}
	}
	return b.String()
}

// Unwrap gives errors.Is and errors.As every problem.
func (es inputErrors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// IsInputError reports whether err is, wraps or joins an *InputError.
func IsInputError(err error) bool {
	var ie *InputError
	return errors.As(err, &ie)
}

// maxReported bounds how many problems one validation pass returns, so that a directory of broken files gives a
// readable message rather than thousands of lines.
const maxReported = 8

// problems collects InputErrors during validation.
type problems struct {
	errs    []*InputError
	dropped int
}

func (p *problems) add(e *InputError) {
	if len(p.errs) < maxReported {
		p.errs = append(p.errs, e)
	} else {
		p.dropped++
	}
}

func (p *problems) err() error {
	if len(p.errs) == 0 {
		return nil
	}
	if p.dropped > 0 {
		p.errs = append(p.errs, &InputError{Msg: fmt.Sprintf("and %d more problems", p.dropped)})
	}
	if len(p.errs) == 1 {
		return p.errs[0]
	}
	return inputErrors(p.errs)
}
