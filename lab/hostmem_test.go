package lab

import (
	"os"
	"path/filepath"
	"testing"
)

// TestMemAvailableCgroups: the memory a run may take is the least of
// /proc/meminfo's MemAvailable and the headroom under every cgroup limit
// above the process (a Slurm job's --mem, a container), cgroup v1 and v2.
func TestMemAvailableCgroups(t *testing.T) {
	const gib = int64(1) << 30
	for _, tc := range []struct {
		name   string
		cgroup string            // /proc/self/cgroup; "" = absent
		files  map[string]string // under the cgroup root
		want   int64
	}{
		{"no cgroup file", "", nil, 20 * gib},
		{"v2, no limit", "0::/user.slice/session", map[string]string{"user.slice/memory.max": "max\n", "user.slice/memory.current": "1073741824\n"}, 20 * gib},
		{"v2, limit on an ancestor, cache left out", "0::/system.slice/slurmstepd.scope/job_7/step_0", map[string]string{
			"system.slice/slurmstepd.scope/job_7/memory.max":     "4294967296\n",
			"system.slice/slurmstepd.scope/job_7/memory.current": "1610612736\n",
			"system.slice/slurmstepd.scope/job_7/memory.stat":    "anon 1073741824\ninactive_file 536870912\n",
		}, 3 * gib},
		{"v2, the tighter of two limits", "0::/a/b", map[string]string{
			"a/memory.max": "8589934592", "a/memory.current": "0",
			"a/b/memory.max": "2147483648", "a/b/memory.current": "1073741824",
		}, 1 * gib},
		{"v2 beside v1 (unified)", "1:memory:/\n0::/job", map[string]string{
			"unified/job/memory.max": "3221225472", "unified/job/memory.current": "0",
			"memory/memory.limit_in_bytes": "9223372036854771712", "memory/memory.usage_in_bytes": "0",
		}, 3 * gib},
		{"v1 memory controller", "4:memory:/docker/abc\n3:cpu:/docker/abc", map[string]string{
			"memory/docker/abc/memory.limit_in_bytes": "2147483648", "memory/docker/abc/memory.usage_in_bytes": "1610612736",
			"memory/docker/abc/memory.stat": "cache 0\ntotal_inactive_file 0\n",
		}, gib / 2},
		{"over the limit: no room, not unknown", "0::/j", map[string]string{"j/memory.max": "1024", "j/memory.current": "4096"}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			proc, root := filepath.Join(dir, "proc"), filepath.Join(dir, "cgroup")
			write := func(p, s string) {
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			write(filepath.Join(proc, "meminfo"), "MemTotal:       24000000 kB\nMemAvailable:   20971520 kB\n")
			if tc.cgroup != "" {
				write(filepath.Join(proc, "self", "cgroup"), tc.cgroup+"\n")
			}
			for p, s := range tc.files {
				write(filepath.Join(root, p), s)
			}
			if got := memAvailable(proc, root); got != tc.want {
				t.Errorf("memAvailable = %d, want %d", got, tc.want)
			}
		})
	}
}
