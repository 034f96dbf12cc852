package safetensors

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"

	"github.com/olmolab/olmolab/model/tempfile"
)

// The file names transformers uses for a safetensors checkpoint.
const (
	SingleFileName = "model.safetensors"
	IndexFileName  = "model.safetensors.index.json"
)

// shardPattern matches the shard names WriteSharded and transformers write;
// WriteSharded removes stale ones left by an earlier save into the same dir.
var shardPattern = regexp.MustCompile(`^model-[0-9]{5}-of-[0-9]{5}\.safetensors$`)

// Checkpoint is a Hugging Face checkpoint directory: one model.safetensors,
// or shards listed by model.safetensors.index.json. Its files are open, as
// from Open: Close it when done.
type Checkpoint struct {
	Dir string
	// Metadata is the __metadata__ of the first file (shards in name
	// order). WriteSharded gives every shard the same metadata, and so
	// does transformers ({"format": "pt"}).
	Metadata map[string]string
	Files    []*File // the single file, or the shards in name order

	byName map[string]*Tensor
	names  []string
}

// Get returns the tensor called name, from whichever shard holds it.
func (c *Checkpoint) Get(name string) (*Tensor, bool) {
	t, ok := c.byName[name]
	return t, ok
}

// Names returns every tensor name: shards in name order, each in file
// order. For a checkpoint from WriteSharded that is the order it was given.
func (c *Checkpoint) Names() []string { return slices.Clone(c.names) }

// Close closes every file of the checkpoint and returns the first error.
func (c *Checkpoint) Close() error {
	return closeAll(c.Files)
}

func closeAll(files []*File) error {
	var first error
	for _, f := range files {
		if f == nil {
			continue
		}
		if err := f.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// OpenDir opens the checkpoint in dir, as transformers' from_pretrained
// looks for it: model.safetensors if present, else the index and every shard
// it names. Every file is opened with Open: its header is read and validated
// and its tensor data left on disk, to be read by the tensors' conversions
// straight into the caller's buffers. For a sharded checkpoint it is an error (naming the file and the
// tensor) for a shard to be missing, for a tensor listed in the index to be
// absent from its shard or present in another one, for a tensor to be in two
// shards, or for a shard to hold a tensor the index does not list: any of
// these means a torn or mixed-up save, and loading on would give a model with
// missing or stale weights.
func OpenDir(dir string) (*Checkpoint, error) {
	single := filepath.Join(dir, SingleFileName)
	if _, err := os.Stat(single); err == nil {
		f, err := Open(single)
		if err != nil {
			return nil, err
		}
		return newCheckpoint(dir, []*File{f}), nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	index := filepath.Join(dir, IndexFileName)
	b, err := os.ReadFile(index)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: no %s or %s: not a safetensors checkpoint directory", dir, SingleFileName, IndexFileName)
	}
	if err != nil {
		return nil, err
	}
	weightMap, err := parseIndex(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", index, err)
	}
	return openShards(dir, index, weightMap)
}

func newCheckpoint(dir string, files []*File) *Checkpoint {
	c := &Checkpoint{Dir: dir, Files: files, byName: map[string]*Tensor{}}
	if len(files) > 0 {
		c.Metadata = files[0].Metadata
	}
	for _, f := range files {
		for i := range f.Tensors {
			t := &f.Tensors[i]
			c.byName[t.Name] = t
			c.names = append(c.names, t.Name)
		}
	}
	return c
}

// openShards reads the shards named in weightMap (tensor name -> shard file)
// and checks that they hold exactly the tensors the index says.
func openShards(dir, index string, weightMap map[string]string) (*Checkpoint, error) {
	// Visit tensors in sorted order so that errors are deterministic.
	names := make([]string, 0, len(weightMap))
	for name := range weightMap {
		names = append(names, name)
	}
	slices.Sort(names)
	firstTensor := map[string]string{} // shard -> first tensor listed in it, for error messages
	for _, name := range names {
		shard := weightMap[name]
		if !filepath.IsLocal(shard) {
			return nil, fmt.Errorf("%s: tensor %q: shard %q is not a path inside the checkpoint directory", index, name, shard)
		}
		if _, ok := firstTensor[shard]; !ok {
			firstTensor[shard] = name
		}
	}
	shards := make([]string, 0, len(firstTensor))
	for shard := range firstTensor {
		shards = append(shards, shard)
	}
	slices.Sort(shards)

	files := make([]*File, len(shards))
	ok := false
	defer func() {
		if !ok {
			closeAll(files)
		}
	}()
	owner := map[string]string{} // tensor -> shard it was found in
	for i, shard := range shards {
		path := filepath.Join(dir, shard)
		f, err := Open(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: tensor %q: its shard %s does not exist", index, firstTensor[shard], path)
		}
		if err != nil {
			return nil, err
		}
		files[i] = f
		for _, t := range f.Tensors {
			if prev, dup := owner[t.Name]; dup {
				return nil, fmt.Errorf("%s: tensor %q: also in shard %s; a tensor must be in one shard only", path, t.Name, filepath.Join(dir, prev))
			}
			owner[t.Name] = shard
			switch listed, ok := weightMap[t.Name]; {
			case !ok:
				return nil, fmt.Errorf("%s: tensor %q: not listed in %s", path, t.Name, index)
			case listed != shard:
				return nil, fmt.Errorf("%s: tensor %q: %s lists it in shard %s", path, t.Name, index, listed)
			}
		}
	}
	for _, name := range names {
		if _, ok := owner[name]; !ok {
			return nil, fmt.Errorf("%s: tensor %q: listed in %s but absent from this shard", filepath.Join(dir, weightMap[name]), name, index)
		}
	}
	ok = true
	return newCheckpoint(dir, files), nil
}

// parseIndex returns the weight_map of a model.safetensors.index.json,
// rejecting a tensor listed twice (which a Go map would silently drop).
// Other top-level fields, such as metadata.total_size, are not checked:
// writers disagree on what they count.
func parseIndex(b []byte) (map[string]string, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := expectDelim(dec, '{'); err != nil {
		return nil, err
	}
	var weightMap map[string]string
	seen := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, jsonErr(dec, err)
		}
		key, _ := tok.(string)
		if key != "weight_map" {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return nil, fmt.Errorf("%s: %w", key, jsonErr(dec, err))
			}
			continue
		}
		if seen {
			return nil, errors.New("weight_map appears twice")
		}
		seen = true
		if weightMap, err = parseStringMap(dec); err != nil {
			return nil, fmt.Errorf("weight_map: %w", err)
		}
	}
	if err := expectDelim(dec, '}'); err != nil {
		return nil, err
	}
	if tok, err := dec.Token(); err != io.EOF {
		if err != nil {
			return nil, jsonErr(dec, err)
		}
		return nil, fmt.Errorf("unexpected %s after the JSON object", describe(tok))
	}
	if len(weightMap) == 0 {
		return nil, errors.New("no weight_map, or an empty one: the index lists no tensors")
	}
	return weightMap, nil
}

