#!/usr/bin/env bash
# mkfs-tree.sh TREE IMG: mkfs.ext4 -d TREE into IMG, sized by the rule banger's
# writer uses (content × 1.25 in whole 128 MiB groups, at least 1 GiB) and
# with the writer's inode budget (entries × 1.5 + 4096), so mkfs.ext4 is
# never short of inodes. Counting the tree first is part of the job: mkfs
# needs the size before it starts.
set -euo pipefail
tree=$1 img=$2
read -r bytes entries < <(find "$tree" -printf '%s\n' | awk '{ s += $1; n++ } END { print s + 0, n + 0 }')
read -r kib inodes < <(awk -v c="$bytes" -v n="$entries" 'BEGIN {
  g = 128 * 1048576; s = int((c * 1.25 + g - 1) / g) * g; if (s < 1073741824) s = 1073741824
  k = s / 1024; a = int(n * 1.5) + 4096; b = int(k / 16); printf "%d %d\n", k, (a > b ? a : b) }')
rm -f "$img"
exec mkfs.ext4 -q -F -N "$inodes" -d "$tree" "$img" "${kib}k"
