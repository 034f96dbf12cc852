package sweep

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/olmolab/olmolab/lab"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

func TestParseAxis(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Axis
		err  string
	}{
		{"seed=1,2,3", Axis{"seed", []string{"1", "2", "3"}}, ""},
		{"optimizer.lr = 1e-3, 3e-3", Axis{"optimizer.lr", []string{"1e-3", "3e-3"}}, ""},
		{"dataset.sources.0.target_ratio=0.5", Axis{"dataset.sources.0.target_ratio", []string{"0.5"}}, ""},
		{`dataset.sources.0.paths=["a","b"],["c"]`, Axis{"dataset.sources.0.paths", []string{`["a","b"]`, `["c"]`}}, ""},
		{`schedule={name: wsd, alpha_f: 0},{name: cosine}`, Axis{"schedule", []string{"{name: wsd, alpha_f: 0}", "{name: cosine}"}}, ""},
		{`name="a,b",c`, Axis{"name", []string{`"a,b"`, "c"}}, ""},
		{"seed", Axis{}, "want key=v1,v2"},
		{"=1,2", Axis{}, "key before '=' is empty"},
		{"seed=", Axis{}, "empty value"},
		{"seed=1,,2", Axis{}, "empty value"},
		{"seed=1,2,", Axis{}, "empty value"},
		{"seed=1,1", Axis{}, `"1" is given twice`},
		{"optimizer.lr=1e-3,0.001", Axis{}, `values "1e-3" and "0.001" are the same number`},
		{"seed=2,2.0", Axis{}, `values "2" and "2.0" are the same number`},
		// a whole mix per value: the ratios of every source (--set's list form)
		{"dataset.sources.target_ratio=[0.2,0.8],[0.5,0.5]", Axis{"dataset.sources.target_ratio", []string{"[0.2,0.8]", "[0.5,0.5]"}}, ""},
		{"dataset.sources.target_ratio=[0.2,0.8],[.2, .8]", Axis{}, `values "[0.2,0.8]" and "[.2, .8]" are the same list of numbers`},
		{"dataset.sources.target_ratio=[0.2,0.8],[0.8,0.2]", Axis{"dataset.sources.target_ratio", []string{"[0.2,0.8]", "[0.8,0.2]"}}, ""},
		// ratios are normalised: numbers in the same proportion are the same mix
		{"dataset.sources.target_ratio=[1,4],[0.2,0.8]", Axis{}, `values "[1,4]" and "[0.2,0.8]" are the same mix (20%, 80% once normalised)`},
		{"dataset.sources.target_ratio=[0.5,0.5],[1,3],[3, 9]", Axis{}, `values "[1,3]" and "[3, 9]" are the same mix (25%, 75% once normalised)`},
		{"mixes.code.target_ratio=[1,1,2],[0.25,0.25,0.5]", Axis{}, `values "[1,1,2]" and "[0.25,0.25,0.5]" are the same mix`},
		{"dataset.sources.target_ratio=[1,3],[0.3333,0.6667],[1,3,0]", Axis{"dataset.sources.target_ratio", []string{"[1,3]", "[0.3333,0.6667]", "[1,3,0]"}}, ""},
		// one source's ratio, the others as they are: 1 and 2 are other mixes;
		// nor is any list of numbers a mix (betas)
		{"dataset.sources.0.target_ratio=1,2", Axis{"dataset.sources.0.target_ratio", []string{"1", "2"}}, ""},
		{"optimizer.betas=[0.9,0.95],[0.45,0.475]", Axis{"optimizer.betas", []string{"[0.9,0.95]", "[0.45,0.475]"}}, ""},
		{"schedule.name=wsd,'wsd2',cosine", Axis{Key: "schedule.name", Values: []string{"wsd", "'wsd2'", "cosine"}}, ""},
		{"optimizer.lr=1e-3,1e-4", Axis{Key: "optimizer.lr", Values: []string{"1e-3", "1e-4"}}, ""},
		{"optimizer..lr=1", Axis{}, "not a dotted recipe path"},
		{"opt imizer=1", Axis{}, "not a dotted recipe path"},
		{"paths=[a,b", Axis{}, "unbalanced"},
		{"paths=a]", Axis{}, "unbalanced"},
	} {
		got, err := ParseAxis(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), "--vary") {
				t.Errorf("ParseAxis(%q) = %v, %v; want an error naming --vary with %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseAxis(%q) = %#v, %v; want %#v", tc.in, got, err, tc.want)
		}
	}
}

