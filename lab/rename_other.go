//go:build !linux

package lab

// exchangeDirs swaps two directories in one step where the system can; here
// it cannot.
func exchangeDirsOS(a, b string) bool { return false }
