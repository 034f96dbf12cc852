package olmes

import (
	"errors"
	"fmt"
	"strings"

	"github.com/olmolab/olmolab/lab/data"
)

// InputError is a problem with what a person asked for or gave: an unknown task or formulation, a missing data
// file, a malformed request or evals line. It mirrors data.InputError; front ends map both to exit code 2 (bad
// input) with IsInputError. Everything else is an internal or I/O error.
type InputError struct {
	Path string // the file or directory, if any
	Line int    // 1-based line in Path, if any
	Msg  string // what was wrong
	Hint string // what to do about it, if we know
	Err  error  // the underlying error, if any
}

func (e *InputError) Error() string {
	// no "olmes: ": the package's name says nothing to whoever typed the
	// command; the path (and the field, where the caller adds it) says where
	var b strings.Builder
	if e.Path != "" {
		b.WriteString(e.Path)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d", e.Line)
		}
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	if e.Hint != "" {
		b.WriteString("\nHINT: ")
		b.WriteString(e.Hint)
	}
	return b.String()
}

func (e *InputError) Unwrap() error { return e.Err }

// IsInputError reports whether err is, wraps or joins an *InputError of this package or of lab/data (an unknown
// tokenizer, say).
func IsInputError(err error) bool {
	var ie *InputError
	return errors.As(err, &ie) || data.IsInputError(err)
}

func inputErrorf(path string, line int, hint, format string, args ...any) *InputError {
	return &InputError{Path: path, Line: line, Msg: fmt.Sprintf(format, args...), Hint: hint}
}
