// Package export turns a recipe into files another trainer runs: for one large
// run, an OLMo-core training script (train.py), its torchrun launcher
// (launch.sh) and a note of what was and was not mapped (EXPORT.md), as
// DESIGN.md's "Beyond one machine" asks. We never write our own cluster manager.
//
// The script is written against OLMo-core's API at OLMoCoreCommit and follows
// that commit's src/examples/llm/train.py and src/scripts/train/OLMo2/*.py. It is
// checked, not run: the tests compile it and execute it against a recording stub
// of exactly the OLMo-core classes and signatures it uses (testdata/stub, made by
// scripts/olmo-core-stub.py from an OLMo-core checkout), so a wrong module path,
// class name or keyword fails a test, and the recorded arguments are compared
// with the recipe.
package export
