package kernelcat

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"debug/elf"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/banger-dev/banger/internal/testutil/kernelfixture"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// The fixtures below are built by the tests themselves (see testdata/README.md).

const fakeRelease = "6.1.0-99-test-amd64"

// fakeConfig is a config with the Debian cloud kernel's choices that matter.
const fakeConfig = `# test config
CONFIG_64BIT=y
CONFIG_ACPI=y
CONFIG_VIRTIO=m
CONFIG_VIRTIO_MMIO=m
# CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES is not set
CONFIG_VIRTIO_BLK=m
CONFIG_VIRTIO_NET=m
CONFIG_VIRTIO_CONSOLE=m
CONFIG_VIRTIO_VSOCKETS=m
CONFIG_EXT4_FS=y
CONFIG_DEVTMPFS=y
# CONFIG_DEVTMPFS_MOUNT is not set
CONFIG_BLK_DEV_INITRD=y
CONFIG_LOCALVERSION=""
`

// fakeVmlinux is an x86_64 ELF executable with a PT_NOTE holding the Xen PVH
// entry note (when pvh), the "Linux version" banner and an IKCONFIG blob.
func fakeVmlinux(t *testing.T, release, config string, pvh bool) []byte {
	t.Helper()
	var note bytes.Buffer
	typ := uint32(18)
	if !pvh {
		typ = 5 // some other Xen note
	}
	binary.Write(&note, binary.LittleEndian, [3]uint32{4, 4, typ})
	note.WriteString("Xen\x00")
	binary.Write(&note, binary.LittleEndian, uint32(0x1000000))

	var body bytes.Buffer
	body.WriteString("padding Linux version %s (format string, not the banner)\x00")
	fmt.Fprintf(&body, "Linux version %s (builder@ci) (gcc 12) #1 SMP\n\x00", release)
	if config != "" {
		body.WriteString("IKCFG_ST")
		zw := gzip.NewWriter(&body)
		zw.Write([]byte(config))
		zw.Close()
		body.WriteString("IKCFG_ED")
	}

	const ehsize, phsize = 64, 56
	noteOff := uint64(ehsize + phsize)
	hdr := elf.Header64{
		Type: uint16(elf.ET_EXEC), Machine: uint16(elf.EM_X86_64), Version: 1,
		Entry: 0x1000000, Phoff: ehsize, Ehsize: ehsize, Phentsize: phsize, Phnum: 1,
	}
	copy(hdr.Ident[:], elf.ELFMAG)
	hdr.Ident[elf.EI_CLASS], hdr.Ident[elf.EI_DATA], hdr.Ident[elf.EI_VERSION] = byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), 1
	ph := elf.Prog64{Type: uint32(elf.PT_NOTE), Off: noteOff, Filesz: uint64(note.Len()), Memsz: uint64(note.Len()), Align: 4}
	var out bytes.Buffer
	binary.Write(&out, binary.LittleEndian, hdr)
	binary.Write(&out, binary.LittleEndian, ph)
	out.Write(note.Bytes())
	out.Write(body.Bytes())
	return out.Bytes()
}

// fakeModule is a relocatable ELF with a .modinfo section, like a .ko.
func fakeModule(name string, deps ...string) []byte {
	modinfo := []byte("license=GPL\x00depends=" + strings.Join(deps, ",") + "\x00name=" + name + "\x00vermagic=" + fakeRelease + " SMP\x00")
	shstr := []byte("\x00.modinfo\x00.shstrtab\x00")
	const ehsize = 64
	modOff := uint64(ehsize)
	strOff := modOff + uint64(len(modinfo))
	shOff := (strOff + uint64(len(shstr)) + 7) &^ 7
	hdr := elf.Header64{
		Type: uint16(elf.ET_REL), Machine: uint16(elf.EM_X86_64), Version: 1,
		Shoff: shOff, Ehsize: ehsize, Shentsize: 64, Shnum: 3, Shstrndx: 2,
	}
	copy(hdr.Ident[:], elf.ELFMAG)
	hdr.Ident[elf.EI_CLASS], hdr.Ident[elf.EI_DATA], hdr.Ident[elf.EI_VERSION] = byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), 1
	secs := []elf.Section64{
		{},
		{Name: 1, Type: uint32(elf.SHT_PROGBITS), Off: modOff, Size: uint64(len(modinfo)), Addralign: 1},
		{Name: 10, Type: uint32(elf.SHT_STRTAB), Off: strOff, Size: uint64(len(shstr)), Addralign: 1},
	}
	var out bytes.Buffer
	binary.Write(&out, binary.LittleEndian, hdr)
	out.Write(modinfo)
	out.Write(shstr)
	out.Write(make([]byte, shOff-uint64(out.Len())))
	binary.Write(&out, binary.LittleEndian, secs)
	return out.Bytes()
}

