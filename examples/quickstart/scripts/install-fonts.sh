#!/bin/sh
# Installs every font under fonts/ into the directory given.
set -eu
dest=$1
mkdir -p "$dest"
for f in fonts/*; do
	cp "$f" "$dest/"
	echo "installed $(basename "$f")"
done
