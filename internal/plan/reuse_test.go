package plan_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sysinit/sysinit/internal/config"
	"github.com/sysinit/sysinit/internal/plan"
	"github.com/sysinit/sysinit/internal/state"
)

// reuser is a fakeStep that can go back to the results it recorded: those
// in ok are still usable.
type reuser struct {
	*fakeStep
	ok    map[string]bool
	err   error
	asked []string
}

func (r *reuser) Reusable(_ context.Context, token string) (bool, error) {
	r.asked = append(r.asked, token)
	return r.ok[token], r.err
}

// TestReuse is the truth table of going back to a result built before.
// Every row starts from step "s" (inputs src/**) that succeeded with
// src/a.txt = "one" (token tok-one, generation 3, three days ago) and then
// with "two" (tok-two, the last success), changes things, and plans.
//
//	change since the last success                   reasons                       reuse
//	a.txt back to "one"                             inputs-changed, built-before  tok-one
//	a.txt back to "one", tok-one no longer usable   inputs-changed                -
//	a.txt back to "one", Reusable fails             inputs-changed                -
//	a.txt back to "one", no label kept              inputs-changed, built-before  tok-one ("3 days ago")
//	a.txt to "three", never built                   inputs-changed                -
//	a.txt back to "one", definition changed         definition-changed, inputs    - (results not read)
//	a.txt back to "one", result of another def.     inputs-changed                -
//	a.txt back to "one", --force                    forced, inputs-changed        -
//	a.txt back to "one", every expired              inputs-changed, ttl-expired   -
//	a.txt back to "one", results unreadable         inputs-changed                -
//	a.txt back to "one", not a Reuser               inputs-changed                - (results not read)
//	nothing                                         up-to-date                    - (results not read)
func TestReuse(t *testing.T) {
	tests := []struct {
		name    string
		change  func(f *fixture, r *reuser, results *[]state.Result)
		reasons []reason
		reuse   string
		read    bool // the results were read
	}{
		{
			name:    "revert",
			change:  func(f *fixture, _ *reuser, _ *[]state.Result) { f.write("src/a.txt", "one") },
			reasons: []reason{{kind: plan.InputsChanged, detail: "src/a.txt modified"}, {kind: plan.BuiltBefore, detail: "generation 3, 3 days ago"}},
			reuse:   "tok-one", read: true,
		},
		{
			name: "no longer usable",
			change: func(f *fixture, r *reuser, _ *[]state.Result) {
				f.write("src/a.txt", "one")
				r.ok["tok-one"] = false
			},
			reasons: []reason{{kind: plan.InputsChanged}}, read: true,
		},
		{
			name: "Reusable fails",
			change: func(f *fixture, r *reuser, _ *[]state.Result) {
				f.write("src/a.txt", "one")
				r.err = errors.New("no nix-store")
			},
			reasons: []reason{{kind: plan.InputsChanged}}, read: true,
		},
		{
			name: "no label",
			change: func(f *fixture, _ *reuser, rs *[]state.Result) {
				f.write("src/a.txt", "one")
				(*rs)[0].Label = ""
			},
			reasons: []reason{{kind: plan.InputsChanged}, {kind: plan.BuiltBefore, detail: "3 days ago"}},
			reuse:   "tok-one", read: true,
		},
		{
			name:    "never built",
			change:  func(f *fixture, _ *reuser, _ *[]state.Result) { f.write("src/a.txt", "three") },
			reasons: []reason{{kind: plan.InputsChanged}}, read: true,
		},
		{
			name: "definition changed",
			change: func(f *fixture, r *reuser, _ *[]state.Result) {
				f.write("src/a.txt", "one")
				r.def = append(r.def, "env=X=1")
			},
			reasons: []reason{{kind: plan.DefinitionChanged}, {kind: plan.InputsChanged}},
		},
		{
			name: "result of another definition",
			change: func(f *fixture, _ *reuser, rs *[]state.Result) {
				f.write("src/a.txt", "one")
				(*rs)[0].DefinitionDigest = "0000"
			},
			reasons: []reason{{kind: plan.InputsChanged}}, read: true,
		},
		{
			name: "--force",
			change: func(f *fixture, _ *reuser, _ *[]state.Result) {
				f.write("src/a.txt", "one")
				f.p.Force = true
			},
			reasons: []reason{{kind: plan.Forced}, {kind: plan.InputsChanged}},
		},
		{
			name: "every expired",
			change: func(f *fixture, _ *reuser, _ *[]state.Result) {
				f.write("src/a.txt", "one")
				f.step("s").Every = time.Hour
				f.now = f.now.Add(2 * time.Hour)
			},
			reasons: []reason{{kind: plan.InputsChanged}, {kind: plan.TTLExpired}},
		},
		{
			name: "results unreadable",
			change: func(f *fixture, _ *reuser, rs *[]state.Result) {
				f.write("src/a.txt", "one")
				*rs = nil
			},
			reasons: []reason{{kind: plan.InputsChanged}}, read: true,
		},
		{
			name: "not a Reuser",
			change: func(f *fixture, r *reuser, _ *[]state.Result) {
				f.write("src/a.txt", "one")
				f.p.Steps["s"] = r.fakeStep
			},
			reasons: []reason{{kind: plan.InputsChanged}},
		},
		{
			name:    "nothing changed",
			change:  func(*fixture, *reuser, *[]state.Result) {},
			reasons: []reason{{kind: plan.UpToDate}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, map[string]string{"src/a.txt": "one"}, &config.Step{Name: "s", Inputs: []string{"src/**"}})
			r := &reuser{fakeStep: f.fakes["s"], ok: map[string]bool{"tok-one": true, "tok-two": true}}
			f.p.Steps["s"] = r
			result := func() state.Result {
				f.succeed("s")
				rec := f.p.Records["s"]
				return state.Result{InputsDigest: rec.InputsDigest, DefinitionDigest: rec.DefinitionDigest, Started: rec.Started, RunID: rec.RunID}
			}
			one := result()
			one.Token, one.Label, one.Started = "tok-one", "generation 3", f.now.Add(-3*24*time.Hour)
			f.write("src/a.txt", "two")
			two := result()
			two.Token, two.Label = "tok-two", "generation 4"
			results := []state.Result{one, two}
			read := false
			f.p.Results = func(name string) ([]state.Result, error) {
				read = true
				if name != "s" {
					t.Errorf("results of %q read", name)
				}
				if results == nil {
					return nil, errors.New("damaged")
				}
				return results, nil
			}
			tt.change(f, r, &results)
			d := f.plan().Decision("s")
			if len(d.Reasons) != len(tt.reasons) {
				t.Fatalf("reasons %v, want %v", d.Reasons, tt.reasons)
			}
			for i, w := range tt.reasons {
				if got := d.Reasons[i]; got.Kind != w.kind || !strings.Contains(got.Detail, w.detail) {
					t.Errorf("reason %d = %+v, want %s containing %q", i, got, w.kind, w.detail)
				}
			}
			switch {
			case tt.reuse == "" && d.Reuse != nil:
				t.Errorf("reuse = %+v, want none", d.Reuse)
			case tt.reuse != "" && (d.Reuse == nil || d.Reuse.Token != tt.reuse):
				t.Errorf("reuse = %+v, want %s", d.Reuse, tt.reuse)
			}
			if read != tt.read {
				t.Errorf("results read: %v, want %v", read, tt.read)
			}
			if !d.Run {
				return
			}
			if got := d.Summary(); tt.reuse != "" && got != "inputs changed: src/a.txt modified; built before ("+d.Reasons[1].Detail+")" {
				t.Errorf("summary = %q", got)
			}
		})
	}
}

func TestAgo(t *testing.T) {
	for d, want := range map[time.Duration]string{
		-time.Second:         "recorded in the future (the clock was set back?)",
		0:                    "just now",
		59 * time.Second:     "just now",
		time.Minute:          "1 minute ago",
		59 * time.Minute:     "59 minutes ago",
		time.Hour:            "1 hour ago",
		47 * time.Hour:       "47 hours ago",
		48 * time.Hour:       "2 days ago",
		3*24*time.Hour + 1:   "3 days ago",
		400 * 24 * time.Hour: "400 days ago",
	} {
		if got := plan.Ago(d); got != want {
			t.Errorf("Ago(%s) = %q, want %q", d, got, want)
		}
	}
}
