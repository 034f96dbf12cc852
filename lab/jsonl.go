package lab

import (
	"bytes"
	"strconv"

	"github.com/olmolab/olmolab/lab/jsonfield"
)

// lineStep is the top-level "step" of a JSONL line, if it has one.
func lineStep(line []byte) (step int64, has, ok bool) {
	odd := false
	ok = jsonfield.Each(line, func(k, v []byte) {
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
