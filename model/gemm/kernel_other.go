//go:build !amd64 || purego

package gemm

// availableArches: without amd64 assembly only the portable Go kernel exists.
func availableArches() []*arch { return []*arch{archGeneric} }
