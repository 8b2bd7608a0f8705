package migrate

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"strings"
)

// nixpkgsFromLock reads a flake.lock and returns a flake reference to the
// exact nixpkgs revision its root input (usually "nixpkgs") is locked to,
// so that migrate verifies against what the user's configuration builds,
// not whatever the registry's nixpkgs is today.
func nixpkgsFromLock(path, input string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("reading flake.lock: %w", err)
	}
	ref, err := lockedRef(data, input)
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", path, err)
	}
	return ref, nil
}

type lockNode struct {
	Inputs map[string]json.RawMessage `json:"inputs"`
	Locked map[string]any             `json:"locked"`
}

func lockedRef(data []byte, input string) (string, error) {
	var lock struct {
		Nodes map[string]lockNode `json:"nodes"`
		Root  string              `json:"root"`
	}
	if err := json.Unmarshal(data, &lock); err != nil {
		return "", fmt.Errorf("not a flake.lock: %w", err)
	}
	root, ok := lock.Nodes[lock.Root]
	if !ok {
		return "", fmt.Errorf("not a flake.lock: no root node %q", lock.Root)
	}
	name, err := resolveInput(lock.Nodes, root, input, 0)
	if err != nil {
		return "", err
	}
	l := lock.Nodes[name].Locked
	str := func(k string) string { s, _ := l[k].(string); return s }
	withNar := func(ref string) string {
		if h := str("narHash"); h != "" {
			sep := "?"
			if strings.Contains(ref, "?") {
				sep = "&"
			}
			ref += sep + "narHash=" + url.QueryEscape(h)
		}
		return ref
	}
	switch t := str("type"); t {
	case "github", "gitlab", "sourcehut":
		if str("owner") == "" || str("repo") == "" || str("rev") == "" {
			return "", fmt.Errorf("input %s: %s lock without owner, repo or rev", input, t)
		}
		ref := t + ":" + str("owner") + "/" + str("repo") + "/" + str("rev")
		if h := str("host"); h != "" {
			ref += "?host=" + url.QueryEscape(h)
		}
		return ref, nil
	case "git":
		if str("url") == "" || str("rev") == "" {
			return "", fmt.Errorf("input %s: git lock without url or rev", input)
		}
		ref := "git+" + str("url")
		sep := "?"
		if strings.Contains(ref, "?") {
			sep = "&"
		}
		return ref + sep + "rev=" + url.QueryEscape(str("rev")), nil
	case "path":
		if str("path") == "" {
			return "", fmt.Errorf("input %s: path lock without a path", input)
		}
		return withNar("path:" + str("path")), nil
	case "tarball", "file":
		if str("url") == "" {
			return "", fmt.Errorf("input %s: %s lock without a url", input, t)
		}
		return withNar(t + "+" + str("url")), nil
	default:
		return "", fmt.Errorf("input %s: lock type %q is not one migrate can reference", input, t)
	}
}

// resolveInput finds the node an input of node n names: a node name, or a
// "follows" path from the root.
func resolveInput(nodes map[string]lockNode, n lockNode, input string, depth int) (string, error) {
	if depth > 16 {
		return "", fmt.Errorf("input %s: follows loop", input)
	}
	raw, ok := n.Inputs[input]
	if !ok {
		return "", fmt.Errorf("the flake has no input %q", input)
	}
	var name string
	if json.Unmarshal(raw, &name) == nil {
		if _, ok := nodes[name]; !ok {
			return "", fmt.Errorf("input %s: no node %q", input, name)
		}
		return name, nil
	}
	var path []string
	if err := json.Unmarshal(raw, &path); err != nil || len(path) == 0 {
		return "", fmt.Errorf("input %s: neither a node name nor a follows path", input)
	}
	root := nodes["root"]
	cur := root
	for i, p := range path {
		next, err := resolveInput(nodes, cur, p, depth+1)
		if err != nil {
			return "", err
		}
		if i == len(path)-1 {
			return next, nil
		}
		cur = nodes[next]
	}
	return "", fmt.Errorf("input %s: empty follows path", input)
}