// tenByTen is ten axes of ten values each: 10^10 runs.
func tenByTen() []Axis {
	var axes []Axis
	for i := range 10 {
		axes = append(axes, Axis{fmt.Sprintf("k%d", i), strings.Split("0,1,2,3,4,5,6,7,8,9", ",")})
	}
	return axes
}

func TestExpand(t *testing.T) {
	ax := func(key string, vals ...string) Axis { return Axis{key, vals} }
	for _, tc := range []struct {
		name  string
		axes  []Axis
		names []string
		over  [][]string // overrides of the first two runs
		err   string
	}{
		{"seeds", []Axis{SeedAxis(3)}, []string{"q-seed1", "q-seed2", "q-seed3"}, [][]string{{"seed=1"}, {"seed=2"}}, ""},
		{"product, last axis fastest", []Axis{ax("dataset.sources.0.target_ratio", "0.5", "0.6"), SeedAxis(2)},
			[]string{"q-target_ratio0.5-seed1", "q-target_ratio0.5-seed2", "q-target_ratio0.6-seed1", "q-target_ratio0.6-seed2"},
			[][]string{{"dataset.sources.0.target_ratio=0.5", "seed=1"}, {"dataset.sources.0.target_ratio=0.5", "seed=2"}}, ""},
		{"words and unsafe characters", []Axis{ax("schedule.name", "wsd", "cosine"), ax("optimizer.lr", "-1e-3", "[1]")},
			[]string{"q-name_wsd-lr-1e-3", "q-name_wsd-lr_1", "q-name_cosine-lr-1e-3", "q-name_cosine-lr_1"}, nil, ""},
		{"clashing last parts", []Axis{ax("dataset.sources.0.target_ratio", "0.5"), ax("dataset.sources.1.target_ratio", "0.5")},
			[]string{"q-0.target_ratio0.5-1.target_ratio0.5"}, nil, ""},
		{"nothing to vary", nil, nil, nil, "nothing to vary"},
		{"a key twice", []Axis{ax("seed", "1"), SeedAxis(2)}, nil, nil, `"seed" is varied twice`},
		{"names collide", []Axis{ax("name", "a/b", "a b")}, nil, nil, "would both be named q-name_a_b"},
		// ten axes of ten values: 10^10 runs used to be allocated (fatal out of memory)
		{"more runs than Slurm's largest array", tenByTen(), nil, nil, "--vary k0 (10 values) × --vary k1 (10 values)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			runs, err := Expand("q", tc.axes)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for i, r := range runs {
				names = append(names, r.Name)
				if r.Index != i {
					t.Errorf("run %s has index %d, want %d", r.Name, r.Index, i)
				}
			}
			if !reflect.DeepEqual(names, tc.names) {
				t.Errorf("names %q, want %q", names, tc.names)
			}
			for i, o := range tc.over {
				if !reflect.DeepEqual(runs[i].Overrides, o) {
					t.Errorf("run %d overrides %q, want %q", i, runs[i].Overrides, o)
				}
			}
		})
	}
}

func ExampleExpand() {
	runs, _ := Expand("mix", []Axis{{Key: "dataset.sources.0.target_ratio", Values: []string{"0.4", "0.6"}}, SeedAxis(2)})
	for _, r := range runs {
		fmt.Println(r.Index, r.Name, r.Overrides)
	}
	// Output:
	// 0 mix-target_ratio0.4-seed1 [dataset.sources.0.target_ratio=0.4 seed=1]
	// 1 mix-target_ratio0.4-seed2 [dataset.sources.0.target_ratio=0.4 seed=2]
	// 2 mix-target_ratio0.6-seed1 [dataset.sources.0.target_ratio=0.6 seed=1]
	// 3 mix-target_ratio0.6-seed2 [dataset.sources.0.target_ratio=0.6 seed=2]
}

