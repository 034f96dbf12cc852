package safetensors_test

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/olmolab/olmolab/model/safetensors"
)

func Example() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "model.safetensors")

	// Save a float32 weight as BF16 (rounded to nearest even) and a 0-d loss.
	w := safetensors.FromFloat32("lm_head.weight", safetensors.BF16, []int{2, 2}, []float32{1, 0.1, -2, 3.14159})
	loss := safetensors.FromFloat64("loss", safetensors.F64, []int{}, []float64{4.6065637355133484})
	if err := safetensors.Write(path, map[string]string{"format": "pt"}, []safetensors.Tensor{w, loss}); err != nil {
		fmt.Println(err)
		return
	}

	f, err := safetensors.Read(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	t, _ := f.Get("lm_head.weight")
	v, _ := t.Float32s(nil)
	fmt.Println(t.DType, t.Shape, v)
	l, _ := f.Get("loss")
	x, _ := l.Float64s(nil)
	fmt.Printf("%v %d %.17g %s\n", l.Shape, l.NumElements(), x[0], f.Metadata["format"])
	// Output:
	// BF16 [2 2] [1 0.100097656 -2 3.140625]
	// [] 1 4.6065637355133484 pt
}

// ExampleWriteShardedFunc streams each tensor's bytes from the caller's own
// storage, so a large model is never held twice in memory.
func ExampleWriteShardedFunc() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)

	params := [][]float32{{1, 2, 3, 4}, {5, 6}}
	headers := []safetensors.Header{
		{Name: "a.weight", DType: safetensors.BF16, Shape: []int{2, 2}},
		{Name: "b.weight", DType: safetensors.BF16, Shape: []int{2}},
	}
	err := safetensors.WriteShardedFunc(dir, nil, headers, 8, func(i int, w io.Writer) error {
		t := safetensors.FromFloat32(headers[i].Name, headers[i].DType, headers[i].Shape, params[i])
		_, err := w.Write(t.Data)
		return err
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	c, err := safetensors.OpenDir(dir)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, f := range c.Files {
		fmt.Println(filepath.Base(f.Path), f.Names())
	}
	// Output:
	// model-00001-of-00002.safetensors [a.weight]
	// model-00002-of-00002.safetensors [b.weight]
}
