// Command tlogcheck checks the registry's log with Go's own golang.org/x/mod/sumdb/note and
// sumdb/tlog (Debian's golang-golang-x-mod-dev), code the registry did not write: it opens the
// signed checkpoints, and checks inclusion proofs (tlog.CheckRecord) and a consistency proof
// between two checkpoints (tlog.CheckTree). Run offline by the tests.
//
// Usage: tlogcheck BUNDLE.json; prints a JSON report and exits 0 (1 on bad usage).
package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

type inclusion struct {
	Index int64    `json:"index"`
	Size  int64    `json:"size"`
	Leaf  string   `json:"leaf"`
	Proof []string `json:"proof"`
}

type consistency struct {
	From  int64    `json:"from"`
	To    int64    `json:"to"`
	Proof []string `json:"proof"`
}

type bundle struct {
	VerifierKey string      `json:"verifier_key"`
	Checkpoints []string    `json:"checkpoints"`
	Inclusion   []inclusion `json:"inclusion"`
	Consistency consistency `json:"consistency"`
}

type checkpoint struct {
	Origin string
	Size   int64
	Root   tlog.Hash
}

func hash(s string) (tlog.Hash, error) {
	var h tlog.Hash
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) != len(h) {
		return h, fmt.Errorf("bad hash %q", s)
	}
	copy(h[:], b)
	return h, nil
}

func hashes(ss []string) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, 0, len(ss))
	for _, s := range ss {
		h, err := hash(s)
		if err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, nil
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: tlogcheck BUNDLE.json")
		os.Exit(1)
	}
	raw, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var b bundle
	if err := json.Unmarshal(raw, &b); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	report := map[string]interface{}{}
	var errs []string
	verifier, err := note.NewVerifier(b.VerifierKey)
	if err != nil {
		errs = append(errs, "verifier key: "+err.Error())
	}
	var opened []checkpoint
	for i, text := range b.Checkpoints {
		if verifier == nil {
			break
		}
		n, err := note.Open([]byte(text), note.VerifierList(verifier))
		if err != nil {
			errs = append(errs, fmt.Sprintf("checkpoint %d: %v", i, err))
			continue
		}
		lines := strings.Split(n.Text, "\n")
		if len(lines) < 4 {
			errs = append(errs, fmt.Sprintf("checkpoint %d: not a checkpoint body", i))
			continue
		}
		size, err1 := strconv.ParseInt(lines[1], 10, 64)
		root, err2 := hash(lines[2])
		if err1 != nil || err2 != nil {
			errs = append(errs, fmt.Sprintf("checkpoint %d: bad size or root", i))
			continue
		}
		opened = append(opened, checkpoint{lines[0], size, root})
	}
	report["checkpoints_verified"] = len(opened)
	rootAt := func(size int64) (tlog.Hash, bool) {
		for _, c := range opened {
			if c.Size == size {
				return c.Root, true
			}
		}
		return tlog.Hash{}, false
	}
	verified := 0
	for _, inc := range b.Inclusion {
		root, ok := rootAt(inc.Size)
		leaf, err1 := hash(inc.Leaf)
		proof, err2 := hashes(inc.Proof)
		if !ok || err1 != nil || err2 != nil {
			errs = append(errs, fmt.Sprintf("inclusion %d: no checkpoint of size %d or a bad hash", inc.Index, inc.Size))
			continue
		}
		if err := tlog.CheckRecord(tlog.RecordProof(proof), inc.Size, root, inc.Index, leaf); err != nil {
			errs = append(errs, fmt.Sprintf("inclusion %d in %d: %v", inc.Index, inc.Size, err))
			continue
		}
		verified++
	}
	report["inclusion_verified"] = verified
	if b.Consistency.To > 0 {
		oldRoot, ok1 := rootAt(b.Consistency.From)
		newRoot, ok2 := rootAt(b.Consistency.To)
		proof, err := hashes(b.Consistency.Proof)
		switch {
		case !ok1 || !ok2 || err != nil:
			errs = append(errs, "consistency: no checkpoints of those sizes or a bad hash")
		default:
			if err := tlog.CheckTree(tlog.TreeProof(proof), b.Consistency.To, newRoot, b.Consistency.From, oldRoot); err != nil {
				errs = append(errs, "consistency: "+err.Error())
			} else {
				report["consistency_verified"] = true
			}
		}
	}
	report["errors"] = errs
	out, _ := json.Marshal(report)
	fmt.Println(string(out))
}
