#!/usr/bin/env bash
# The no-change refresh of issue 2, measured as whole processes side by side
# with the floor (stat-ing the tree): four command steps whose inputs cover
# a generated config repo of 2,000 and 20,000 files. Needs hyperfine
# (apt-get install hyperfine). Usage: [ROUNDS=7] scripts/bench-nochange.sh [SIZES...]
set -euo pipefail
cd "$(dirname "$0")/.."
CGO_ENABLED=0 go build -tags noasm -o bin/sysinit ./cmd/sysinit
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(2000 20000)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export HOME=$work/home XDG_CACHE_HOME=$work/home/.cache XDG_STATE_HOME=$work/home/.local/state
for n in "${sizes[@]}"; do
	# sysinit bench generates (and caches) the deterministic repos.
	bin/sysinit bench --suite --sizes "$n" --scenarios no-change --runs 1 --warmup 0 --scale 0.001 --real-nix off >/dev/null
	repo=$work/repo-$n
	cp -r "$XDG_CACHE_HOME/sysinit/bench/repo-v1-$n" "$repo"
	cat > "$repo/sysinit.toml" <<'TOML'
[steps.all]
kind   = "command"
run    = "true"
inputs = ["**"]

[steps.flake]
kind   = "command"
run    = "true"
inputs = ["modules/**", "hosts/**", "flake.nix", "flake.lock"]

[steps.conf]
kind   = "command"
run    = "true"
inputs = ["**/*.conf"]

[steps.brew]
kind   = "command"
run    = "true"
inputs = ["Brewfile"]
TOML
	(cd "$repo" && "$OLDPWD/bin/sysinit" refresh >/dev/null && sleep 2.5 && "$OLDPWD/bin/sysinit" refresh >/dev/null)
	echo "== $n files"
	# A shared VM's speed drifts over seconds: the two commands take turns,
	# ROUNDS rounds of 30 runs each, and each side's figure is the median
	# of its rounds' medians.
	for r in $(seq "${ROUNDS:-7}"); do
		(cd "$repo" && hyperfine -N --warmup 3 --runs 30 --export-json "$work/sysinit-$n-$r.json" "$OLDPWD/bin/sysinit refresh" >/dev/null &&
			hyperfine --warmup 3 --runs 30 --export-json "$work/floor-$n-$r.json" "find . -type f -printf '%T@ %s %p\n' | sha256sum" >/dev/null)
	done
	median() { for f in "$@"; do grep -o '"median": *[0-9.e-]*' "$f" | head -1 | grep -o '[0-9.e-]*$'; done | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
	s=$(median "$work"/sysinit-"$n"-*.json)
	f=$(median "$work"/floor-"$n"-*.json)
	awk -v s="$s" -v f="$f" -v n="$n" -v r="${ROUNDS:-7}" 'BEGIN { printf "%d files: sysinit median %.1f ms, floor median %.1f ms, ratio %.2f (%d rounds)\n", n, s*1000, f*1000, s/f, r }'

done
