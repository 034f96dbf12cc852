// Package olmes evaluates models the OLMo 2 way: OLMES's multiple-choice formats, requests, metrics and the
// signal-to-noise analysis that says which evaluations can tell small runs apart. The spec is
// ../shared/docs/olmes.md, cited here as "olmes.md §n".
//
// Requests. BuildRequests turns a raw dataset (Hugging Face datasets' Arrow files or the dataset's own JSONL) into
// the exact log-likelihood requests oe-eval sends for ARC-Easy, ARC-Challenge, BoolQ, CommonsenseQA, HellaSwag,
// OpenBookQA, PIQA, Social IQa, WinoGrande and MMLU: the same templates, curated 5-shot examples, splits and
// random.Random(1234).sample subsets (PyRandom reproduces CPython's Mersenne Twister). WriteRequests writes them
// in oe-eval's request JSONL so they diff against oe-eval's own dumps; ReadRequests and LoadRequestsTask read
// such dumps back for evaluation.
//
// Tasks. A Task is one formulation (RC or MC) of a benchmark: instances, each with one (context, continuation)
// request per choice, the unconditional requests acc_uncond needs, the gold choice and a primary metric.
// BuiltinTask builds tasks over the built-in world's knowledge base (lab/data/world), split into development and
// unseen tasks as OLMo 2 splits its suite. LoadTask and LoadTasks take any of these by name (built-in tasks,
// OLMES tasks, groups such as "builtin" or "core9", request dumps); an Evaluator caches them for a run.
//
// Scoring. Evaluate scores every request's continuation by its summed log-probability on any model.Backend:
// trailing whitespace of the context moves onto the continuation and the input is left-truncated to the model's
// context (lm-evaluation-harness's rules, olmes.md §1), one request per row of the backend's (B,T) micro-batch so
// one forward scores B requests (on the CPU and GPU engines a context's requests share one row, the context once), identical requests scored once and each context tokenized once
// (EvalOptions.Reshape fits micro-batches to the requests' lengths, longest first). Metrics follow
// oe-eval's MCAccuracy (olmes.md §2): acc_raw, acc_per_token, acc_per_char, acc_per_byte, acc_uncond and the gold
// answer's bits per byte, ties to the first choice, MMLU macro-averaged over subjects. Results print as a table
// or JSON and become EvalRecords, the lines of a run's evals.jsonl.
//
// Signal to noise. SNR computes, per task, formulation and metric, signal = (max − min) / mean of the runs' final
// scores and noise = std / mean (population std) over a run's last n checkpoints, per run and averaged (the
// default) or pooled over runs as the Signal-and-Noise code does for small models (olmes.md §4, D1); SNR =
// signal / noise; the checkpoint-averaging intervention; and decision accuracy between two sets of runs.
//
// Bad input (an unknown task, missing data, a malformed request or evals line) is an *InputError; front ends map
// it to exit code 2 with IsInputError.
package olmes