// fakeModules is the virtio module set with the dependencies Debian's 6.1 has.
func fakeModules() map[string][]byte {
	return map[string][]byte{
		"kernel/drivers/virtio/virtio_ring.ko":        fakeModule("virtio_ring"),
		"kernel/drivers/virtio/virtio.ko":             fakeModule("virtio", "virtio_ring"),
		"kernel/drivers/virtio/virtio_mmio.ko":        fakeModule("virtio_mmio", "virtio", "virtio_ring"),
		"kernel/drivers/block/virtio_blk.ko":          fakeModule("virtio_blk", "virtio", "virtio_ring"),
		"kernel/drivers/char/virtio_console.ko":       fakeModule("virtio_console", "virtio", "virtio_ring"),
		"kernel/net/core/failover.ko":                 fakeModule("failover"),
		"kernel/drivers/net/net_failover.ko":          fakeModule("net_failover", "failover"),
		"kernel/drivers/net/virtio_net.ko":            fakeModule("virtio_net", "virtio_ring", "virtio", "net_failover"),
		"kernel/net/vmw_vsock/vsock.ko":               fakeModule("vsock"),
		"kernel/drivers/char/hw_random/virtio-rng.ko": fakeModule("virtio_rng", "virtio", "virtio_ring"),
	}
}

// tarEntry is one entry for buildTar; Type 0 means a regular file.
type tarEntry struct {
	Name, Link string
	Type       byte
	Body       []byte
	Size       int64 // for a regular file with nil Body: that many zero bytes
}

func buildTar(t *testing.T, entries []tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := &tar.Header{Name: e.Name, Linkname: e.Link, Typeflag: e.Type, Mode: 0o644, Format: tar.FormatPAX}
		switch e.Type {
		case 0:
			hdr.Typeflag = tar.TypeReg
			hdr.Size = int64(len(e.Body))
			if e.Body == nil {
				hdr.Size = e.Size
			}
		case tar.TypeDir:
			hdr.Mode = 0o755
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if hdr.Typeflag == tar.TypeReg {
			body := e.Body
			if body == nil {
				body = make([]byte, e.Size)
			}
			if _, err := tw.Write(body); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gzipBytes(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func xzBytes(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, err := xz.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func zstdBytes(t *testing.T, b []byte) []byte {
	t.Helper()
	zw, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer zw.Close()
	return zw.EncodeAll(b, nil)
}

// buildDeb writes the ar layout of a Debian package: debian-binary,
// control.tar.gz and data.tar.xz holding data.
func buildDeb(t *testing.T, data []byte) []byte {
	t.Helper()
	control := gzipBytes(t, buildTar(t, []tarEntry{{Name: "./control", Body: []byte("Package: linux-image-test\n")}}))
	var buf bytes.Buffer
	buf.WriteString(arMagic)
	for _, m := range []struct {
		name string
		body []byte
	}{{"debian-binary", []byte("2.0\n")}, {"control.tar.gz", control}, {"data.tar.xz", xzBytes(t, data)}} {
		fmt.Fprintf(&buf, "%-16s%-12d%-6d%-6d%-8s%-10d`\n", m.name, 0, 0, 0, "100644", len(m.body))
		buf.Write(m.body)
		if len(m.body)%2 == 1 {
			buf.WriteByte('\n')
		}
	}
	return buf.Bytes()
}

// kernelTree is the tar entries of a distro-like kernel package.
func kernelTree(prefix, release string) []tarEntry {
	entries := []tarEntry{
		{Name: prefix + "boot/", Type: tar.TypeDir},
		{Name: prefix + "boot/vmlinuz-" + release, Body: kernelfixture.BzImage(release)},
		{Name: prefix + "boot/config-" + release, Body: []byte(fakeConfig)},
		{Name: prefix + "boot/System.map-" + release, Body: []byte("ffffffff t x\n")},
		{Name: prefix + "lib/modules/" + release + "/", Type: tar.TypeDir},
		{Name: prefix + "lib/modules/" + release + "/modules.builtin", Body: []byte("kernel/fs/ext4/ext4.ko\n")},
	}
	for p, b := range fakeModules() {
		entries = append(entries, tarEntry{Name: prefix + "lib/modules/" + release + "/" + p, Body: b})
	}
	entries = append(entries, tarEntry{Name: prefix + "usr/share/doc/x/copyright", Body: []byte("GPL")})
	return entries
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
