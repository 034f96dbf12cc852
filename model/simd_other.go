//go:build !amd64 || purego

package model

func detectSIMD() simdKind { return simdGo }
