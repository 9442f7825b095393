package ext4

import (
	"fmt"
	"io/fs"
	"sort"
	"strings"
)

// maxSymlinkHops bounds symlink resolution of parent components.
const maxSymlinkHops = 40

// extent maps logical blocks [logical, logical+len) to physical blocks.
type extent struct {
	logical uint32
	len     uint32
	phys    uint64
}

// timestamp is seconds and nanoseconds since the Unix epoch.
type timestamp struct {
	sec  int64
	nsec uint32
}

// node is one inode of the image under construction. Directory entries
// point at nodes; hardlinks are several entries pointing at one node.
type node struct {
	mode                uint16 // type and permission bits
	uid, gid            uint32
	atime, ctime, mtime timestamp
	size                uint64
	devMajor, devMinor  uint32
	target              string // symlink target
	xattrs              []xattr
	extents             []extent // file data
	children            map[string]*node
	links               int    // directory entries naming this node
	ino                 uint32 // assigned at Close
	fixedIno            uint32 // root and lost+found
}

func (n *node) isDir() bool     { return uint32(n.mode)&sIFMT == sIFDIR }
func (n *node) isSymlink() bool { return uint32(n.mode)&sIFMT == sIFLNK }

// sortedNames returns the children's names in byte order.
func (n *node) sortedNames() []string {
	names := make([]string, 0, len(n.children))
	for k := range n.children {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// splitClean turns a slash path into components, rejecting any ".." that
// would climb above the root. "" and "." name the root.
func splitClean(name string) ([]string, error) {
	var out []string
	for _, c := range strings.Split(name, "/") {
		switch c {
		case "", ".":
		case "..":
			if len(out) == 0 {
				return nil, fmt.Errorf("resolving %q: %w", name, ErrUnsafePath)
			}
			out = out[:len(out)-1]
		default:
			if len(c) > maxNameLen {
				return nil, fmt.Errorf("resolving %q: name component longer than %d bytes: %w", name, maxNameLen, ErrInvalid)
			}
			if strings.IndexByte(c, 0) >= 0 {
				return nil, fmt.Errorf("resolving %q: NUL in name: %w", name, ErrInvalid)
			}
			out = append(out, c)
		}
	}
	return out, nil
}

// errNotExist marks a missing path component.
var errNotExist = fs.ErrNotExist

// walker resolves paths inside the image, following symlinks in parent
// components while confining them to the root.
type walker struct {
	root   *node
	create func() *node // makes a missing parent directory; nil means fail
	hops   int
}

// dir resolves comps as a directory, following symlinks at every component.
func (w *walker) dir(comps []string) (*node, error) {
	cur := []*node{w.root}
	for i := 0; i < len(comps); i++ {
		parent := cur[len(cur)-1]
		c := comps[i]
		if c == ".." {
			if len(cur) > 1 {
				cur = cur[:len(cur)-1]
			}
			continue
		}
		child, ok := parent.children[c]
		if !ok {
			if w.create == nil {
				return nil, fmt.Errorf("resolving %q: %w", strings.Join(comps[:i+1], "/"), errNotExist)
			}
			child = w.create()
			child.links = 1
			parent.children[c] = child
		}
		if child.isSymlink() {
			w.hops++
			if w.hops > maxSymlinkHops {
				return nil, fmt.Errorf("resolving %q: too many levels of symbolic links: %w", strings.Join(comps[:i+1], "/"), ErrInvalid)
			}
			rest, abs := symlinkComps(child.target)
			if abs {
				cur = cur[:1]
			}
			comps = append(rest, comps[i+1:]...)
			i = -1
			continue
		}
		if !child.isDir() {
			return nil, fmt.Errorf("resolving %q: not a directory: %w", strings.Join(comps[:i+1], "/"), ErrInvalid)
		}
		cur = append(cur, child)
	}
	return cur[len(cur)-1], nil
}

// symlinkComps splits a symlink target, keeping ".." (resolved by dir()
// against its own stack, clamped at the root).
func symlinkComps(target string) ([]string, bool) {
	var out []string
	for _, c := range strings.Split(target, "/") {
		if c != "" && c != "." {
			out = append(out, c)
		}
	}
	return out, strings.HasPrefix(target, "/")
}
