package config

import (
	"reflect"
	"testing"
)

// tagCases are tags whose every key must read as reflect reads it:
// escapes, a malformed pair (reflect stops there), a repeated key (the
// first one counts, even when its value does not unquote), spaces.
var tagCases = []string{
	``,
	`key:"run"`,
	`key:"run" doc:"the command line, run with sh -c" example:"run = \"make install\""`,
	`  key:"a"   doc:"b"  `,
	`key:"a" doc:"b`,
	`key:"a" doc "b" example:"c"`,
	`key:"a" key:"b"`,
	`key:"\q" key:"b" doc:"c"`,
	`doc:"\q" key:"b"`,
	`key:"a"doc:"b"`,
	`key:"tab\there" items:"glob patterns" enum:"a,b,c"`,
	"key:\"a\"\tdoc:\"b\"",
	`:"a" key:"b"`,
	`key:"` + "\x7f" + `" doc:"b"`,
	`key:"é" doc:"ü\u00e9"`,
}

// TestStructTag: a tag parsed once answers every key as
// reflect.StructTag.Lookup and Get do.
func TestStructTag(t *testing.T) {
	keys := []string{"key", "doc", "example", "items", "enum", "missing", "", "a"}
	for _, tag := range tagCases {
		parsed := parseTag(nil, reflect.StructTag(tag))
		for _, key := range keys {
			checkTag(t, tag, parsed, key)
		}
	}
}

func FuzzStructTag(f *testing.F) {
	for _, tag := range tagCases {
		f.Add(tag, "key")
		f.Add(tag, "doc")
	}
	f.Fuzz(func(t *testing.T, tag, key string) {
		parsed := parseTag(nil, reflect.StructTag(tag))
		checkTag(t, tag, parsed, key)
		for _, p := range parsed {
			checkTag(t, tag, parsed, p.key)
		}
	})
}

func checkTag(t *testing.T, tag string, parsed structTag, key string) {
	t.Helper()
	wantV, wantOK := reflect.StructTag(tag).Lookup(key)
	if v, ok := parsed.Lookup(key); v != wantV || ok != wantOK {
		t.Errorf("tag %q: Lookup(%q) = %q, %v; reflect says %q, %v", tag, key, v, ok, wantV, wantOK)
	}
	if v := parsed.Get(key); v != wantV {
		t.Errorf("tag %q: Get(%q) = %q; reflect says %q", tag, key, v, wantV)
	}
}
