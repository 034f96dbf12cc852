// Package data turns text and token files into training batches: tokenizers, sources, mixtures, and the conversion
// of documents to OLMo token files. It has no UI; the lab (lab/) drives it and maps its *InputError to exit code 2.
//
// # Tokenizers
//
//		tok, err := data.NewTokenizer("dolma2") // or "bytes", "world"
//		ids := tok.Encode(nil, "hello world")  // [15339 1917]
//
//	  - dolma2: OLMo 2's tokenizer (docs/olmo2.md §11): cl100k_base's BPE and pre-tokenizer (ids 0–100255, equal to
//	    tiktoken token for token; testdata/cl100k_golden.json), OLMo's added tokens 100256–100277, EOS 100257,
//	    PAD 100277, no BOS; VocabSize 100352 (100278 padded to a multiple of 128). Embedded: nothing is downloaded.
//	    About 1M tokens/s per core (BenchmarkEncode), far above what a CPU trainer consumes.
//	  - bytes: UTF-8 bytes 0–255, EOS 256, PAD 257, VocabSize 384.
//	  - world: the built-in world's 2,048-token BPE (package bpe, trained by world.TrainTokenizer and embedded as
//	    world/tokenizer.bpe), EOS 2046, PAD 2047, VocabSize 2048. docs/world.md: bytes learn nothing at the budget
//	    where this learns the world.
//
// HFTokenizerFiles gives each of them as Hugging Face loads it (tokenizer.json, tokenizer_config.json,
// special_tokens_map.json, generation_config.json), for the lab to write beside every checkpoint's config.json:
// tokenizer.json encodes as Encode does (TestHFTokenizerEncodesAsOurs, FuzzHFTokenizer), except that HF reads a
// special token's string in text as that token.
//
// Text that looks like a special token ("<|endoftext|>") is always encoded as plain text; Decode(Encode(s)) == s for
// every valid UTF-8 s. Token files use the smallest element type that holds the vocabulary (DTypeFor: uint32 for
// dolma2, uint16 for the others), as OLMo-core does.
//
// # Sources and mixtures
//
// A mixture is a list of SourceSpec{Name, TargetRatio, Paths}, as olmo-cookbook's dataset.sources. A source is one
// of
//
//   - OLMo token files (.npy, .bin: headerless little-endian ids, documents ended by EOS), cut into SeqLen instances
//     file by file, the remainder of each file dropped, shuffled per epoch, read an instance at a time (pread);
//   - documents: Dolma JSON lines (.jsonl/.json, optionally .gz or .zst; field "text", others ignored) or text files
//     (.txt/.md, one document per file), tokenized on the fly by a worker pool, EOS appended, packed into instances;
//   - a built-in world source, builtin:web_noisy, builtin:web_clean, builtin:code, builtin:math or builtin:qa
//     (package world): endless, deterministic documents about one fixed knowledge base.
//
// Paths may be files, directories (recursive) or globs. NewLoader checks everything before training: missing files,
// token files whose size is not a multiple of the element size, whose head (headBytes: a bounded read, so that
// 10^12 tokens open in milliseconds) holds an id ≥ VocabSize, that start with np.save's header, or whose head read
// as uint16 has a 0 at every odd index (uint32 ids: LoaderParams.DType, or the source's own SourceSpec.DType, so that
// uint16 and uint32 sources mix; ids past the head are checked as instances are read, and one ≥ VocabSize stops Next
// with an *InputError naming the file and index), malformed JSON lines in each file's first docHeadBytes (a
// warning with file:line and the line skipped; one further in is warned about when it is read, through
// Loader.TakeWarnings; Strict mode and capped sources read every file whole and stop at the first), empty sources, negative or missing
// (NaN) ratios. Ratios that do not sum to 1 are normalised with one warning. A source's RepetitionFactor and
// MaxSourceRatio (olmo-cookbook's caps) are checked by whoever knows how many tokens the run trains (lab), against
// the size of one pass that Loader.PassTokens reports (a capped document source's is counted once per file and kept,
// sizecache.go).
//
//	l, err := data.NewLoader(data.LoaderParams{Sources: mix, Tokenizer: tok, SeqLen: 128, Seed: 1, Warn: warn})
//	ids := make([]int32, B*T)
//	err = l.Next(ids)                        // B instances of T tokens; labels are the trainer's business
//	err = l.SetMix(annealMix)                // from the next instance on; may add sources
//	counts := l.TokensBySource()             // exact tokens served per source
//	st := l.State()                          // JSON, into the checkpoint; l.Restore(st) resumes exactly
//
// Determinism: each source's instance stream depends only on (seed, source name, position): token files' instances in
// a keyed permutation per epoch, documents in a keyed file order per epoch with their packed instances permuted in
// windows of docShuffleWindow (a validation set reads them in file order); the mixture picks the
// source of instance n by smooth weighted round-robin on integer weights, so it depends only on n and the mix
// history, never on goroutine timing, and every source is within one instance of its share at every point. Sources
// produce ahead on their own goroutines (Prefetch instances each), so Next only copies in steady state; Stats counts
// the times it had to wait.
//
// # Tokenizing files
//
// Tokenize converts documents to OLMo token files (olmolab tokenize INPUT... --out DIR --tokenizer NAME): files
// part-00000.npy, … split at MaxFileBytes on document boundaries, in input order whatever the number of workers,
// each written to a temporary name and renamed when complete, with progress callbacks and a summary (documents,
// tokens, bytes per token).
package data