// testManifest is a fixed sweep for the golden files: no temporary paths,
// no clock.
func testManifest(t *testing.T) *Manifest {
	axes := []Axis{{Key: "dataset.sources.0.target_ratio", Values: []string{"0.4", "0.6"}}, SeedAxis(2)}
	runs, err := Expand("mix", axes)
	if err != nil {
		t.Fatal(err)
	}
	return &Manifest{Prefix: "mix", Recipe: "/home/ai2/recipes/mix sweep.yaml", WorkDir: "/home/ai2/lab", RunsDir: "/scratch/olmolab/runs",
		Olmolab: "/home/ai2/bin/olmolab", Set: []string{"max_tokens=1.7M", `dataset.sources.1.paths=["builtin:qa"]`}, Vary: axes, Runs: runs,
		Created: time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)}
}

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./lab/sweep -update writes it)", err)
	}
	if string(got) != string(want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := 0; i < max(len(gl), len(wl)); i++ {
			var g, w string
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Fatalf("%s differs from the golden file at line %d:\n got  %q\n want %q\n(go test ./lab/sweep -update rewrites it)", name, i+1, g, w)
			}
		}
	}
}

func TestManifestGolden(t *testing.T) {
	m := testManifest(t)
	checkGolden(t, "mix.sweep.json", m.Marshal())
	// and it reads back
	dir := t.TempDir()
	p := filepath.Join(dir, "mix.sweep.json")
	if err := WriteFile(p, m.Marshal(), 0o644); err != nil {
		t.Fatal(err)
	}
	back, err := ReadManifest(p)
	if err != nil || !reflect.DeepEqual(back, m) {
		t.Errorf("read back %+v, %v; want %+v", back, err, m)
	}
}

func TestScriptGolden(t *testing.T) {
	m := testManifest(t)
	checkGolden(t, "mix.sbatch", m.Script(SlurmOptions{Parallel: 2, Extra: []string{"--time=04:00:00", "--gres=gpu:1", "--partition=ai2"}}))
	// an option of the user's replaces the script's own
	s := string(m.Script(SlurmOptions{Extra: []string{"-J noise", "--output=/logs/%a.out"}}))
	for _, want := range []string{"#SBATCH --array=0-3\n", "#SBATCH -J noise\n", "#SBATCH --output=/logs/%a.out\n"} {
		if !strings.Contains(s, want) {
			t.Errorf("script lacks %q", want)
		}
	}
	for _, not := range []string{"--job-name=", "--output=/scratch"} {
		if strings.Contains(s, not) {
			t.Errorf("script keeps its own %q beside the user's", not)
		}
	}
}

func TestCheckSbatchOpt(t *testing.T) {
	for opt, want := range map[string]string{
		"--time=1:00:00": "",
		"-p gpu":         "",
		"time=1:00:00":   "want an sbatch option",
		"--array=0-9":    "--parallel",
		"-a 0-3":         "--parallel",
		"--x\n#SBATCH":   "one option per line",
		// without B: Slurm signals the job's steps, not the batch shell,
		// and there is no step: olmolab heard nothing before the limit
		"--signal=B:USR1@600": "",
		"--signal=USR1@600":   "USR1 to its batch shell (B:)",
		"--signal=B:TERM@120": "--signal=B:USR1@SECONDS",
		"--signal TERM":       "--signal=B:USR1@SECONDS",
	} {
		err := CheckSbatchOpt(opt)
		if (err == nil) != (want == "") || err != nil && !strings.Contains(err.Error(), want) {
			t.Errorf("CheckSbatchOpt(%q) = %v, want %q", opt, err, want)
		}
	}
}

