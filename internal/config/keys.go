package config

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
)

// sharedDecls are the keys every kind takes (sudo only where the kind
// says), declared by the tags of Step. They are read when first needed,
// not when sysinit starts: most commands load no config.
var sharedDecls = sync.OnceValue(func() []*keyDecl { return mustDecls(reflect.TypeFor[Step]()) })

// kindDecl declares the key naming a step's kind; the loader reads it first.
var kindDecl = &keyDecl{name: "kind", doc: "what the step is: one of the kinds below", example: `kind = "command"`, required: true, typ: typeString}

func mustDecls(t reflect.Type) []*keyDecl {
	d, err := declsOfType(t)
	if err != nil {
		panic("config: " + err.Error())
	}
	return d
}

func sharedDecl(name string) *keyDecl {
	for _, d := range sharedDecls() {
		if d.name == name {
			return d
		}
	}
	return nil
}

// declFor finds how kind k takes key: as its own key (which may give a
// shared name its own meaning, as flake-update's inputs), as a shared key
// it honours, or not at all (nil). own reports which.
func declFor(k *Kind, key string) (d *keyDecl, own bool) {
	if d := k.key(key); d != nil {
		return d, true
	}
	d = sharedDecl(key)
	if d == nil || !honours(k, key) {
		return nil, false
	}
	return d, false
}

// honours reports whether kind k takes the shared key: sudo and hosts only
// where the kind says so.
func honours(k *Kind, key string) bool {
	switch key {
	case "sudo":
		return k.Sudo
	case "hosts":
		return k.Targets
	}
	return true
}

// validKeys lists the keys kind k takes, its own first.
func validKeys(k *Kind) []string {
	var keys []string
	for _, d := range k.ownKeys() {
		keys = append(keys, d.name)
	}
	keys = append(keys, "kind")
	for _, d := range sharedDecls() {
		if honours(k, d.name) && !slices.Contains(keys, d.name) {
			keys = append(keys, d.name)
		}
	}
	return keys
}

// allKeys lists every key of every kind, for suggestions when the kind
// itself is wrong.
func (l *loader) allKeys() []string {
	keys := []string{"kind"}
	for _, d := range sharedDecls() {
		keys = append(keys, d.name)
	}
	for _, k := range l.kinds.List() {
		for _, d := range k.ownKeys() {
			keys = append(keys, d.name)
		}
	}
	slices.Sort(keys)
	return slices.Compact(keys)
}

// kindsWith lists the kinds that take key (their own, sudo or hosts).
func (l *loader) kindsWith(key string) []string {
	var kinds []string
	for _, k := range l.kinds.List() {
		if d, _ := declFor(k, key); d != nil && (k.key(key) != nil || key == "sudo" || key == "hosts") {
			kinds = append(kinds, k.Name)
		}
	}
	return kinds
}

// unknownKey explains a key that the step's kind k (nil when the kind
// itself is wrong) does not take: a typo of a valid key, a key of another
// kind, a shared key this kind does not honour, or nothing sysinit knows.
func (l *loader) unknownKey(s *Step, k *Kind, key string) {
	at := s.Keys[key]
	if k != nil && key == "sudo" {
		hint := k.NoSudo
		if hint == "" {
			hint = "remove it; nothing this kind runs needs root"
		}
		l.fail(at, hint, "%s steps do not take `sudo`", k.Name)
		return
	}
	if k != nil && key == "hosts" {
		l.fail(at, fmt.Sprintf("only %s steps act on other machines; remove it", joinList(l.kindsWith("hosts"), "and")),
			"%s steps do not take `hosts`", k.Name)
		return
	}
	owners := l.kindsWith(key)
	if k != nil && len(owners) > 0 {
		l.fail(at, fmt.Sprintf("remove it, or change kind to %s", quoteList(owners, "or")),
			"`%s` is a %s key; this step is kind %q", key, joinList(owners, "or"), s.Kind)
		return
	}
	candidates := l.allKeys()
	if k != nil {
		candidates = validKeys(k)
	}
	hint := ""
	if c := closest(key, candidates); c != "" {
		hint = fmt.Sprintf("did you mean %q?", c)
	} else if c := closest(key, l.allKeys()); k != nil && len(l.kindsWith(c)) > 0 {
		hint = fmt.Sprintf("did you mean %q? it is a %s key; this step is kind %q", c, joinList(l.kindsWith(c), "or"), s.Kind)
	} else if k != nil {
		var own []string
		for _, d := range k.ownKeys() {
			own = append(own, d.name)
		}
		shared := slices.DeleteFunc(validKeys(k), func(n string) bool { return slices.Contains(own, n) })
		if len(own) > 0 {
			hint = fmt.Sprintf("a %s step takes %s, and the shared keys %s", s.Kind, strings.Join(own, ", "), strings.Join(shared, ", "))
		} else {
			hint = fmt.Sprintf("a %s step takes the shared keys %s", s.Kind, strings.Join(shared, ", "))
		}
		hint += "; `sysinit help config " + s.Kind + "` lists them"
	}
	l.fail(at, hint, "unknown key %q", key)
}

// quoteList renders ["a", "b", "c"] as `"a", "b" or "c"`.
func quoteList(items []string, conj string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = fmt.Sprintf("%q", s)
	}
	return joinList(q, conj)
}

// joinList renders ["a", "b", "c"] as "a, b or c".
func joinList(items []string, conj string) string {
	if len(items) < 2 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " " + conj + " " + items[len(items)-1]
}
