#!/usr/bin/env bash
# Installs the system packages banger's tests, demo and benchmarks use, and
# downloads (never installs) Debian's cloud kernel package as the test kernel.
# Idempotent; needs root (re-runs itself with sudo when it can).
set -euo pipefail
if [ "$(id -u)" != 0 ]; then
  exec sudo --preserve-env=PATH "$0" "$@"
fi
export DEBIAN_FRONTEND=noninteractive

packages=(
  e2fsprogs        # e2fsck/debugfs/resize2fs: the ext4 test gate
  qemu-system-x86  # boot tests and vm run (TCG)
  docker-registry  # the CNCF distribution registry the pull tests and demo use
  apache2-utils    # htpasswd for registry auth tests
  openssl          # self-signed registry certificates
  busybox-static   # the guest userland of the test and demo images
  debootstrap      # a real Debian tree for end-to-end tests and benchmarks
  skopeo umoci     # the seed's pipeline, for make bench
  cpio xz-utils zstd attr util-linux time ca-certificates curl git make
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

kdir=/var/cache/banger-ci
mkdir -p "$kdir"
if ! ls "$kdir"/linux-image-*-cloud-amd64_*.deb >/dev/null 2>&1; then
  [ -n "$(apt-cache policy linux-image-cloud-amd64 | awk '/Candidate/{print $2}')" ] || apt-get update -qq
  pkg=$(apt-cache depends linux-image-cloud-amd64 | awk '/Depends: linux-image-/{print $2; exit}')
  chmod 0777 "$kdir"
  (cd "$kdir" && apt-get download -qq "$pkg")
fi

# The debootstrapped bookworm minbase tree the Debian boot test
# (e2e/debianboot) and make bench use; debootstrap's output goes to stderr,
# stdout is kept for the kernel path below.
"$(dirname "$0")/bench/ensure-tree.sh" "$kdir/bookworm-minbase" >&2
ls "$kdir"/linux-image-*-cloud-amd64_*.deb | head -n1