// TestScriptTasks runs the generated script under bash as Slurm would, with a
// fake olmolab that records its arguments, in each state a run directory can
// be in.
func TestScriptTasks(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	root := t.TempDir()
	fake := filepath.Join(root, "bin", "olmolab")
	os.MkdirAll(filepath.Dir(fake), 0o755)
	calls := filepath.Join(root, "calls")
	os.WriteFile(fake, []byte("#!/bin/sh\necho \"$@\" >> "+calls+"\n"), 0o755)
	m := testManifest(t)
	m.Olmolab, m.RunsDir, m.WorkDir = fake, filepath.Join(root, "runs dir"), root
	script := filepath.Join(root, "mix.sbatch")
	os.WriteFile(script, m.Script(SlurmOptions{}), 0o644)
	run := m.Runs[1]
	dir := m.RunDir(run)

	write := func(rel, s string) {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, rel)), 0o755)
		os.WriteFile(filepath.Join(dir, rel), []byte(s), 0o644)
	}
	startCall := "--batch /home/ai2/recipes/mix sweep.yaml --set max_tokens=1.7M --set dataset.sources.1.paths=[\"builtin:qa\"] --set dataset.sources.0.target_ratio=0.4 --set seed=2 --runs " + m.RunsDir + " --name mix-target_ratio0.4-seed2"
	for _, tc := range []struct {
		name    string
		setup   func()
		task    string
		restart string
		code    int
		call    string   // the fake olmolab's arguments, "" for no call
		gone    []string // files the task removed
		kept    []string
	}{
		{"fresh", func() {}, "1", "", 0, startCall, nil, nil},
		{"start that never checkpointed", func() {
			write(lab.RecipeFile, "name: mix\n")
			write(lab.MetricsFile, "{}\n")
			write(lab.SummaryFile, `{"state": "failed"}`)
		}, "1", "", 0, startCall, []string{lab.MetricsFile, lab.SummaryFile}, []string{lab.RecipeFile}},
		{"checkpoint: resume", func() {
			write("checkpoints/step-8/state.json", "{}")
			write(lab.MetricsFile, "{}\n")
		}, "1", "", 0, "--batch --resume " + dir + " --wait-record 2h", nil, []string{lab.MetricsFile}},
		{"requeued after a node failure: its previous attempt's lock, heartbeat fresh", func() {
			write("checkpoints/step-8/state.json", "{}")
			write(lab.LockFile, `{"pid":1,"mode":"headless","host":"node-that-died","slurm_job":"77"}`)
		}, "1", "1", 0, "--batch --resume " + dir + " --wait-record 2h", []string{lab.LockFile}, nil},
		// the requeue removed any lock: eval --record's, held while it
		// writes evals.jsonl, and a live process's on another node
		{"requeued: eval --record's live lock is kept", func() {
			host, _ := os.Hostname()
			write("checkpoints/step-8/state.json", "{}")
			write(lab.LockFile, fmt.Sprintf(`{"pid":%d,"mode":"eval","host":%q}`, os.Getpid(), host))
		}, "1", "1", 0, "--batch --resume " + dir + " --wait-record 2h", nil, []string{lab.LockFile}},
		{"requeued: another job's lock on another node, heartbeat fresh, is kept", func() {
			write("checkpoints/step-8/state.json", "{}")
			write(lab.LockFile, `{"pid":1,"mode":"headless","host":"other","slurm_job":"78"}`)
		}, "1", "1", 0, "--batch --resume " + dir + " --wait-record 2h", nil, []string{lab.LockFile}},
		{"requeued: this node's dead lock goes", func() {
			host, _ := os.Hostname()
			write("checkpoints/step-8/state.json", "{}")
			write(lab.LockFile, fmt.Sprintf(`{"pid":%d,"mode":"headless","host":%q}`, deadPID(t), host))
		}, "1", "1", 0, "--batch --resume " + dir + " --wait-record 2h", []string{lab.LockFile}, nil},
		{"another node's lock with a fresh heartbeat: kept", func() {
			write(lab.LockFile, `{"pid": 1, "host": "other"}`)
			write(lab.MetricsFile, "{}\n")
		}, "1", "0", 0, startCall, nil, []string{lab.LockFile, lab.MetricsFile}},
		{"another node's lock with a stale heartbeat: a dead node, start over", func() {
			write(lab.LockFile, `{"pid": 1, "host": "other"}`)
			write(lab.MetricsFile, "{}\n")
			old := time.Now().Add(-lab.LockStaleAfter - time.Minute)
			os.Chtimes(filepath.Join(dir, lab.LockFile), old, old)
		}, "1", "0", 0, startCall, []string{lab.LockFile, lab.MetricsFile}, nil},
		{"first attempt after a killed start: this node's stale lock", func() {
			host, _ := os.Hostname()
			write(lab.LockFile, fmt.Sprintf(`{"pid":%d,"mode":"headless","host":%q}`, deadPID(t), host))
			write(lab.MetricsFile, "{}\n")
		}, "1", "0", 0, startCall, []string{lab.LockFile, lab.MetricsFile}, nil},
		{"finished", func() {
			write("checkpoints/step-10/state.json", "{}")
			write(lab.SummaryFile, "{\n  \"run\": \"x\",\n  \"state\": \"finished\"\n}\n")
		}, "1", "", 0, "", nil, nil},
		{"diverged", func() {
			write("checkpoints/step-10/state.json", "{}")
			write(lab.SummaryFile, "{\n  \"state\": \"diverged\"\n}\n")
		}, "1", "", 3, "", nil, nil},
		{"no such task", func() {}, "4", "", 2, "", nil, nil},
		{"not under Slurm", func() {}, "", "", 2, "", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			os.RemoveAll(m.RunsDir)
			os.MkdirAll(m.RunsDir, 0o755)
			os.Remove(calls)
			tc.setup()
			cmd := exec.Command(bash, script)
			cmd.Env = append(os.Environ(), "SLURM_ARRAY_TASK_ID="+tc.task, "SLURM_RESTART_COUNT="+tc.restart, "SLURM_JOB_ID=77")
			out, err := cmd.CombinedOutput()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.code {
				t.Errorf("exit %d, want %d; output:\n%s", code, tc.code, out)
			}
			b, _ := os.ReadFile(calls)
			if got := strings.TrimSpace(string(b)); got != tc.call {
				t.Errorf("olmolab called with\n %q\nwant\n %q\noutput:\n%s", got, tc.call, out)
			}
			for _, f := range tc.gone {
				if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
					t.Errorf("%s is still there", f)
				}
			}
			for _, f := range tc.kept {
				if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
					t.Errorf("%s was removed", f)
				}
			}
		})
	}
}