// WriteSharded saves tensors into dir as transformers' save_pretrained does:
// shards model-00001-of-0000n.safetensors of at most maxShardBytes of tensor
// data each (a larger tensor gets a shard of its own; maxShardBytes <= 0
// means no limit), plus model.safetensors.index.json, or a single
// model.safetensors when one shard suffices. Tensors keep the given order
// and each shard carries metadata. dir is created if needed.
//
// Each file is written atomically, shards before the index. Afterwards the
// files of an earlier save that this one did not replace (model.safetensors,
// the index, or shards with other names) are removed, again as
// save_pretrained does, so that OpenDir cannot pick up stale weights. A
// reader running during the save may still see a mix; for a checkpoint that
// appears all at once, write into a fresh directory and rename it.
func WriteSharded(dir string, metadata map[string]string, tensors []Tensor, maxShardBytes int64) error {
	headers, err := tensorHeaders(tensors)
	if err != nil {
		return fmt.Errorf("%s: %w", dir, err)
	}
	return WriteShardedFunc(dir, metadata, headers, maxShardBytes, writeData(tensors))
}

// WriteShardedFunc is WriteSharded with each tensor's bytes streamed from
// write, as in WriteFunc; i indexes headers.
func WriteShardedFunc(dir string, metadata map[string]string, headers []Header, maxShardBytes int64, write func(i int, w io.Writer) error) error {
	// Validate everything (names unique across shards too) before writing.
	_, sizes, err := buildHeader(metadata, headers)
	if err != nil {
		return fmt.Errorf("%s: %w", dir, err)
	}
	// guarded: a checkpoint's temporary directory that a quit removed is
	// not made again (empty, left behind: TestSecondInterruptDuringCheckpoint)
	if err := tempfile.Guard(func() error { return os.MkdirAll(dir, 0o755) }); err != nil {
		return err
	}
	groups := planShards(sizes, maxShardBytes)
	if len(groups) == 1 {
		if err := WriteFunc(filepath.Join(dir, SingleFileName), metadata, headers, write); err != nil {
			return err
		}
		return removeStale(dir, SingleFileName, nil)
	}

	weightMap := make(map[string]string, len(headers))
	written := map[string]bool{}
	var total int64
	for k, group := range groups {
		name := fmt.Sprintf("model-%05d-of-%05d.safetensors", k+1, len(groups))
		sub := make([]Header, len(group))
		for j, i := range group {
			sub[j] = headers[i]
			weightMap[headers[i].Name] = name
			total += sizes[i]
		}
		err := WriteFunc(filepath.Join(dir, name), metadata, sub, func(j int, w io.Writer) error {
			return write(group[j], w)
		})
		if err != nil {
			return err
		}
		written[name] = true
	}
	var idx struct {
		Metadata struct {
			TotalSize int64 `json:"total_size"`
		} `json:"metadata"`
		WeightMap map[string]string `json:"weight_map"`
	}
	idx.Metadata.TotalSize = total
	idx.WeightMap = weightMap
	index := filepath.Join(dir, IndexFileName)
	err = writeAtomic(index, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		return enc.Encode(idx) // weight_map keys come out sorted, as in transformers
	})
	if err != nil {
		return fmt.Errorf("%s: %w", index, err)
	}
	return removeStale(dir, IndexFileName, written)
}

// planShards splits tensors of the given byte sizes, in order, into groups
// of at most limit bytes, starting a new group only when the current one is
// non-empty (so an oversized tensor gets a group of its own).
func planShards(sizes []int64, limit int64) [][]int {
	groups := [][]int{{}}
	var cur int64
	for i, s := range sizes {
		last := len(groups) - 1
		if limit > 0 && len(groups[last]) > 0 && cur+s > limit {
			groups = append(groups, nil)
			last++
			cur = 0
		}
		groups[last] = append(groups[last], i)
		cur += s
	}
	return groups
}

// removeStale deletes checkpoint files in dir that the save just made did
// not write: the other layout's entry file (the index when kept is the
// single file, and the reverse) and any shard not in shards.
func removeStale(dir, kept string, shards map[string]bool) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		name := e.Name()
		stale := false
		switch {
		case name == SingleFileName || name == IndexFileName:
			stale = name != kept
		case shardPattern.MatchString(name):
			stale = !shards[name]
		}
		if stale {
			if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
	}
	return nil
}
