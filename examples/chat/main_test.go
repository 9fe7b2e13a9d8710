package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestFlags(t *testing.T) {
	var stderr bytes.Buffer
	for _, args := range [][]string{
		{"--key", "k", "--user", "a", "--to", "b"},
		{"--sdkappid", "1", "--key", "k", "--to", "b"},
		{"--sdkappid", "1", "--key", "k", "--user", "a"},
		{"--sdkappid", "1", "--key", "k", "--user", "a", "--to", "b", "--group", "g"},
	} {
		if code := run(t.Context(), args, strings.NewReader(""), &bytes.Buffer{}, &stderr); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
	if !strings.Contains(stderr.String(), "exactly one of --to and --group") {
		t.Fatalf("stderr: %s", stderr.String())
	}
}
