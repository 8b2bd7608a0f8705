package config

import (
	"reflect"
	"strconv"
)

// structTag is a struct tag split into its key:"value" pairs once. A key's
// tag carries a dozen keys and a line of doc; reflect.StructTag.Get scans
// the whole tag afresh for each key it is asked for.
type structTag []tagPair

// tagPair is one key:"value" pair of a struct tag, its value still quoted.
type tagPair struct{ key, quoted string }

// parseTag splits tag into its pairs, appended to dst (whose array a
// caller reading many tags reuses), reading it as reflect.StructTag.Lookup
// does: it stops at the first malformed pair.
func parseTag(dst structTag, tag reflect.StructTag) structTag {
	pairs := dst
	for tag != "" {
		// Skip leading space.
		i := 0
		for i < len(tag) && tag[i] == ' ' {
			i++
		}
		tag = tag[i:]
		if tag == "" {
			break
		}
		// Scan to the colon. A space, a quote or a control character is a
		// syntax error.
		i = 0
		for i < len(tag) && tag[i] > ' ' && tag[i] != ':' && tag[i] != '"' && tag[i] != 0x7f {
			i++
		}
		if i == 0 || i+1 >= len(tag) || tag[i] != ':' || tag[i+1] != '"' {
			break
		}
		key := string(tag[:i])
		tag = tag[i+1:]
		// Scan the quoted value.
		i = 1
		for i < len(tag) && tag[i] != '"' {
			if tag[i] == '\\' {
				i++
			}
			i++
		}
		if i >= len(tag) {
			break
		}
		pairs = append(pairs, tagPair{key: key, quoted: string(tag[:i+1])})
		tag = tag[i+1:]
	}
	return pairs
}

// Lookup is reflect.StructTag.Lookup: the value of the first pair with
// key, unquoted; not ok when there is none or its value does not unquote.
func (t structTag) Lookup(key string) (value string, ok bool) {
	for _, p := range t {
		if p.key == key {
			value, err := strconv.Unquote(p.quoted)
			if err != nil {
				return "", false
			}
			return value, true
		}
	}
	return "", false
}

// Get is reflect.StructTag.Get: Lookup's value, "" when there is none.
func (t structTag) Get(key string) string {
	v, _ := t.Lookup(key)
	return v
}
