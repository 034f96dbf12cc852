//go:build cuda

package main

// Built with -tags cuda, olmolab registers the CUDA engine as the backends
// "cuda" and "cuda-fp32" (model.NewBackend), for `olmolab verify --backend`,
// `olmolab train --backend` and recipes' backend key.
import _ "github.com/olmolab/olmolab/gpu"
