package runner

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/sysinit/sysinit/internal/plan"
	"github.com/sysinit/sysinit/internal/step"
)

// followStep is a testStep that follows another step (step.Follower).
type followStep struct {
	*testStep
	leader string
}

func (f *followStep) Leader() string      { return f.leader }
func (f *followStep) Follow(string, bool) {}

// TestRunFollowerStartsAtPublish: a follower starts once its leader has
// published, while the leader still runs — the leader here finishes only
// after the follower has run — and is decided again after Exported has
// been told what was published. The leader's Outcome.Export is recorded.
// A follower whose leader fails before publishing is blocked; one whose
// leader ran without publishing starts at its end.
func TestRunFollowerStartsAtPublish(t *testing.T) {
	h := newHarness(t)
	followerRan := newSignal()
	leader := runs(func(ctx context.Context, rc *step.RunContext) (step.Outcome, error) {
		rc.Publish("brewfile v2")
		// Building and activating: the follower runs meanwhile.
		if err := wait(ctx, followerRan.ch, "the follower to run"); err != nil {
			return step.Outcome{}, err
		}
		return step.Outcome{Token: "out", Export: "brewfile v2"}, nil
	})
	follower := &followStep{testStep: runs(func(context.Context, *step.RunContext) (step.Outcome, error) {
		followerRan.fire()
		return step.Outcome{}, nil
	}), leader: "system"}
	var mu sync.Mutex
	var exported []string
	h.opts.Exported = func(step, export string) {
		mu.Lock()
		defer mu.Unlock()
		exported = append(exported, step+"="+export)
	}
	sys := decision("system", leader)
	brew := skipped("brew", follower, "system")
	brew.Recheck = true
	h.opts.Redecide = func(_ context.Context, name string) *plan.Decision {
		mu.Lock()
		defer mu.Unlock()
		if name != "brew" || len(exported) != 1 || exported[0] != "system=brewfile v2" {
			t.Errorf("decided %s again with %q published", name, exported)
		}
		return decision("brew", follower, "system")
	}
	res := h.run(t.Context(), sys, brew)
	want(t, res, map[string]Status{"system": StatusDone, "brew": StatusDone}, nil)
	for _, p := range h.store.puts {
		if p.rec.Step == "system" && p.rec.Export != "brewfile v2" {
			t.Errorf("system recorded export %q", p.rec.Export)
		}
	}

	// The leader fails before publishing: blocked.
	h = newHarness(t)
	failing := runs(func(context.Context, *step.RunContext) (step.Outcome, error) {
		return step.Outcome{}, errors.New("evaluation failed")
	})
	follower = &followStep{testStep: runs(nil), leader: "system"}
	res = h.run(t.Context(), decision("system", failing), decision("brew", follower, "system"))
	want(t, res, map[string]Status{"system": StatusFailed, "brew": StatusBlocked}, map[string]string{"brew": "blocked by system"})

	// The leader publishes nothing (no follower asks it to): the follower
	// starts at its end.
	h = newHarness(t)
	ended := false
	var endMu sync.Mutex
	quiet := runs(func(context.Context, *step.RunContext) (step.Outcome, error) {
		endMu.Lock()
		defer endMu.Unlock()
		ended = true
		return step.Outcome{}, nil
	})
	follower = &followStep{testStep: runs(func(context.Context, *step.RunContext) (step.Outcome, error) {
		endMu.Lock()
		defer endMu.Unlock()
		if !ended {
			t.Error("the follower started before its leader, which published nothing, ended")
		}
		return step.Outcome{}, nil
	}), leader: "system"}
	res = h.run(t.Context(), decision("system", quiet), decision("brew", follower, "system"))
	want(t, res, map[string]Status{"system": StatusDone, "brew": StatusDone}, nil)
}
