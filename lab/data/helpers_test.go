package data

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// writeTokens writes ids as a headerless little-endian token file.
func writeTokens(t testing.TB, path string, dt DType, ids []uint32) string {
	t.Helper()
	var b bytes.Buffer
	for _, id := range ids {
		if dt == Uint16 {
			binary.Write(&b, binary.LittleEndian, uint16(id))
		} else {
			binary.Write(&b, binary.LittleEndian, id)
		}
	}
	writeFile(t, path, b.Bytes())
	return path
}

func writeFile(t testing.TB, path string, data []byte) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// jsonl renders texts as Dolma JSON lines.
func jsonl(texts ...string) []byte {
	var b bytes.Buffer
	for i, s := range texts {
		line, _ := json.Marshal(map[string]any{"id": i, "text": s, "source": "test"})
		b.Write(line)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func gz(data []byte) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write(data)
	w.Close()
	return b.Bytes()
}

func zst(data []byte) []byte {
	e, _ := zstd.NewWriter(nil)
	return e.EncodeAll(data, nil)
}

// seqIDs returns 0, 1, …, n-1 modulo mod.
func seqIDs(n, mod int) []uint32 {
	ids := make([]uint32, n)
	for i := range ids {
		ids[i] = uint32(i % mod)
	}
	return ids
}

// warnings collects Warn calls.
type warnings struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warnings) warn(s string) {
	w.mu.Lock()
	w.msgs = append(w.msgs, s)
	w.mu.Unlock()
}

func (w *warnings) joined() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.msgs, "\n")
}

func mustLoader(t testing.TB, p LoaderParams) *Loader {
	t.Helper()
	if p.Tokenizer == nil {
		p.Tokenizer = byteTokenizer{}
	}
	l, err := NewLoader(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	return l
}

// batches takes n batches of b instances.
func batches(t testing.TB, l *Loader, n, b int) [][]int32 {
	t.Helper()
	var out [][]int32
	for range n {
		ids := make([]int32, b*l.p.SeqLen)
		if err := l.Next(ids); err != nil {
			t.Fatal(err)
		}
		out = append(out, ids)
	}
	return out
}

func equalBatches(a, b [][]int32) bool {
	return slices.EqualFunc(a, b, func(x, y []int32) bool { return slices.Equal(x, y) })
}
