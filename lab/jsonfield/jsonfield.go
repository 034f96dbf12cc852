// Package jsonfield takes a JSON object apart into its top-level keys and raw
// values without decoding it: the lab's JSONL files (metrics.jsonl,
// evals.jsonl) are read a million lines at a time, and encoding/json's
// reflection was most of that time. It imports nothing of olmolab, so that
// lab and lab/olmes can both use it.
package jsonfield

// Each calls fn with each top-level key of the JSON object line and the
// raw bytes of its value (a string with its quotes, a nested object or array
// whole), without decoding anything: reading a million-line metrics.jsonl for
// a step number or a loss takes a tenth of encoding/json's time. It returns
// false for a line it cannot take apart this way (not one object, a key with
// an escape, malformed), and the caller falls back to encoding/json; values
// are not validated, only delimited.
func Each(line []byte, fn func(key, val []byte)) bool {
	i := skipSpace(line, 0)
	if i >= len(line) || line[i] != '{' {
		return false
	}
	i = skipSpace(line, i+1)
	if i < len(line) && line[i] == '}' {
		return skipSpace(line, i+1) == len(line)
	}
	for {
		if i >= len(line) || line[i] != '"' {
			return false
		}
		k0 := i + 1
		i = k0
		for i < len(line) && line[i] != '"' {
			if line[i] == '\\' || line[i] < 0x20 { // an escape, or a control character JSON forbids
				return false
			}
			i++
		}
		if i >= len(line) {
			return false
		}
		key := line[k0:i]
		i = skipSpace(line, i+1)
		if i >= len(line) || line[i] != ':' {
			return false
		}
		i = skipSpace(line, i+1)
		end := valueEnd(line, i)
		if end <= i {
			return false
		}
		fn(key, line[i:end])
		i = skipSpace(line, end)
		if i >= len(line) {
			return false
		}
		if line[i] == '}' {
			return skipSpace(line, i+1) == len(line)
		}
		if line[i] != ',' {
			return false
		}
		i = skipSpace(line, i+1)
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// valueEnd returns the index just after the JSON value starting at i, or -1.
func valueEnd(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		for j := i + 1; j < len(b); j++ {
			switch b[j] {
			case '\\':
				j++
			case '"':
				return j + 1
			}
		}
		return -1
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				e := valueEnd(b, j)
				if e < 0 {
					return -1
				}
				j = e - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	}
	j := i
	for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\t' && b[j] != '\n' && b[j] != '\r' {
		j++
	}
	return j
}
