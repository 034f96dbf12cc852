package data

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzJSONL feeds arbitrary bytes to the JSON-lines reader: it must terminate without panicking, account for every
// line (a document, a skipped blank or empty-text line, or a malformed line with its number), and the documents it
// returns must survive a write–read round trip.
func FuzzJSONL(f *testing.F) {
	f.Add([]byte("{\"text\": \"hello\"}\n{\"text\": \"world\", \"id\": 2}\n"))
	f.Add([]byte("{\"text\": \"a\"}\r\n\n   \n{\"text\": 5}\n[1]\n\"x\"\nnull\n{\"text\":\"\\u00e9\\ud83d\\ude00\"}"))
	f.Add([]byte("{\"id\": 1, \"text\": \"no newline at end\"}"))
	f.Add([]byte("{\"text\": \"bad\xff utf8\"}\n{\"TEXT\": \"case\"}\n{\"text\": \"dup\", \"text\": \"last\"}\n"))
	f.Add([]byte("{{{{\n}}}}\n{\"text\": \"\"}\n"))
	f.Add([]byte("\n[\n  {\"text\": \"a\"},\n  {\"text\": \"b\"}\n]\n"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "f.jsonl")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		d, err := openDocs(path)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		lines := bytes.Count(data, []byte("\n"))
		if len(data) > 0 && data[len(data)-1] != '\n' {
			lines++
		}
		var texts []string
		last := 0
		for {
			doc, err := d.next()
			if err == io.EOF {
				break
			}
			line := doc.Line
			if err != nil {
				if ie, ok := err.(*InputError); ok && ie.Msg == msgJSONArray {
					if last != 0 { // only the first line that is not blank opens an array
						t.Fatalf("JSON array at line %d, after line %d", ie.Line, last)
					}
					return
				}
				if !isMalformed(err) {
					t.Fatalf("unexpected error %v", err)
				}
				line = err.(*InputError).Line
			} else {
				if doc.Text == "" {
					t.Fatal("returned a document with empty text")
				}
				texts = append(texts, doc.Text)
			}
			if line <= last || line > lines {
				t.Fatalf("line %d after line %d, file has %d lines", line, last, lines)
			}
			last = line
		}
		// Round trip: what was read, written as JSON lines, reads back the same (modulo invalid UTF-8, which JSON
		// replaces).
		if len(texts) == 0 {
			return
		}
		path2 := filepath.Join(dir, "g.jsonl")
		if err := os.WriteFile(path2, jsonl(texts...), 0o644); err != nil {
			t.Fatal(err)
		}
		d2, err := openDocs(path2)
		if err != nil {
			t.Fatal(err)
		}
		defer d2.Close()
		for i, want := range texts {
			doc, err := d2.next()
			if err != nil {
				t.Fatalf("round trip doc %d: %v", i, err)
			}
			if doc.Text != strings.ToValidUTF8(want, "\uFFFD") {
				t.Fatalf("round trip doc %d: %q, want %q", i, doc.Text, want)
			}
		}
	})
}

