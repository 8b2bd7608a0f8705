#!/usr/bin/env bash
# The reliability suite: kill and signal, store corruption, disk-full and
# security trials against a built sysinit (internal/reliability, behind the
# `reliability` build tag), then every fuzz target for a fixed time; prints
# the counts. RELIABILITY.md describes the trials and holds the long run's
# figures.
#
#   scripts/reliability.sh          short run, what CI runs (a few minutes)
#   scripts/reliability.sh long     the run behind RELIABILITY.md (about half an hour)
#   SEED=N scripts/reliability.sh   replay the trials of a logged seed
#
# Run as root: the disk-full trials mount a tmpfs, the root-aiming ones
# act on another user's files. Without root they skip (SYSINIT_REQUIRE_ROOT=1
# makes that a failure). Exits non-zero if any trial or fuzz target failed.
set -uo pipefail
cd "$(dirname "$0")/.."

mode=${1:-short}
case "$mode" in
# The short run, what CI runs, gives each target a count of executions,
# not a time: go 1.26's fuzz coordinator can fail a target that found
# nothing when a -fuzztime duration ends ("context deadline exceeded",
# go.dev/issue/75804, fixed in go 1.27); a count sets no deadline. It
# does not minimize either: minimizing a new interesting input can outlast
# the run (a crasher is still written, whole).
short) kill=24 corrupt=30 diskfull=12 fuzztime=50000x minimize=0 ;;
# The long run keeps 120 s a target, the figures RELIABILITY.md holds; there
# a bare "context deadline exceeded" with no crasher written is that race.
long) kill=1000 corrupt=600 diskfull=200 fuzztime=120s minimize=60s ;;
*)
	echo "usage: $0 [short|long]" >&2
	exit 2
	;;
esac

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
status=0

echo "== trials ($mode: $kill kill/signal, $corrupt corruption, $diskfull disk-full, and the security cases)"
go test -tags reliability -count=1 -timeout 6h -v ./internal/reliability -args \
	-reliability.kill="$kill" -reliability.corrupt="$corrupt" -reliability.diskfull="$diskfull" \
	-reliability.seed="${SEED:-0}" -reliability.report="$out/report.jsonl" >"$out/trials.log" 2>&1 || status=1
grep -v -e '^=== RUN' -e '^=== PAUSE' -e '^=== CONT' "$out/trials.log"

echo
echo "== fuzz targets (-fuzztime $fuzztime each)"
for file in $(grep -rl --include='*_test.go' '^func Fuzz' internal | sort); do
	pkg=./$(dirname "$file")
	for name in $(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "$file"); do
		log="$out/fuzz.log"
		if go test -run '^$' -fuzz "^$name\$" -fuzztime "$fuzztime" -fuzzminimizetime "$minimize" "$pkg" >"$log" 2>&1; then
			result=ok
		else
			result=FAIL
			status=1
		fi
		execs=$(grep -o 'execs: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
		printf '%-22s %-16s %12s executions  %s\n' "$pkg" "$name" "${execs:-?}" "$result"
		if [ "$result" = FAIL ]; then
			tail -20 "$log"
		fi
	done
done
exit $status
