package lab

import (
	"bufio"
	"bytes"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
)

// MemAvailable is the memory this process can still take, 0 where it cannot be
// read: /proc/meminfo's MemAvailable, or less where a memory cgroup limits the
// process. A Slurm job started with --mem, a container or a systemd slice sees
// the whole machine in /proc/meminfo but is killed at its cgroup's limit, so
// the headroom under every limit on the way to the root counts: limit minus
// usage, where the usage leaves out the page cache the kernel can drop
// (inactive_file), as the out-of-memory killer does.
func MemAvailable() int64 { return memAvailable("/proc", "/sys/fs/cgroup") }

func memAvailable(proc, cgroupRoot string) int64 {
	avail := meminfoAvailable(filepath.Join(proc, "meminfo"))
	cg, err := os.ReadFile(filepath.Join(proc, "self", "cgroup"))
	if err != nil {
		return avail
	}
	for _, room := range cgroupHeadroom(cg, cgroupRoot) {
		if avail <= 0 || room < avail {
			avail = max(room, 1) // 0 would mean "unknown"
		}
	}
	return avail
}

func meminfoAvailable(file string) int64 {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemAvailable:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// cgroupHeadroom returns limit − usage for each memory limit on the paths of
// /proc/self/cgroup (content cg), from the process's cgroup up to the root:
// cgroup v2 (line "0::PATH": memory.max, memory.current) and v1 (the
// "memory" controller: memory.limit_in_bytes, memory.usage_in_bytes).
func cgroupHeadroom(cg []byte, root string) []int64 {
	var out []int64
	sc := bufio.NewScanner(bytes.NewReader(cg))
	for sc.Scan() {
		f := strings.SplitN(sc.Text(), ":", 3)
		if len(f) != 3 {
			continue
		}
		var dir, limitFile, usageFile string
		switch {
		case f[0] == "0" && f[1] == "":
			dir, limitFile, usageFile = root, "memory.max", "memory.current"
			if _, err := os.Stat(filepath.Join(root, "unified")); err == nil {
				dir = filepath.Join(root, "unified") // hybrid layout: v2 mounted beside v1
			}
		case strings.Contains(","+f[1]+",", ",memory,"):
			dir, limitFile, usageFile = filepath.Join(root, "memory"), "memory.limit_in_bytes", "memory.usage_in_bytes"
		default:
			continue
		}
		for p := path.Clean("/" + f[2]); ; p = path.Dir(p) {
			d := filepath.Join(dir, filepath.FromSlash(p))
			if limit, ok := readBytes(filepath.Join(d, limitFile)); ok && limit < 1<<60 {
				if usage, ok := readBytes(filepath.Join(d, usageFile)); ok {
					usage -= statValue(filepath.Join(d, "memory.stat"), "inactive_file", "total_inactive_file")
					out = append(out, limit-max(usage, 0))
				}
			}
			if p == "/" {
				break
			}
		}
	}
	return out
}

// readBytes reads a cgroup file holding one number ("max" for no limit).
func readBytes(file string) (int64, bool) {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0, false
	}
	v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return v, err == nil
}

// statValue returns the first of keys found in a memory.stat file, 0 if none.
func statValue(file string, keys ...string) int64 {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0
	}
	for _, k := range keys {
		for line := range strings.Lines(string(b)) {
			if f := strings.Fields(line); len(f) == 2 && f[0] == k {
				v, _ := strconv.ParseInt(f[1], 10, 64)
				return v
			}
		}
	}
	return 0
}
