// Package experiments holds the recipes shipped with olmolab, embedded in the
// binary and runnable by bare name: `olmolab --batch quickstart`.
package experiments

import (
	"embed"
	"io/fs"
	"sort"
	"strings"
)

//go:embed *.yaml
var files embed.FS

// Recipe is one shipped recipe.
type Recipe struct {
	Name string // file name without .yaml
	Path string // "experiments/<name>.yaml", used in messages
	YAML []byte
}

// Lookup returns the shipped recipe called name (with or without .yaml).
func Lookup(name string) (Recipe, bool) {
	name = strings.TrimSuffix(name, ".yaml")
	b, err := files.ReadFile(name + ".yaml")
	if err != nil {
		return Recipe{}, false
	}
	return Recipe{Name: name, Path: "experiments/" + name + ".yaml", YAML: b}, true
}

// All returns every shipped recipe, sorted by name.
func All() []Recipe {
	ents, _ := fs.ReadDir(files, ".")
	var out []Recipe
	for _, e := range ents {
		if r, ok := Lookup(e.Name()); ok {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
