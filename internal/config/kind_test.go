package config

import (
	"sync"
	"testing"
)

// TestMalformedKindPanics: a kind whose keys are declared wrong is a bug
// in sysinit that the first use of its declarations reports, naming the
// kind, however late that use comes.
func TestMalformedKindPanics(t *testing.T) {
	k := &Kind{Name: "bad", Keys: &struct {
		X string `key:"x" example:"x = \"y\""`
	}{}}
	ks := NewKinds(k)
	for range 2 {
		func() {
			defer func() {
				const want = `config: kind "bad": key "x" has no doc or example`
				if r := recover(); r != want {
					t.Errorf("Decls panicked with %v, want %q", r, want)
				}
			}()
			ks.Get("bad").Decls()
		}()
	}
}

// TestKindKeysConcurrent: the first uses of a kind's declarations may come
// from many goroutines at once (run with -race).
func TestKindKeysConcurrent(t *testing.T) {
	k := &Kind{Name: "k", Keys: &struct {
		X string `key:"x" doc:"an x" example:"x = \"y\""`
	}{}}
	ks := NewKinds(k)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if d := ks.Get("k").Decls(); len(d) != 1 || d[0].Name != "x" {
				t.Errorf("Decls = %+v, want the key x", d)
			}
		})
	}
	wg.Wait()
}
