#!/bin/sh
# Prints the first heading of every note.
set -eu
mkdir -p out
for f in notes/*.md; do
	printf '%s: %s\n' "$f" "$(head -n 1 "$f" | sed 's/^# //')"
done
