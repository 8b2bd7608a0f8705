package config

import (
	"reflect"
	"testing"
)

// BenchmarkDecls measures reading the declarations of the shared keys and
// of a [hosts.NAME] table from their struct tags, as a run does once.
func BenchmarkDecls(b *testing.B) {
	for _, t := range []reflect.Type{reflect.TypeFor[Step](), reflect.TypeFor[Host]()} {
		b.Run(t.Name(), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := declsOfType(t); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