func TestReadStatus(t *testing.T) {
	self, _ := os.Hostname()
	for _, tc := range []struct {
		name  string
		files map[string]string
		state State
		ckpt  string
		step  int64
	}{
		{"no directory", nil, Pending, "", 0},
		{"logs only", map[string]string{"x.log": ""}, Pending, "", 0},
		{"live", map[string]string{lab.RecipeFile: "", lab.LockFile: fmt.Sprintf(`{"pid": %d, "host": %q, "started": %q}`, os.Getpid(), self, time.Now().Format(time.RFC3339)),
			lab.MetricsFile: `{"type":"step","step":3,"tokens":768,"total_tokens":2560,"loss":7.1}` + "\n" + `{"type":"step","step":4,"tok`}, Running, "", 3},
		{"killed: stale lock, no summary", map[string]string{lab.RecipeFile: "", lab.LockFile: `{"pid": 999999999, "host": "` + self + `"}`,
			"checkpoints/step-4/state.json": "{}", "checkpoints/step-8/model.safetensors": ""}, Interrupted, "step-4", 0},
		{"interrupted", map[string]string{lab.RecipeFile: "", lab.SummaryFile: `{"state": "interrupted"}`}, Interrupted, "", 0},
		{"stopped", map[string]string{lab.RecipeFile: "", lab.SummaryFile: `{"state": "stopped"}`}, Interrupted, "", 0},
		{"failed", map[string]string{lab.RecipeFile: "", lab.SummaryFile: `{"state": "failed"}`}, Failed, "", 0},
		{"diverged", map[string]string{lab.RecipeFile: "", lab.SummaryFile: `{"state": "diverged"}`}, Diverged, "", 0},
		{"finished", map[string]string{lab.RecipeFile: "", lab.SummaryFile: `{"state": "finished", "final_loss": 2.5}`,
			"checkpoints/step-10/state.json": "{}"}, Finished, "step-10", 0},
		// eval --record writing the run's evals.jsonl under its lock, or
		// scoring it under its own mark: the run is not training (it read
		// as running), and Recording says who scores it
		{"recorded, writing", map[string]string{lab.RecipeFile: "", lab.SummaryFile: `{"state": "finished"}`,
			lab.LockFile: fmt.Sprintf(`{"pid": %d, "mode": "eval", "host": %q, "started": %q}`, os.Getpid(), self, time.Now().Format(time.RFC3339))}, Finished, "", 0},
		{"recorded, scoring", map[string]string{lab.RecipeFile: "", lab.SummaryFile: `{"state": "interrupted"}`,
			lab.RecordingPrefix + self + ".1": fmt.Sprintf(`{"pid": %d, "mode": "recording", "host": %q, "started": %q}`, os.Getpid(), self, time.Now().Format(time.RFC3339))}, Interrupted, "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "run")
			for f, s := range tc.files {
				os.MkdirAll(filepath.Dir(filepath.Join(dir, f)), 0o755)
				os.WriteFile(filepath.Join(dir, f), []byte(s), 0o644)
			}
			st := ReadStatus(dir)
			if st.State != tc.state {
				t.Errorf("state %s, want %s", st.State, tc.state)
			}
			if filepath.Base(st.Checkpoint) != tc.ckpt && !(tc.ckpt == "" && st.Checkpoint == "") {
				t.Errorf("checkpoint %q, want %q", st.Checkpoint, tc.ckpt)
			}
			if tc.step > 0 && (st.Last == nil || st.Last.Step != tc.step || st.Last.TotalTokens != 2560) {
				t.Errorf("last step %+v, want step %d of 2560 tokens", st.Last, tc.step)
			}
			if tc.state == Running && st.Lock.PID != os.Getpid() {
				t.Errorf("lock %+v", st.Lock)
			}
			if recording := strings.HasPrefix(tc.name, "recorded"); recording != (st.Recording != nil) || recording && st.Recording.PID != os.Getpid() {
				t.Errorf("recording %+v, want one: %v", st.Recording, recording)
			}
		})
	}
}

