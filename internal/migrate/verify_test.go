package migrate

import (
	"strings"
	"testing"

	"github.com/sysinit/sysinit/internal/command"
)

// TestTailError: the message shown for a failed nix command is nix's own
// error, in the form of each version (captured from 2.8, 2.26 and 2.34).
func TestTailError(t *testing.T) {
	tests := []struct {
		name string
		tail string
		want string
	}{
		{"2.8: the message on the first error line",
			"error: evaluation aborted with the following error message: 'boom'",
			"nix: exit status 1: error: evaluation aborted with the following error message: 'boom'"},
		{"2.26 and later: a bare error line, a trace, then the message",
			`error:
       … while calling the 'abort' builtin
         at /nix/store/g17fix55nik1ymc330dk9g3gbwalk813-source/flake.nix:76:35:
           75|         # An error tryEval cannot catch, where nix search does not look.
           76|         broken-set = { hardfail = abort "boom"; };
             |                                   ^
           77|         # A set of packages, not a package.

       error: evaluation aborted with the following error message: 'boom'`,
			"nix: exit status 1: error: evaluation aborted with the following error message: 'boom'"},
		{"no error line: the last line", "something\nwent wrong\n", "nix: exit status 1: went wrong"},
		{"nothing said", "", "nix: exit status 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tail []string
			if tt.tail != "" {
				tail = strings.Split(tt.tail, "\n")
			}
			err := &tailError{&command.ExitError{Argv: []string{"nix", "eval"}, Code: 1, Tail: tail}}
			if got := err.Error(); got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}
