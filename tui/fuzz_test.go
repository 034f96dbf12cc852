package tui

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"testing"

	"github.com/olmolab/olmolab/lab"
)

// FuzzDecodeEvent: a metrics.jsonl or events.jsonl line that is JSON reads
// through the fast step reader (fastStepEvent) as encoding/json reads it,
// less the source counts the UI never shows, or not at all: the charts show
// the run's own numbers. Lines with a null are left out of the comparison:
// the UI reads a null loss as NaN (a skipped step's gap), which encoding/json
// leaves at 0.
func FuzzDecodeEvent(f *testing.F) {
	f.Add([]byte(`{"type":"step","time":"2026-11-01T00:00:00.123456789Z","run":"r","step":7,"tokens":1099511627776,"phase":"stage1","loss":2.5,"z_loss":0.0005,"grad_norm":0.3,"lr":0.0003,"tokens_per_s":3100000,"mfu":0.41,"loss_z":-1.5,"grad_z":4.2,"spike_score":{"loss":0.1,"grad_norm":2},"sources":{"web":5},"total_tokens":4398046511104}`))
	f.Add([]byte(`{"type":"step","run":"r` + "\xff" + `","step":1,"skipped":true}`))
	f.Add([]byte(`{"type":"step","step":1.5,"loss":1}`))
	f.Add([]byte(`{"type":"spike","run":"r","step":3,"series":"loss","value":9,"z":7}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		var got lab.Event
		ok := decodeEvent(line, &got) // never a panic, whatever the line
		if !json.Valid(line) || bytes.Contains(line, []byte("null")) {
			return
		}
		var want eventLine
		err := json.Unmarshal(line, &want)
		if ok != (err == nil) {
			t.Fatalf("%s: decoded %v, encoding/json error %v", line, ok, err)
		}
		if err != nil {
			return
		}
		w := want.Event
		w.Sources = nil
		if !reflect.DeepEqual(got, w) && !(math.IsNaN(got.Loss) && math.IsNaN(w.Loss)) {
			t.Errorf("%s:\nfast          %+v\nencoding/json %+v", line, got, w)
		}
	})
}