func TestClearPartial(t *testing.T) {
	dir := t.TempDir()
	files := []string{lab.RecipeFile, lab.MetricsFile, lab.EventsFile, lab.EvalsFile, lab.SummaryFile}
	for _, f := range files {
		os.WriteFile(filepath.Join(dir, f), []byte("{}\n"), 0o644)
	}
	if err := ClearPartial(dir); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		_, err := os.Stat(filepath.Join(dir, f))
		if (err == nil) != (f == lab.RecipeFile) {
			t.Errorf("%s: present %v after ClearPartial", f, err == nil)
		}
	}
	// a run with a checkpoint keeps everything
	os.WriteFile(filepath.Join(dir, lab.MetricsFile), []byte("{}\n"), 0o644)
	os.MkdirAll(filepath.Join(dir, lab.CkptDir, "step-4"), 0o755)
	os.WriteFile(filepath.Join(dir, lab.CkptDir, "step-4", lab.StateFile), []byte("{}"), 0o644)
	if err := ClearPartial(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, lab.MetricsFile)); err != nil {
		t.Error("ClearPartial removed the metrics of a run with a checkpoint")
	}
}

// deadPID is the pid of a process that has ended.
func deadPID(t *testing.T) int {
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skip("no true:", err)
	}
	return cmd.Process.Pid
}

// FuzzParseAxis: any --vary value either gives a dotted key and distinct,
// non-empty values, or an error that quotes what was given; never a panic.
// Expand then names every run safely.
func FuzzParseAxis(f *testing.F) {
	for _, s := range []string{"seed=1,2,3", `dataset.sources.0.paths=["a","b"],["c"]`, "optimizer.lr=1e-3,3e-3",
		"x=", "=1", "a..b=1", `k="a,b",'c'`, "k={a: 1, b: 2},{a: 3}", "k=[,"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAxis(s)
		if err != nil {
			if !strings.Contains(err.Error(), "--vary") {
				t.Errorf("error does not say which flag: %v", err)
			}
			return
		}
		if a.Key == "" || len(a.Values) == 0 {
			t.Fatalf("accepted %q as %+v", s, a)
		}
		seen := map[string]bool{}
		for _, v := range a.Values {
			if v == "" || seen[v] {
				t.Fatalf("accepted %q with an empty or repeated value: %+v", s, a)
			}
			seen[v] = true
		}
		runs, err := Expand("p", []Axis{a})
		if err != nil {
			return
		}
		names := map[string]bool{}
		for _, r := range runs {
			if !SafeName(r.Name) || names[r.Name] {
				t.Fatalf("%q: run name %q unsafe or repeated", s, r.Name)
			}
			names[r.Name] = true
		}
	})
}

// FuzzReadManifest: a damaged PREFIX.sweep.json is an error naming the file,
// and a manifest that reads names runs only beside itself.
func FuzzReadManifest(f *testing.F) {
	f.Add([]byte(`{"prefix":"mix","recipe":"quickstart","runs_dir":"/r","runs":[{"index":0,"name":"mix-lr_0.001","overrides":["optimizer.lr=0.001"]}]}`))
	f.Add([]byte(`{"prefix":"mix","runs_dir":"/r","runs":[{"name":"../x"}]}`))
	f.Add([]byte(`{"prefix":"","runs_dir":""}`))
	f.Add([]byte(`[1,2`))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		path := filepath.Join(dir, "mix.sweep.json")
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		m, err := ReadManifest(path)
		if err != nil {
			if !strings.Contains(err.Error(), path) {
				t.Fatalf("error without the file's name: %v", err)
			}
			return
		}
		for _, r := range m.Runs {
			if filepath.Join(dir, r.Name) != filepath.Join(dir, filepath.Base(r.Name)) || r.Name == ".." {
				t.Fatalf("run name %q leaves the manifest's directory", r.Name)
			}
		}
	})
}

