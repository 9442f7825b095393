package kernelcat

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/klauspost/compress/gzip"
)

// ImageFormat is the container format of a kernel image.
type ImageFormat string

// Kernel image formats recognised by their magic bytes.
const (
	// FormatBzImage is an x86 boot image ("HdrS" at 0x202), what distros ship as vmlinuz.
	FormatBzImage ImageFormat = "bzImage"
	// FormatELF is an uncompressed ELF vmlinux, what Firecracker boots on x86.
	FormatELF ImageFormat = "elf"
	// FormatArm64Image is an arm64 "Image" ("ARM\x64" at 0x38).
	FormatArm64Image ImageFormat = "arm64-image"
)

// ImageInfo is what can be read from a kernel image without running it.
type ImageInfo struct {
	Format ImageFormat `json:"format"`
	// Arch is "amd64", "386" or "arm64".
	Arch string `json:"arch"`
	// Release is the kernel release (uname -r) from the bzImage header or the
	// "Linux version" banner; empty when neither could be read.
	Release string `json:"release,omitempty"`
	// PVH reports an ELF image carrying the Xen PVH entry note, which QEMU
	// needs to load an uncompressed x86 kernel.
	PVH bool `json:"pvh,omitempty"`
}

// InspectImage reads the format, arch, release and PVH note of a kernel image.
func InspectImage(name string) (ImageInfo, error) {
	f, err := os.Open(name)
	if err != nil {
		return ImageInfo{}, err
	}
	defer f.Close()
	head := make([]byte, 0x240)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return ImageInfo{}, fmt.Errorf("reading %s: %w", name, err)
	}
	head = head[:n]
	var info ImageInfo
	switch {
	case bytes.HasPrefix(head, []byte(elf.ELFMAG)):
		info, err = elfInfo(f)
	case len(head) >= 0x206 && string(head[0x202:0x206]) == "HdrS":
		info, err = bzImageInfo(f, head)
	case len(head) >= 0x3c && string(head[0x38:0x3c]) == "ARM\x64":
		info = ImageInfo{Format: FormatArm64Image, Arch: "arm64"}
	default:
		return ImageInfo{}, fmt.Errorf("%w: %s is not a bzImage, ELF vmlinux or arm64 Image", ErrUnsupported, name)
	}
	if err != nil {
		return ImageInfo{}, fmt.Errorf("reading %s: %w", name, err)
	}
	if info.Release == "" && info.Format != FormatBzImage {
		info.Release, err = bannerRelease(f)
	}
	return info, err
}

func elfInfo(f *os.File) (ImageInfo, error) {
	ef, err := elf.NewFile(f)
	if err != nil {
		return ImageInfo{}, err
	}
	info := ImageInfo{Format: FormatELF}
	switch ef.Machine {
	case elf.EM_X86_64:
		info.Arch = "amd64"
	case elf.EM_AARCH64:
		info.Arch = "arm64"
	case elf.EM_386:
		info.Arch = "386"
	default:
		return ImageInfo{}, fmt.Errorf("%w: ELF machine %v", ErrUnsupported, ef.Machine)
	}
	info.PVH = hasPVHNote(ef)
	return info, nil
}

// hasPVHNote looks for the Xen ELF note XEN_ELFNOTE_PHYS32_ENTRY (type 18)
// that CONFIG_PVH puts into an x86 vmlinux.
func hasPVHNote(ef *elf.File) bool {
	for _, p := range ef.Progs {
		if p.Type != elf.PT_NOTE || p.Filesz > 1<<20 {
			continue
		}
		data := make([]byte, p.Filesz)
		if _, err := p.ReadAt(data, 0); err != nil {
			continue
		}
		for len(data) >= 12 {
			namesz := ef.ByteOrder.Uint32(data[0:4])
			descsz := ef.ByteOrder.Uint32(data[4:8])
			typ := ef.ByteOrder.Uint32(data[8:12])
			nameEnd := 12 + align4(namesz)
			end := nameEnd + align4(descsz)
			if end > uint64(len(data)) {
				break
			}
			if typ == 18 && string(bytes.TrimRight(data[12:12+uint64(namesz)], "\x00")) == "Xen" {
				return true
			}
			data = data[end:]
		}
	}
	return false
}

func align4(n uint32) uint64 { return (uint64(n) + 3) &^ 3 }

// bzImageInfo reads the x86 boot protocol setup header: kernel_version (a
// pointer at 0x20E to a string at ptr+0x200) and xloadflags (0x236,
// XLF_KERNEL_64 tells a 64-bit kernel).
func bzImageInfo(f *os.File, head []byte) (ImageInfo, error) {
	info := ImageInfo{Format: FormatBzImage, Arch: "386"}
	proto := binary.LittleEndian.Uint16(head[0x206:])
	if proto >= 0x020c && len(head) >= 0x238 && head[0x236]&1 != 0 {
		info.Arch = "amd64"
	}
	ptr := int64(binary.LittleEndian.Uint16(head[0x20e:]))
	if ptr == 0 {
		return info, nil
	}
	buf := make([]byte, 256)
	n, err := f.ReadAt(buf, ptr+0x200)
	if err != nil && !errors.Is(err, io.EOF) {
		return info, err
	}
	s, _, _ := strings.Cut(string(buf[:n]), "\x00")
	info.Release, _, _ = strings.Cut(s, " ")
	return info, nil
}

// bannerRelease finds "Linux version <release> " in an uncompressed image.
func bannerRelease(f *os.File) (string, error) {
	const needle = "Linux version "
	var found string
	err := scanFile(f, []byte(needle), func(off int64) bool {
		buf := make([]byte, 128)
		n, _ := f.ReadAt(buf, off+int64(len(needle)))
		rel, _, ok := strings.Cut(string(buf[:n]), " ")
		if ok && rel != "" && rel[0] >= '0' && rel[0] <= '9' && !strings.ContainsAny(rel, "%\x00") {
			found = rel
			return false
		}
		return true
	})
	return found, err
}

// ikconfig extracts the config embedded by CONFIG_IKCONFIG from an
// uncompressed image: a gzip stream between "IKCFG_ST" and "IKCFG_ED".
func ikconfig(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var cfg []byte
	err = scanFile(f, []byte("IKCFG_ST"), func(off int64) bool {
		sr := io.NewSectionReader(f, off+8, 1<<62)
		zr, err := gzip.NewReader(sr)
		if err != nil {
			return true
		}
		zr.Multistream(false) // "IKCFG_ED" follows the stream
		data, err := io.ReadAll(io.LimitReader(zr, 8<<20))
		if err == nil && bytes.Contains(data, []byte("CONFIG_")) {
			cfg = data
			return false
		}
		return true
	})
	return cfg, err
}

// scanFile calls fn with the offset of each match of needle in f until fn
// returns false or the file ends.
func scanFile(f *os.File, needle []byte, fn func(off int64) bool) error {
	const chunk = 1 << 20
	buf := make([]byte, chunk+len(needle))
	var base int64
	for {
		n, err := f.ReadAt(buf, base)
		if n > 0 {
			window := buf[:n]
			for i := 0; ; {
				j := bytes.Index(window[i:], needle)
				if j < 0 || (i+j >= chunk && n == len(buf)) {
					break // a match starting past chunk is found by the next window
				}
				if !fn(base + int64(i+j)) {
					return nil
				}
				i += j + 1
			}
		}
		if errors.Is(err, io.EOF) || n < len(buf) {
			return nil
		}
		if err != nil {
			return err
		}
		base += chunk
	}
}