// FuzzTokenFile validates arbitrary bytes as a token file: a size that is not a multiple of the element size, an id
// at or past the vocabulary and a file too short for one instance are each an InputError; otherwise the source
// holds size/(dtype·seqLen) instances whose tokens are the file's little-endian ids.
func FuzzTokenFile(f *testing.F) {
	f.Add([]byte{1, 0, 2, 0, 3, 0, 4, 0}, false, uint8(2), uint16(300))
	f.Add([]byte{1, 0, 0, 0, 2, 0, 0, 0, 255, 255, 0, 0}, true, uint8(1), uint16(1000))
	f.Add([]byte{1, 2, 3}, false, uint8(1), uint16(10))
	f.Add([]byte{}, true, uint8(3), uint16(10))
	f.Add([]byte("\x93NUMPY\x01\x00v\x00{'descr': '<u2', 'fortran_order': False, 'shape': (4,), }"), false, uint8(2), uint16(65535))
	f.Add(bytes.Repeat([]byte{7, 0, 0, 0}, 8), false, uint8(4), uint16(300)) // uint32 ids 7 read as uint16
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte, wide bool, seqLen uint8, vocab uint16) {
		if seqLen == 0 || vocab == 0 {
			return
		}
		dt := Uint16
		if wide {
			dt = Uint32
		}
		path := filepath.Join(dir, "f.npy")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		var want []int32
		bad := false
		for i := 0; i+int(dt) <= len(data); i += int(dt) {
			var id uint32
			if dt == Uint16 {
				id = uint32(binary.LittleEndian.Uint16(data[i:]))
			} else {
				id = binary.LittleEndian.Uint32(data[i:])
			}
			bad = bad || id >= uint32(vocab)
			want = append(want, int32(id))
		}
		wideLooking := dt == Uint16 && len(want) >= 16 && len(want)%2 == 0
		low := false
		for i := 0; i+1 < len(want) && wideLooking; i += 2 {
			wideLooking = want[i+1] == 0
			low = low || want[i] != 0
		}
		wideLooking = wideLooking && low
		var probs problems
		tok := fixedVocab{byteTokenizer{}, int(vocab)}
		s := openSource(SourceSpec{Name: "f", TargetRatio: 1, Paths: []string{path}},
			openParams{tok: tok, seqLen: int(seqLen), dtype: dt, warn: func(string) {}}, &probs)
		err := probs.err()
		switch {
		case strings.HasPrefix(string(data), npyMagic):
			if !IsInputError(err) || !strings.Contains(err.Error(), "np.save") {
				t.Fatalf("npy header: err = %v", err)
			}
		case len(data)%int(dt) != 0:
			if !IsInputError(err) || !strings.Contains(err.Error(), "not a multiple") {
				t.Fatalf("size %d: err = %v", len(data), err)
			}
		case bad:
			if !IsInputError(err) || !strings.Contains(err.Error(), "not below the vocabulary") {
				t.Fatalf("id past vocab: err = %v", err)
			}
		case wideLooking:
			if !IsInputError(err) || !strings.Contains(err.Error(), "uint32 ids") {
				t.Fatalf("uint32 ids read as uint16: err = %v", err)
			}
		case len(want) < int(seqLen):
			if !IsInputError(err) || !strings.Contains(err.Error(), "empty") {
				t.Fatalf("short file: err = %v", err)
			}
		default:
			if err != nil || s == nil {
				t.Fatalf("valid file: err = %v", err)
			}
			defer s.close()
			if n := s.instances(); n != int64(len(want)/int(seqLen)) {
				t.Fatalf("%d instances, want %d", n, len(want)/int(seqLen))
			}
			buf := make([]int32, seqLen)
			var scratch []byte
			for k := range s.instances() {
				if err := s.files[0].read(buf, k*int64(seqLen), &scratch); err != nil {
					t.Fatalf("instance %d: %v", k, err)
				}
				if !slices.Equal(buf, want[k*int64(seqLen):(k+1)*int64(seqLen)]) {
					t.Fatalf("instance %d = %v", k, buf)
				}
			}
			return
		}
		if s != nil {
			t.Fatal("invalid file gave a source")
		}
	})
}

// fixedVocab overrides a tokenizer's vocabulary size (for FuzzTokenFile's id check).
type fixedVocab struct {
	Tokenizer
	v int
}

func (f fixedVocab) VocabSize() int { return f.v }

// TestParseDoc: what a Dolma line gives, and what a malformed one is called, in the file's terms.
func TestParseDoc(t *testing.T) {
	for _, tc := range []struct {
		line, text, err string
	}{
		{`{"text": "hello", "id": 1}`, "hello", ""},
		{"\xef\xbb\xbf{\"text\": \"first line after a BOM\"}", "first line after a BOM", ""},
		{`{"text": 5}`, "", `"text" is a JSON number, not a string`},
		{`{"text": ["a", "b"]}`, "", `"text" is a JSON array, not a string`},
		{`{"text": {"a": 1}}`, "", `"text" is a JSON object, not a string`},
		{`{"text": null}`, "", `no "text" field`},
		{`{"id": 1}`, "", `no "text" field`},
		{`[1, 2]`, "", "not a JSON object"},
		{"\xef\xbb\xbf", "", "not a JSON object"},
		{`{"text": "unclosed}`, "", "unexpected end of JSON input"},
		{"{\"text\": \"caf\xe9\"}", "", "invalid UTF-8 (byte 0xe9 at column 14): JSON text must be UTF-8"},
	} {
		text, err := parseDoc([]byte(tc.line))
		if text != tc.text || (err == nil) != (tc.err == "") || err != nil && !strings.Contains(err.Error(), tc.err) {
			t.Errorf("parseDoc(%q) = %q, %v; want %q, %q", tc.line, text, err, tc.text, tc.err)
		}
	}
}

