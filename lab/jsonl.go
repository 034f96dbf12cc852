package lab

import (
	"bytes"
	"strconv"

	"github.com/olmolab/olmolab/lab/jsonfield"
)

// EachField is jsonfield.Each: it calls fn with each top-level key of the
// JSON object line and the raw bytes of its value, without decoding anything;
// false for a line it cannot take apart this way, which the caller then reads
// with encoding/json.
func EachField(line []byte, fn func(key, val []byte)) bool { return jsonfield.Each(line, fn) }

// lineStep is the top-level "step" of a JSONL line, if it has one.
func lineStep(line []byte) (step int64, has, ok bool) {
	odd := false
	ok = EachField(line, func(k, v []byte) {
		switch {
		case string(k) == "step":
			n, err := strconv.ParseInt(string(v), 10, 64)
			if err == nil {
				step, has = n, true
			}
		case bytes.EqualFold(k, []byte("step")):
			odd = true // encoding/json would match "Step": let it decide
		}
	})
	return step, has, ok && !odd
}
