// Package debianboot is the acceptance test of "boot pulled images" on a
// real distribution: a debootstrapped Debian bookworm minbase tree is cut
// into a three-layer OCI image (internal/testutil/debianimage), pushed to
// Debian's docker-registry, pulled with the real banger binary, and booted
// once under QEMU with Debian's cloud kernel. Through `vm exec` it checks
// that the guest runs as root, that /usr/bin/su kept its setuid-root bit
// and that the bit works (a user running it gets euid 0, which a copy
// without the bit does not), that the guest is bookworm, and that stopping
// and removing the VM leaves the image's rootfs byte-identical.
//
// The tree comes from $BANGER_DEBIAN_TREE (default
// /var/cache/banger-ci/bookworm-minbase, which scripts/install-deps.sh
// makes); the kernel package from $BANGER_TEST_KERNEL_DEB or
// /var/cache/banger-ci/linux-image-*-cloud-amd64_*.deb. The test skips,
// naming what to install, when either, QEMU, docker-registry or root is
// missing. TestMain uses $BANGER_BIN_DIR/{banger,banger-init} when both
// exist, else builds them. The package has no code outside its tests.
package debianboot
