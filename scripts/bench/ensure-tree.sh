#!/usr/bin/env bash
# ensure-tree.sh DIR: makes the benchmark's Debian tree with
# `debootstrap --variant=minbase bookworm DIR MIRROR` unless DIR already
# holds one. MIRROR is the first URI of the apt source that carries the
# bookworm suite (deb822 /etc/apt/sources.list.d/debian.sources, else
# /etc/apt/sources.list). Needs root and network.
set -euo pipefail
dir=$1
[ -f "$dir/etc/os-release" ] && exit 0
mirror=''
if [ -f /etc/apt/sources.list.d/debian.sources ]; then
  mirror=$(awk '
    /^[[:space:]]*$/ { if (uris != "" && suite) { print uris; exit } uris = ""; suite = 0; next }
    /^URIs:/ { uris = $2 }
    /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == "bookworm") suite = 1 }
    END { if (uris != "" && suite) print uris }' /etc/apt/sources.list.d/debian.sources | head -n1)
fi
if [ -z "$mirror" ] && [ -f /etc/apt/sources.list ]; then
  mirror=$(awk '$1 == "deb" && $3 == "bookworm" { print $2; exit }' /etc/apt/sources.list)
fi
[ -n "$mirror" ] || { echo "ensure-tree: no bookworm mirror in the apt sources" >&2; exit 1; }
command -v debootstrap >/dev/null || { echo "ensure-tree: install the debootstrap package" >&2; exit 1; }
echo "ensure-tree: debootstrap --variant=minbase bookworm $dir $mirror" >&2
tmp=$dir.tmp.$$
rm -rf "$tmp"
debootstrap --variant=minbase bookworm "$tmp" "$mirror" >&2
mv "$tmp" "$dir"
