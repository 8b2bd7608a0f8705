package lazyregexp

import "testing"

func TestCompiledOnceOnFirstUse(t *testing.T) {
	re := New(`^a(b+)$`)
	first := re()
	if m := first.FindStringSubmatch("abbb"); len(m) != 2 || m[1] != "bbb" {
		t.Fatalf("match = %q, want the group bbb", m)
	}
	if re() != first {
		t.Fatal("a second call compiled the expression again")
	}
}

func TestBadExpressionPanicsAtFirstUse(t *testing.T) {
	re := New(`(`) // must not panic here
	defer func() {
		if recover() == nil {
			t.Fatal("a bad expression compiled")
		}
	}()
	re()
}