// FuzzRestore: a checkpoint's loader state (state.json's "loader", which a
// person may edit or a disk may damage) either restores or is refused; the
// restored loader then serves batches or returns an error, never a panic.
func FuzzRestore(f *testing.F) {
	dir := f.TempDir()
	toks := writeTokens(f, filepath.Join(dir, "tok.npy"), Uint16, seqIDs(4096, 200))
	docs := writeFile(f, filepath.Join(dir, "docs.jsonl"), jsonl("one document", "another document, longer", "a third"))
	specs := []SourceSpec{{Name: "tok", TargetRatio: 0.5, Paths: []string{toks}}, {Name: "docs", TargetRatio: 0.5, Paths: []string{docs}}}
	l := mustLoader(f, LoaderParams{SeqLen: 8, Seed: 1, DType: Uint16, Sources: specs})
	batches(f, l, 5, 4)
	good, _ := json.Marshal(l.State())
	f.Add(good)
	f.Add(bytes.Replace(good, []byte(`"weight":`), []byte(`"weight":-`), 1))
	f.Add(bytes.Replace(good, []byte(`"cursor":{`), []byte(`"cursor":{"file":7,"token":-3,`), 1))
	f.Add([]byte(`{"version":1,"tokenizer":"bytes","seq_len":8,"seed":1,"sources":[{"name":"tok","weight":1,"cursor":{"instance":-1,"epoch":-2}},{"name":"tok","weight":1}]}`))
	f.Add(bytes.ReplaceAll(good, []byte(`"cursor":{`), []byte(`"cursor":{"window":255,`))) // past the end of a short window
	f.Fuzz(func(t *testing.T, b []byte) {
		var st LoaderState
		if json.Unmarshal(b, &st) != nil {
			return
		}
		var w warnings
		l := mustLoader(t, LoaderParams{SeqLen: 8, Seed: 1, DType: Uint16, Sources: specs, Warn: w.warn})
		if err := l.Restore(st); err != nil {
			return
		}
		ids := make([]int32, 4*8)
		for range 3 {
			if err := l.Next(ids); err != nil {
				return
			}
		}
	})
}

// FuzzDocFile reads arbitrary bytes as each kind of document file (JSON lines
// and text, plain, gzip and zstd), the inputs of a source and of tokenize that
// FuzzJSONL does not cover: the reader ends without panicking, every error is
// an *InputError naming the file, and every document it returns is non-empty
// UTF-8.
func FuzzDocFile(f *testing.F) {
	docs := jsonl("one document", "caf\u00e9 \U0001F642", "three")
	f.Add(gz(docs), uint8(0))
	f.Add(gz(docs)[:20], uint8(0))
	f.Add(zst(docs), uint8(1))
	f.Add(zst(docs)[:len(zst(docs))-3], uint8(1))
	f.Add([]byte("plain text\nover two lines"), uint8(2))
	f.Add([]byte("caf\xe9"), uint8(2))
	f.Add(gz([]byte("gzipped text")), uint8(3))
	f.Add(zst([]byte("{\"text\": \"bad\xff\"}\n")), uint8(4))
	names := []string{"d.jsonl.gz", "d.jsonl.zst", "d.txt", "d.txt.gz", "d.json.zst"}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte, kind uint8) {
		path := filepath.Join(dir, names[int(kind)%len(names)])
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		named := func(err error) {
			t.Helper()
			ie, ok := err.(*InputError)
			if !ok || ie.Path != path {
				t.Fatalf("error %v (%T) is not an InputError naming %s", err, err, path)
			}
		}
		d, err := openDocs(path)
		if err != nil {
			named(err)
			return
		}
		defer d.Close()
		for range 1 << 16 {
			doc, err := d.next()
			if err == io.EOF {
				return
			}
			if err != nil {
				named(err)
				if isMalformed(err) {
					continue
				}
				return
			}
			if doc.Text == "" || !utf8.ValidString(doc.Text) {
				t.Fatalf("document %q: empty or not UTF-8", doc.Text)
			}
		}
		t.Fatal("no end after 65536 documents")
	})
}
