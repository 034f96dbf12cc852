// Package gpu is olmolab's CUDA engine: a model.Backend that trains OLMo 2 on
// one NVIDIA GPU (Ampere or later) with everything resident on the device.
//
// What runs where:
//   - gorgonia.org/cu drives the GPU (driver API, primary context, module
//     loading, copies, the default stream) in device_cuda.go (build tag cuda);
//     kernels launch through cuLaunchKernel directly with a parameter block
//     in C memory made once (launch_cuda.go), where cu's Launch mallocs two;
//   - cuBLAS does the matrix products through a dlopen shim (internal/cublas):
//     cublasGemmEx with bf16 operands and fp32 accumulation, or fp32 throughout;
//   - cuDNN 9, when asked for (OLMOLAB_GPU_ATTN=cudnn) or chosen by auto, runs
//     the attention instead of our kernels: fused flash-attention graphs built
//     with its backend API through a second dlopen shim (internal/cudnn,
//     fused.go);
//   - our kernels (kernels/*.cu: RMSNorm with the residual add, QK-norm + RoPE,
//     SwiGLU, flash attention with GQA on tensor cores, chunked cross-entropy
//     with z-loss, AdamW, the gradient norm, and the backward passes) are
//     compiled to PTX by go generate, committed, and embedded.
//
// Precision (DESIGN.md "Mixed precision on GPU"): fp32 master weights,
// gradients and AdamW moments; bf16 matrix operands and activations with fp32
// accumulation, fp32 residual stream and norm statistics. The backend
// "cuda-fp32" runs everything in fp32 so that `olmolab verify --backend
// cuda-fp32` can be held to the CPU engine's tolerances.
//
// Memory (plan.go): one arena sized before the first step; activations of the
// layers that do not fit are recomputed per layer during the backward pass, and
// the trainer's micro-batch runs in device passes of fewer sequences if needed,
// so that olmo2_7B trains at sequence length 4096 on one 141 GB GPU.
// EstimateMemory and NewPlan say what a configuration needs before a run
// starts, and the engine refuses what will not fit.
//
// Scoring (scoring.go): NewScoring's forward-only engine (what
// model.NewScoringBackend builds for "cuda") holds the weights as the forward
// reads them and one layer's activations, about 2 bytes a parameter; an
// engine's Scorer scores at another micro-batch over its device weights,
// borrowing its scratch. Both run the training engine's forward code.
//
// Host allocations: after its first call, an engine's training step
// (ZeroGrads, ForwardBackward, GradNorm, Step), LogProbs and a Scorer's
// LogProbs make no Go heap allocation (TestStepAllocatesNothing, on a device
// that does nothing): kernel names are built once, launch arguments are
// copied into the engine's array, read-backs land in its host fields.
//
// Building: the package's plain-Go parts (plan, launch checks, the PTX embed,
// the cuBLAS search order) build and test everywhere. The device code needs
// -tags cuda, cuda.h and libcuda (scripts/setup-cuda.sh). Such a binary exits
// at start on a machine without an NVIDIA driver: gorgonia.org/cu calls cuInit
// in its package init and exits on failure (gpu-build.md §10). With -tags emu
// (a C++ compiler, no GPU) the same kernels run on a CPU emulator
// (internal/emu) and the tests compare the whole engine with the CPU engine.
package gpu
