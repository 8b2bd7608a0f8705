#!/usr/bin/env bash
# A current Nix beside Debian bookworm's 2.8: a Debian root (trixie: Nix 2.26, sid: Nix 2.34)
# built with mmdebstrap from Debian's own packages, configured for offline use like
# install-nix-offline.sh, and a way to run a command inside it with the Go toolchain, the
# module cache and the working directory mounted at the same paths. The same root can serve as
# a second machine with its own /nix store, reached over ssh on a loopback port. Needs root.
#
#   nix-root.sh build SUITE DIR        build (or keep) a root; about 1-2 minutes, ~450 MB
#   nix-root.sh run DIR CMD [ARG...]   run CMD inside DIR's root, in the current directory
#   nix-root.sh sshd DIR PORT PUBKEY   start sshd inside DIR's root on 127.0.0.1:PORT, root login
#                                      with the key in file PUBKEY only; prints sshd's pid
#
# A second machine, tried with the host's Nix 2.8 as the client and trixie's 2.26 as the remote:
#   ssh-keygen -q -t ed25519 -N '' -f KEY; nix-root.sh sshd DIR 2222 KEY.pub
#   export NIX_SSHOPTS="-p 2222 -i KEY -o UserKnownHostsFile=KNOWN"   # accept its key once
#   nix copy --no-check-sigs --to ssh-ng://root@127.0.0.1 /nix/store/...   (or ssh://, no flag)
#   ssh $NIX_SSHOPTS root@127.0.0.1 nix-env -p /nix/var/nix/profiles/system --set /nix/store/...
# (Without --no-check-sigs the remote refuses unsigned paths over ssh-ng, as a real one would
# unless the paths are signed with a key it trusts: `nix store sign`, trusted-public-keys.)
#
# Example (the nix tests on Nix 2.26):
#   sudo bash scripts/nix-root.sh build trixie /var/tmp/nix-trixie
#   sudo bash scripts/nix-root.sh run /var/tmp/nix-trixie go test ./internal/nix/...
# Mounts are made in a private mount namespace (unshare), so nothing is left mounted afterwards.
set -euo pipefail

build() {
	local suite=$1 dir=$2
	# A root is kept when it has everything the tests run inside it need:
	# nix, ssh both ways (the fleet scripts), and tmux, sudo and the shadow
	# tools (internal/cli's terminal and sudo tests run in the roots too).
	local need ok=1
	for need in usr/bin/nix usr/sbin/sshd usr/bin/ssh usr/bin/tmux usr/bin/sudo usr/sbin/useradd usr/sbin/chpasswd; do
		[ -x "$dir/$need" ] || ok=
	done
	if [ -n "$ok" ] && [ -f "$dir/etc/nix/nix.conf" ]; then return 0; fi
	command -v mmdebstrap >/dev/null || { apt-get install -y --no-install-recommends mmdebstrap >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y --no-install-recommends mmdebstrap >/dev/null; }; }
	rm -rf "$dir"
	# A frozen mirror can serve a suite whose Release file has expired: accept it.
	mmdebstrap --variant=minbase --aptopt='Acquire::Check-Valid-Until "false"' \
		--include=nix-bin,git,ca-certificates,openssh-server,openssh-client,tmux,sudo,passwd "$suite" "$dir" >/dev/null
	mkdir -p "$dir/etc/nix"
	echo '{"flakes":[],"version":2}' > "$dir/etc/nix/registry-empty.json"
	cat > "$dir/etc/nix/nix.conf" <<'CONF'
experimental-features = nix-command flakes
sandbox = false
build-users-group =
substituters =
flake-registry = /etc/nix/registry-empty.json
warn-dirty = false
CONF
	unshare --mount --propagation private sh -c 'mount -t proc proc "$1/proc" && chroot "$1" nix --version' sh "$dir"
}

run() {
	local dir=$1; shift
	local goroot gomodcache gocache here
	goroot=$(go env GOROOT 2>/dev/null || true)
	gomodcache=$(go env GOMODCACHE 2>/dev/null || true)
	gocache=$(go env GOCACHE 2>/dev/null || true)
	here=$PWD
	# Paths mounted at the same place inside the root: the toolchain, Go's caches, the current
	# directory, /tmp (tests use it), and the kernel's file systems.
	local mounts=("$here" /tmp)
	# The roots themselves, so that tests run inside one can start the
	# others as second machines (internal/cli's fleet scripts).
	local roots=${SYSINIT_NIX_ROOTS:-/var/tmp}
	[ -d "$roots/nix-trixie" ] && mounts+=("$roots")
	for p in "$goroot" "$gomodcache" "$gocache"; do [ -n "$p" ] && [ -d "$p" ] && mounts+=("$p"); done
	local script='set -e; d=$1; shift
mount -t proc proc "$d/proc"; mount --rbind /dev "$d/dev"
n=$1; shift; i=0
while [ $i -lt $n ]; do p=$1; shift; mkdir -p "$d$p"; mount --rbind "$p" "$d$p"; i=$((i+1)); done
cwd=$1; shift
exec chroot "$d" /usr/bin/env PATH="'"${goroot:+$goroot/bin:}"'/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" HOME=/root CGO_ENABLED=0 GOFLAGS="${GOFLAGS:-}" GOMODCACHE="'"$gomodcache"'" GOCACHE="'"$gocache"'" SYSINIT_REQUIRE_NIX="${SYSINIT_REQUIRE_NIX:-}" SYSINIT_NIX_ROOTS="${SYSINIT_NIX_ROOTS:-}" sh -c '"'"'cd "$0" && exec "$@"'"'"' "$cwd" "$@"'
	unshare --mount --propagation private sh -c "$script" sh "$dir" "${#mounts[@]}" "${mounts[@]}" "$here" "$@"
}

sshd() {
	local dir=$1 port=$2 key=$3
	[ -x "$dir/usr/sbin/sshd" ] || { echo "no sshd in $dir: rebuild the root (it includes openssh-server)" >&2; exit 1; }
	mkdir -p "$dir/root/.ssh"; chmod 700 "$dir/root/.ssh"
	cp "$key" "$dir/root/.ssh/authorized_keys"; chmod 600 "$dir/root/.ssh/authorized_keys"
	unshare --mount --propagation private sh -c 'd=$1; p=$2
mount -t proc proc "$d/proc"; mount --rbind /dev "$d/dev"; mkdir -p "$d/run/sshd"
exec chroot "$d" /usr/sbin/sshd -D -e -p "$p" -o ListenAddress=127.0.0.1 \
	-o PermitRootLogin=prohibit-password -o PasswordAuthentication=no' sh "$dir" "$port" \
		>"$dir/var/log/sysinit-sshd.log" 2>&1 &
	local pid=$!
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		grep -q 'Server listening' "$dir/var/log/sysinit-sshd.log" 2>/dev/null && { echo "$pid"; return 0; }
		sleep 0.3
	done
	cat "$dir/var/log/sysinit-sshd.log" >&2; return 1
}

case "${1:-}" in
build) shift; build "$@" ;;
run) shift; run "$@" ;;
sshd) shift; sshd "$@" ;;
*) sed -n '2,25p' "$0"; exit 2 ;;
esac