// TestScriptSignals runs a task of the generated script under bash with a
// fake olmolab (which, on SIGTERM, writes a checkpoint and exits 130, as
// olmolab does) and a fake scontrol, and signals it as Slurm does: the
// time-limit warning (--signal=B:USR1, to the batch shell only) has olmolab
// checkpoint and then requeues the task; preemption's SIGTERM (to every
// process) has it checkpoint and requeues nothing, Slurm's PreemptMode
// decides; a warning before any checkpoint requeues nothing either. The
// script exec'd olmolab, so nothing ran after it: a time limit ended the
// task (TIMEOUT) with no requeue, and a warning without B: reached nobody.
func TestScriptSignals(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	root := t.TempDir()
	bin := filepath.Join(root, "bin")
	os.MkdirAll(bin, 0o755)
	pidFile, scontrol := filepath.Join(root, "olmolab.pid"), filepath.Join(root, "scontrol")
	m := testManifest(t)
	m.Olmolab, m.RunsDir, m.WorkDir = filepath.Join(bin, "olmolab"), filepath.Join(root, "runs"), root
	dir := m.RunDir(m.Runs[0])
	// the fake olmolab: the checkpoint it writes on SIGTERM is named by
	// $CKPT ("" for none)
	os.WriteFile(m.Olmolab, []byte(`#!/bin/bash
trap 'if [ -n "$CKPT" ]; then mkdir -p "`+dir+`/checkpoints/$CKPT" && echo {} > "`+dir+`/checkpoints/$CKPT/state.json"; fi; echo "olmolab: SIGTERM" >&2; exit 130' TERM
echo $$ > `+pidFile+`
while :; do sleep 0.02; done
`), 0o755)
	// it fails as a job that may not be requeued makes it fail, where $SCONTROL_FAIL is set
	os.WriteFile(filepath.Join(bin, "scontrol"), []byte("#!/bin/sh\necho \"$@\" >> "+scontrol+"\nif [ -n \"$SCONTROL_FAIL\" ]; then echo 'scontrol: error: Requested operation is presently disabled' >&2; exit 1; fi\n"), 0o755)
	script := filepath.Join(root, "mix.sbatch")
	o := SlurmOptions{Extra: []string{"--time=01:00:00"}}
	s := m.Script(o)
	for _, want := range []string{"#SBATCH --requeue\n", fmt.Sprintf("#SBATCH --signal=B:USR1@%d\n", int(SignalLead.Seconds()))} {
		if !strings.Contains(string(s), want) {
			t.Errorf("script lacks %q", want)
		}
	}
	os.WriteFile(script, s, 0o644)

	for _, tc := range []struct {
		name     string
		before   string // the run's checkpoint before the task, "" for none
		ckpt     string // the checkpoint olmolab writes on SIGTERM
		toShell  syscall.Signal
		toChild  bool // Slurm signals every process of the task, olmolab too
		code     int
		scontrol string
		record   string // olmolab eval --record's mark in the run: "live", "dead" (its process is gone) or "" none
	}{
		{"time limit: checkpoint, then requeue", "", "step-8", syscall.SIGUSR1, false, 0, "requeue 77", ""},
		{"time limit before the first checkpoint: no requeue", "", "", syscall.SIGUSR1, false, 130, "", ""},
		{"preempted: checkpoint, Slurm requeues or not", "step-4", "step-8", syscall.SIGTERM, true, 130, "", ""},
		// the checkpoint olmolab writes is the one it resumed from: an
		// attempt shorter than a checkpoint interval, requeued, would
		// end there again, and again
		{"time limit, no new checkpoint: no requeue", "step-4", "step-4", syscall.SIGUSR1, false, 130, "", ""},
		{"time limit, requeue refused: fails, says to resubmit", "", "step-8", syscall.SIGUSR1, false, 130, "requeue 77", ""},
		// olmolab waited for a record (--wait-record) and resumed nothing:
		// the run is intact, and the next attempt waits again or resumes
		{"time limit while waiting for a record: requeue", "step-4", "", syscall.SIGUSR1, false, 0, "requeue 77", "live"},
		{"time limit, a dead record's mark: no requeue", "step-4", "", syscall.SIGUSR1, false, 130, "", "dead"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			os.RemoveAll(m.RunsDir)
			os.MkdirAll(dir, 0o755)
			if tc.before != "" {
				os.MkdirAll(filepath.Join(dir, "checkpoints", tc.before), 0o755)
				os.WriteFile(filepath.Join(dir, "checkpoints", tc.before, "state.json"), []byte("{}"), 0o644)
			}
			if tc.record != "" {
				pid := os.Getpid() // this test's: live
				if tc.record == "dead" {
					gone := exec.Command("true")
					if err := gone.Run(); err != nil {
						t.Fatal(err)
					}
					pid = gone.Process.Pid
				}
				host, _ := os.Hostname()
				mark := fmt.Sprintf(`{"pid":%d,"mode":"recording","host":%q,"started":"2026-11-01T00:00:00Z"}`+"\n", pid, host)
				if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("olmolab.recording.%s.%d", host, pid)), []byte(mark), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			os.Remove(pidFile)
			os.Remove(scontrol)
			cmd := exec.Command(bash, script)
			refused := strings.Contains(tc.name, "requeue refused")
			cmd.Env = append(os.Environ(), "SLURM_ARRAY_TASK_ID=0", "SLURM_JOB_ID=77", "CKPT="+tc.ckpt, "PATH="+bin+":"+os.Getenv("PATH"))
			if refused {
				cmd.Env = append(cmd.Env, "SCONTROL_FAIL=1")
			}
			var out strings.Builder
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			var child int
			for deadline := time.Now().Add(time.Minute); child == 0; time.Sleep(10 * time.Millisecond) {
				b, _ := os.ReadFile(pidFile)
				child, _ = strconv.Atoi(strings.TrimSpace(string(b)))
				if time.Now().After(deadline) {
					cmd.Process.Kill()
					t.Fatalf("olmolab did not start within a minute:\n%s", out.String())
				}
			}
			time.Sleep(100 * time.Millisecond) // the fake's trap is set
			cmd.Process.Signal(tc.toShell)
			if tc.toChild {
				syscall.Kill(child, tc.toShell)
			}
			var werr error
			select {
			case werr = <-done:
			case <-time.After(time.Minute):
				cmd.Process.Kill()
				syscall.Kill(child, syscall.SIGKILL)
				t.Fatalf("the task did not end within a minute:\n%s", out.String())
			}
			code := 0
			if ee, ok := werr.(*exec.ExitError); ok {
				code = ee.ExitCode()
			}
			got, _ := os.ReadFile(scontrol)
			if code != tc.code || strings.TrimSpace(string(got)) != tc.scontrol || !strings.Contains(out.String(), "olmolab: SIGTERM") {
				t.Errorf("exit %d, scontrol %q; want %d, %q, and olmolab signalled; output:\n%s", code, got, tc.code, tc.scontrol, out.String())
			}
			if want := "resubmit this task: sbatch --array=0 " + ScriptPath(m.RunsDir, m.Prefix); refused != strings.Contains(out.String(), want) {
				t.Errorf("the log says %q: %v, want %v:\n%s", want, !refused, refused, out.String())
			}
			// the log says what happened: no "more --time" for a task that only waited
			waited := tc.record == "live"
			for want, says := range map[string]bool{
				"the time limit came while olmolab waited for olmolab eval --record to record the run (--wait-record)": waited,
				"requeued (job 77); it waits for the record again (up to 2h), or resumes from step 4":                  waited,
				"give the task more --time": tc.scontrol == "" && tc.toShell == syscall.SIGUSR1,
			} {
				if strings.Contains(out.String(), want) != says {
					t.Errorf("the log says %q: %v, want %v:\n%s", want, !says, says, out.String())
				}
			}
			if syscall.Kill(child, 0) == nil {
				syscall.Kill(child, syscall.SIGKILL)
				t.Error("olmolab still runs after the task ended")
			}
		})
	}
}
