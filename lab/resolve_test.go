package lab

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/olmolab/olmolab/model"
)

// TestResolveCheckpointFinalSoup: a run directory resolves to the model the
// run ended with. A run that ended with its recipe's soup resolves to the
// soup, whether its summary says "final" (written since the flag) or not (a
// run from before it, read from what it did); a side soup, a soup the run
// trained on after, and an unfinished run resolve to the latest checkpoint.
func TestResolveCheckpointFinalSoup(t *testing.T) {
	const sideMsg = `soup done: 3 ingredients averaged; stage1 goes on from step 8 with the run's own weights`
	const finalMsg = `soup done: 3 ingredients averaged; the run ends with the soup's weights`
	const oldMsg = `soup done: 3 ingredients averaged` // before soups on request were side jobs
	cases := []struct {
		name      string
		summary   string // summary.json
		events    string // the soup-done event's message ("" none)
		noWeights bool   // the soup's weights are missing
		want      string // "soup", "ckpt", or an error's text
	}{
		{"final flag", `{"state":"finished","steps":8,"soup":{"from_step":8,"final":true}}`, finalMsg, false, "soup"},
		{"side soup at the last step, flag", `{"state":"finished","steps":8,"soup":{"from_step":8,"final":false}}`, sideMsg, false, "ckpt"},
		{"side soup mid-run, flag", `{"state":"finished","steps":12,"soup":{"from_step":8,"final":false}}`, sideMsg, false, "ckpt"},
		{"old run: planned soup", `{"state":"finished","steps":8,"soup":{"from_step":8}}`, finalMsg, false, "soup"},
		{"old run: soup before side jobs", `{"state":"finished","steps":8,"soup":{"from_step":8}}`, oldMsg, false, "soup"},
		{"old run: no events file", `{"state":"finished","steps":8,"soup":{"from_step":8}}`, "", false, "soup"},
		{"old run: side soup at the last step", `{"state":"finished","steps":8,"soup":{"from_step":8}}`, sideMsg, false, "ckpt"},
		{"old run: trained on after its soup", `{"state":"finished","steps":12,"soup":{"from_step":8}}`, oldMsg, false, "ckpt"},
		{"stopped during its soup's making", `{"state":"stopped","steps":8,"soup":{"from_step":8}}`, finalMsg, false, "ckpt"},
		{"no soup", `{"state":"finished","steps":8}`, "", false, "ckpt"},
		{"no summary", ``, "", false, "ckpt"},
		// soup_kind says it, whatever the words (a summary without the flag
		// and an event with the field are not written together: it checks
		// the field is read)
		{"soup_kind side, reworded", `{"state":"finished","steps":8,"soup":{"from_step":8}}`, finalMsg, false, "ckpt"},
		{"soup_kind planned, reworded", `{"state":"finished","steps":8,"soup":{"from_step":8}}`, sideMsg, false, "soup"},
		{"old run: soup weights gone", `{"state":"finished","steps":8,"soup":{"from_step":8}}`, finalMsg, true, "whose weights are missing"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "run")
			steps := []int64{4, 8}
			if strings.Contains(c.summary, `"steps":12`) {
				steps = append(steps, 12)
			}
			for _, s := range steps {
				writeFile(t, filepath.Join(dir, CkptDir, checkpointName(s), StateFile), "{}")
			}
			if !c.noWeights {
				writeFile(t, filepath.Join(SoupDir(dir, 8), "config.json"), "{}")
			}
			if c.summary != "" {
				writeFile(t, filepath.Join(dir, SummaryFile), c.summary)
			}
			kind := ""
			switch {
			case strings.HasPrefix(c.name, "soup_kind side"):
				kind = `"change":"soup_done","soup_step":8,"soup_kind":"side",`
			case strings.HasPrefix(c.name, "soup_kind planned"):
				kind = `"change":"soup_done","soup_step":8,"soup_kind":"planned",`
			}
			if c.events != "" {
				writeFile(t, filepath.Join(dir, EventsFile),
					`{"type":"phase","run":"run","step":8,"message":"soup: 3 anneals"}`+"\n"+
						`{"type":"eval","run":"run","step":8,"message":"soup"}`+"\n"+
						`{"type":"phase","run":"run","step":8,`+kind+`"message":"`+strings.ReplaceAll(c.events, `"`, `\"`)+`","soup":{"from_step":8,"soup":{"name":"soup"}}}`+"\n")
			}
			got, err := ResolveCheckpoint(dir)
			want := map[string]string{"soup": SoupDir(dir, 8), "ckpt": filepath.Join(dir, CkptDir, checkpointName(steps[len(steps)-1]))}[c.want]
			if want == "" {
				if err == nil || !strings.Contains(err.Error(), c.want) {
					t.Fatalf("ResolveCheckpoint = %q, %v; want an error saying %q", got, err, c.want)
				}
				return
			}
			if err != nil || got != want {
				t.Fatalf("ResolveCheckpoint = %q, %v; want %q", got, err, want)
			}
			if _, ended := EndedWithSoup(dir); ended != (c.want == "soup") {
				t.Errorf("EndedWithSoup = %v, resolved to %s", ended, c.want)
			}
		})
	}
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestResolveCheckpointNotAModel: a directory that is neither a checkpoint
// nor a run is refused saying what it is, where eval said only "open
// DIR/config.json: no such file or directory": the runs directory itself
// (the hint names its runs), a run without a checkpoint yet, any other.
func TestResolveCheckpointNotAModel(t *testing.T) {
	root := t.TempDir()
	runs := filepath.Join(root, "runs")
	writeFile(t, filepath.Join(runs, "a", CkptDir, checkpointName(4), StateFile), "{}")
	writeFile(t, filepath.Join(runs, "b", CkptDir, checkpointName(4), StateFile), "{}")
	writeFile(t, filepath.Join(runs, "young", RecipeFile), "name: young\n")
	writeFile(t, filepath.Join(root, "other", "notes.txt"), "mine")
	for _, c := range []struct{ path, want string }{
		{runs, runs + ": not a checkpoint (no config.json) or a run directory (no checkpoints/); HINT: it holds runs: give one, e.g. " + filepath.Join(runs, "a")},
		{filepath.Join(runs, "young"), filepath.Join(runs, "young") + ": a run directory without a checkpoint yet: nothing to evaluate"},
		{filepath.Join(root, "other"), filepath.Join(root, "other") + ": not a checkpoint (no config.json) or a run directory (no checkpoints/)"},
		{filepath.Join(root, "nope"), filepath.Join(root, "nope") + ": no such checkpoint or run directory"},
		// a checkpoint's file, not its directory: it said "open FILE/config.json: not a directory"
		{filepath.Join(root, "other", "notes.txt"), filepath.Join(root, "other", "notes.txt") + ": a file, not a checkpoint or run directory; HINT: give the directory that holds the checkpoint's config.json"},
	} {
		got, err := ResolveCheckpoint(c.path)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ResolveCheckpoint(%s) = %q, %v; want an error with %q", c.path, got, err, c.want)
		}
	}
	// a checkpoint directory and a run still resolve
	writeFile(t, filepath.Join(root, "hf", "config.json"), "{}")
	if got, err := ResolveCheckpoint(filepath.Join(root, "hf")); err != nil || got != filepath.Join(root, "hf") {
		t.Errorf("an HF checkpoint: %q, %v", got, err)
	}
}

