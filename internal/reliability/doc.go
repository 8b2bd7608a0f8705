// Package reliability holds sysinit's reliability suite: trials that kill,
// signal, starve and corrupt a real, built sysinit running real configs,
// and count what went wrong — wrong records, orphaned steps, overlapping
// runs, panics, wrong skips. The trials are tests behind the `reliability`
// build tag, so that `go test ./...` stays quick:
//
//	go test -tags reliability ./internal/reliability -args -reliability.kill=600
//
// scripts/reliability.sh runs them with the fuzz targets and prints the
// counts; RELIABILITY.md describes each trial and holds the figures of the
// long run.
package reliability
