package flatten

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"
)

// memSink is a small in-memory filesystem tree that follows the Sink
// contract: inodes shared by hardlinks, directories replaced in place,
// implicit parents, symlinked parents followed inside the root.
type memSink struct {
	root     *memInode
	rootPuts int // Puts of the root itself (Options.Verbatim only)
}

type memInode struct {
	hdr  tar.Header
	data []byte
	kids map[string]*memInode // directories only
}

func newMemSink() *memSink {
	return &memSink{root: newMemDir()}
}

func newMemDir() *memInode {
	return &memInode{hdr: tar.Header{Typeflag: tar.TypeDir, Mode: 0o755}, kids: map[string]*memInode{}}
}

func (n *memInode) isDir() bool { return n.hdr.Typeflag == tar.TypeDir }

// memClean cleans a name as the contract says the writer does.
func memClean(name string) (string, error) {
	c := path.Clean(strings.TrimLeft(name, "/"))
	if c == ".." || strings.HasPrefix(c, "../") {
		return "", fmt.Errorf("%q: %w", name, ErrUnsafePath)
	}
	return c, nil
}

// lookupDir resolves directory name, following symlinks inside the root (at
// most 40 hops) and creating missing directories when create is set.
func (m *memSink) lookupDir(name string, create bool) (*memInode, error) {
	stack := []*memInode{m.root}
	queue := strings.Split(name, "/")
	hops := 0
	for len(queue) > 0 {
		c := queue[0]
		queue = queue[1:]
		cur := stack[len(stack)-1]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(stack) > 1 {
				stack = stack[:len(stack)-1]
			}
			continue
		}
		child := cur.kids[c]
		if child == nil {
			if !create {
				return nil, fmt.Errorf("%q: %w", name, fs.ErrNotExist)
			}
			child = newMemDir()
			cur.kids[c] = child
		}
		switch child.hdr.Typeflag {
		case tar.TypeDir:
			stack = append(stack, child)
		case tar.TypeSymlink:
			if hops++; hops > 40 {
				return nil, fmt.Errorf("%q: too many symlinks", name)
			}
			t := child.hdr.Linkname
			if strings.HasPrefix(t, "/") {
				stack = stack[:1]
			}
			queue = append(strings.Split(t, "/"), queue...)
		default:
			return nil, fmt.Errorf("%q: component %q is not a directory", name, c)
		}
	}
	return stack[len(stack)-1], nil
}

func (m *memSink) Put(hdr *tar.Header, content io.Reader) error {
	name, err := memClean(hdr.Name)
	if err != nil {
		return err
	}
	if name == "." {
		if hdr.Typeflag != tar.TypeDir {
			return errors.New("put of a non-directory root")
		}
		m.root.hdr = *hdr
		m.rootPuts++
		return nil
	}
	parent, err := m.lookupDir(path.Dir(name), true)
	if err != nil {
		return err
	}
	base := path.Base(name)
	old := parent.kids[base]
	switch hdr.Typeflag {
	case tar.TypeDir:
		if old != nil && old.isDir() {
			old.hdr = *hdr
			return nil
		}
		n := newMemDir()
		n.hdr = *hdr
		parent.kids[base] = n
	case tar.TypeLink:
		target, err := m.lookup(hdr.Linkname)
		if err != nil {
			return fmt.Errorf("hardlink target: %w", err)
		}
		if target.isDir() {
			return fmt.Errorf("hardlink target %q is a directory", hdr.Linkname)
		}
		parent.kids[base] = target
	case tar.TypeReg:
		data := make([]byte, hdr.Size)
		if _, err := io.ReadFull(content, data); err != nil {
			return fmt.Errorf("reading %q: %w", name, err)
		}
		parent.kids[base] = &memInode{hdr: *hdr, data: data}
	default:
		parent.kids[base] = &memInode{hdr: *hdr}
	}
	return nil
}

// lookup finds the object at name without following a final symlink.
func (m *memSink) lookup(name string) (*memInode, error) {
	c, err := memClean(name)
	if err != nil {
		return nil, err
	}
	if c == "." {
		return m.root, nil
	}
	parent, err := m.lookupDir(path.Dir(c), false)
	if err != nil {
		return nil, err
	}
	n := parent.kids[path.Base(c)]
	if n == nil {
		return nil, fmt.Errorf("%q: %w", name, fs.ErrNotExist)
	}
	return n, nil
}

func (m *memSink) Remove(name string) error {
	c, err := memClean(name)
	if err != nil {
		return err
	}
	if c == "." {
		m.root.kids = map[string]*memInode{}
		return nil
	}
	parent, err := m.lookupDir(path.Dir(c), false)
	if err != nil {
		return nil // a missing parent means a missing name
	}
	delete(parent.kids, path.Base(c))
	return nil
}

func (m *memSink) ReadDir(name string) ([]string, error) {
	c, err := memClean(name)
	if err != nil {
		return nil, err
	}
	d, err := m.lookupDir(c, false)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(d.kids))
	for k := range d.kids {
		names = append(names, k)
	}
	sort.Strings(names)
	return names, nil
}

// dump renders the tree as "path: description" lines, sorted, for
// comparisons in tests. Regular files show their content.
func (m *memSink) dump() []string {
	var out []string
	var walk func(dir string, n *memInode)
	walk = func(dir string, n *memInode) {
		for name, k := range n.kids {
			p := path.Join(dir, name)
			out = append(out, p+": "+describe(k))
			if k.isDir() {
				walk(p, k)
			}
		}
	}
	walk("", m.root)
	sort.Strings(out)
	return out
}

func describe(n *memInode) string {
	switch n.hdr.Typeflag {
	case tar.TypeDir:
		return fmt.Sprintf("dir %o", n.hdr.Mode)
	case tar.TypeReg:
		return fmt.Sprintf("file %o %q", n.hdr.Mode, n.data)
	case tar.TypeSymlink:
		return "symlink → " + n.hdr.Linkname
	default:
		return fmt.Sprintf("type %c", n.hdr.Typeflag)
	}
}
