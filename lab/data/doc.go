// Package data turns text and token files into training batches: tokenizers, sources and mixtures.
package data