// TestOpenWeightsOfARunPruningItsCheckpoints: eval --model RUN of a run that
// trains names its latest checkpoint, which the run can prune (it wrote a
// newer one, checkpoint.keep) before it is opened. The newer one is read
// instead, with a warning naming both; pruned again, an error names both.
// Once open, the weights read to the end even if the checkpoint is removed.
func TestOpenWeightsOfARunPruningItsCheckpoints(t *testing.T) {
	root := t.TempDir()
	if _, err := runToEnd(t, RunParams{Recipe: parseTiny(t, "checkpoint.interval=5"), RunsDir: root, Name: "run"}); err != nil {
		t.Fatal(err)
	}
	run := filepath.Join(root, "run")
	for _, tc := range []struct {
		name   string
		prunes int    // how many of the checkpoints named are pruned as they are opened
		want   string // the checkpoint read, or the error's words
	}{
		{"not pruned", 0, "step-15"},
		{"pruned as it is opened", 1, "step-20"},
		{"pruned twice", 2, "were removed while being opened"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "run")
			if err := os.CopyFS(dir, os.DirFS(run)); err != nil {
				t.Fatal(err)
			}
			ck := func(step int) string { return filepath.Join(dir, CkptDir, checkpointName(int64(step))) }
			// step 20 is not written yet: the run writes it, and prunes
			// step 15 (keep: 1), while step 15 is being opened
			aside := filepath.Join(dir, "step-20-later")
			if err := os.Rename(ck(20), aside); err != nil {
				t.Fatal(err)
			}
			pruned := 0
			beforeOpenWeights = func(d string) {
				if pruned >= tc.prunes {
					return
				}
				pruned++
				os.Rename(aside, ck(20))
				os.RemoveAll(d)
			}
			t.Cleanup(func() { beforeOpenWeights = func(string) {} })
			var warns []string
			src, got, err := OpenWeights(dir, func(w string) { warns = append(warns, w) })
			if strings.HasPrefix(tc.want, "step-") {
				if err != nil {
					t.Fatal(err)
				}
				defer src.Close()
				if filepath.Base(got) != tc.want || src.Dir != got {
					t.Fatalf("read %s (%s), want %s", got, src.Dir, tc.want)
				}
				if wantWarn := tc.prunes > 0; (len(warns) == 1 && strings.Contains(warns[0], ck(15)) && strings.Contains(warns[0], ck(20))) != wantWarn {
					t.Errorf("warnings %q, want one naming step-15 and step-20: %v", warns, wantWarn)
				}
				// held open, it is read whole though the run prunes it
				_, want, err := model.LoadHF[float32](got)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.RemoveAll(got); err != nil {
					t.Fatal(err)
				}
				b, err := model.NewBackend("cpu", src.Config, 1, 8)
				if err != nil {
					t.Fatal(err)
				}
				defer b.Close()
				if err := src.WriteTo(b, model.NewStreamBuf(src.Layout.Size())); err != nil {
					t.Fatalf("reading the weights after their checkpoint was pruned: %v", err)
				}
				p := make([]float32, len(want))
				b.ReadParams(p)
				if !slices.Equal(p, want) {
					t.Error("the weights read after the pruning differ from the checkpoint's")
				}
				return
			}
			if err == nil {
				src.Close()
				t.Fatalf("read %s, want an error", got)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), ck(15)) || !strings.Contains(err.Error(), ck(20)) {
				t.Errorf("error %q, want %q naming step-15 and step-20", err, tc.want)
			}
		})
	}
}
