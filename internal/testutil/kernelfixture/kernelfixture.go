// Package kernelfixture makes stand-in kernels for tests: files that pass
// for a kernel wherever banger only reads their headers and config.
package kernelfixture

import "encoding/binary"

// BuiltinConfig is a Firecracker-style kernel config: everything banger
// needs built in, so Inspect says it boots without modules.
const BuiltinConfig = `CONFIG_ACPI=y
CONFIG_VIRTIO=y
CONFIG_VIRTIO_MMIO=y
CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES=y
CONFIG_VIRTIO_BLK=y
CONFIG_VIRTIO_NET=y
CONFIG_VIRTIO_CONSOLE=y
CONFIG_VIRTIO_VSOCKETS=y
CONFIG_EXT4_FS=y
CONFIG_DEVTMPFS=y
CONFIG_DEVTMPFS_MOUNT=y
CONFIG_BLK_DEV_INITRD=y
`

// BzImage is a structurally real x86 boot image header and nothing else:
// "HdrS" at 0x202, protocol 2.15, a kernel_version pointer at 0x20E whose
// string names release, XLF_KERNEL_64 set.
func BzImage(release string) []byte {
	img := make([]byte, 16<<10)
	copy(img[0x202:], "HdrS")
	binary.LittleEndian.PutUint16(img[0x206:], 0x020f)
	const ptr = 0x1000
	binary.LittleEndian.PutUint16(img[0x20e:], ptr)
	img[0x236] = 1
	copy(img[ptr+0x200:], release+" (test@example) #1 SMP PREEMPT_DYNAMIC\x00")
	return img
}
