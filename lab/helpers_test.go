package lab

import (
	"testing"

	"github.com/olmolab/olmolab/model"
)

func mustPreset(t *testing.T, name string) model.Config {
	t.Helper()
	c, err := model.PresetByName(name)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
