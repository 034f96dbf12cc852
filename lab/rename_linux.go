package lab

import "golang.org/x/sys/unix"

// exchangeDirs swaps the directories a and b in one step (renameat2's
// RENAME_EXCHANGE); false where the kernel or file system cannot (NFS,
// kernels before 3.15), and nothing changed.
func exchangeDirsOS(a, b string) bool {
	return unix.Renameat2(unix.AT_FDCWD, a, unix.AT_FDCWD, b, unix.RENAME_EXCHANGE) == nil
}
