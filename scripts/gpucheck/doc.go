// Package gpucheck holds the tests of the scripts a device session runs
// blind on the GPU machine (scripts/gpu-check.sh, torch_gpu_bench.py),
// rehearsed here with stand-ins for the CUDA binaries, nvidia-smi,
// compute-sanitizer and PyTorch (gpucheck_test.go). It has no code of its
// own.
package gpucheck
