package flatten

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
)

const (
	whiteoutPrefix = ".wh."
	whiteoutMeta   = ".wh..wh."
	opaqueMarker   = ".wh..wh..opq"
	progressEvery  = 256
)

// layerState tracks what the layer being applied wrote, so its whiteouts
// only hide what lower layers left.
type layerState struct {
	written   map[string]bool     // paths this layer put; true for directories
	ancestors map[string]struct{} // proper ancestors of written paths
	pending   map[string]bool     // whiteout targets; true once applied
	order     []string            // whiteout targets in tar order
	opaques   []string            // directories marked opaque
	opaqueSet map[string]struct{}
}

func newLayerState() *layerState {
	return &layerState{
		written:   map[string]bool{},
		ancestors: map[string]struct{}{},
		pending:   map[string]bool{},
		opaqueSet: map[string]struct{}{},
	}
}

// applyLayer reads one uncompressed layer tar to its end and applies it.
func (a *applier) applyLayer(ctx context.Context, index int, r io.Reader) error {
	cr := &countingReader{r: r, n: &a.stats.Bytes, limit: a.opts.MaxBytes}
	err := a.applyEntries(ctx, index, cr)
	if err == nil {
		if _, err = io.Copy(io.Discard, cr); err != nil {
			err = fmt.Errorf("reading to the end of the layer: %w", err)
		}
	}
	if err != nil && a.opts.MaxBytes > 0 && a.stats.Bytes > a.opts.MaxBytes && !errors.Is(err, ErrTooLarge) {
		return tooLarge(a.opts.MaxBytes)
	}
	a.report(index)
	return err
}

func (a *applier) applyEntries(ctx context.Context, index int, r io.Reader) error {
	tr := tar.NewReader(r)
	st := newLayerState()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := readHeader(tr)
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("reading tar entry: %w", err)
		}
		a.stats.Entries++
		if err := a.entry(st, hdr, tr); err != nil {
			return err
		}
		if a.stats.Entries%progressEvery == 0 {
			a.report(index)
		}
	}
	return st.finish(a.sink)
}

// entry applies one tar entry.
func (a *applier) entry(st *layerState, hdr *tar.Header, content io.Reader) error {
	name, err := cleanName(hdr.Name)
	if err != nil {
		return fmt.Errorf("entry %q: %w", hdr.Name, err)
	}
	typ, err := entryType(hdr)
	if err != nil {
		return err
	}
	if name == "." {
		if typ != tar.TypeDir {
			return fmt.Errorf("entry %q: the image root must be a directory", hdr.Name)
		}
		if !a.opts.Verbatim {
			return nil
		}
	}
	dir, base := path.Split(name)
	if !a.opts.Verbatim && strings.HasPrefix(base, whiteoutPrefix) {
		return st.whiteout(hdr.Name, path.Clean(dir), base)
	}
	h := *hdr
	h.Name, h.Typeflag = name, typ
	if typ == tar.TypeLink {
		if h.Linkname, err = cleanName(hdr.Linkname); err != nil {
			return fmt.Errorf("hardlink %q → %q: %w", hdr.Name, hdr.Linkname, err)
		}
		if h.Linkname == "." {
			return fmt.Errorf("hardlink %q → %q: a hardlink cannot point at the root", hdr.Name, hdr.Linkname)
		}
	}
	if err := st.applyPendingAbove(a.sink, name); err != nil {
		return err
	}
	if err := a.sink.Put(&h, content); err != nil {
		if typ == tar.TypeLink {
			return fmt.Errorf("hardlink %q → %q (the target must be an earlier entry or a file of a lower layer): %w", name, h.Linkname, err)
		}
		return fmt.Errorf("entry %q: %w", name, err)
	}
	st.markWritten(name, typ == tar.TypeDir)
	return nil
}

// entryType normalises the tar type; types that cannot be part of a root
// filesystem are errors.
func entryType(hdr *tar.Header) (byte, error) {
	switch hdr.Typeflag {
	case tar.TypeReg, '\x00', tar.TypeCont, tar.TypeGNUSparse:
		return tar.TypeReg, nil
	case tar.TypeDir, tar.TypeSymlink, tar.TypeLink, tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		return hdr.Typeflag, nil
	default:
		return 0, fmt.Errorf("entry %q: %w: tar type %q", hdr.Name, ErrUnsupportedEntry, hdr.Typeflag)
	}
}

// cleanName makes a tar name relative to the image root: leading "/" and
// "./" go, and a name whose ".." climbs above the root is refused.
func cleanName(n string) (string, error) {
	if strings.IndexByte(n, 0) >= 0 {
		return "", fmt.Errorf("%w: the name contains a NUL byte", ErrUnsafePath)
	}
	c := path.Clean(strings.TrimLeft(n, "/"))
	if c == ".." || strings.HasPrefix(c, "../") {
		return "", fmt.Errorf("%w: it climbs above the image root", ErrUnsafePath)
	}
	return c, nil
}

// whiteout records a whiteout or opaque marker found in directory dir.
func (st *layerState) whiteout(raw, dir, base string) error {
	switch {
	case base == opaqueMarker:
		if _, seen := st.opaqueSet[dir]; !seen {
			st.opaqueSet[dir] = struct{}{}
			st.opaques = append(st.opaques, dir)
		}
		return nil
	case strings.HasPrefix(base, whiteoutMeta):
		return nil // other AUFS metadata: ignored, never written
	}
	target := strings.TrimPrefix(base, whiteoutPrefix)
	if target == "" || target == "." || target == ".." {
		return fmt.Errorf("whiteout %q: %w: it names no entry of its directory", raw, ErrUnsafePath)
	}
	full := path.Join(dir, target)
	if _, seen := st.pending[full]; !seen {
		st.pending[full] = false
		st.order = append(st.order, full)
	}
	return nil
}

// applyPendingAbove applies, before name is written, a whiteout or opaque
// marker already seen that hides name or one of its ancestors, where this
// layer has written nothing yet: the lower object goes first, so the new
// entry does not land inside it.
func (st *layerState) applyPendingAbove(sink Sink, name string) error {
	if len(st.pending) == 0 && len(st.opaqueSet) == 0 {
		return nil
	}
	for p := name; p != "."; p = path.Dir(p) {
		if st.touched(p) {
			break // everything above p is touched too
		}
		done, whited := st.pending[p]
		_, opaque := st.opaqueSet[path.Dir(p)]
		if (!whited || done) && !opaque {
			continue
		}
		if err := sink.Remove(p); err != nil {
			return fmt.Errorf("removing hidden %q: %w", p, err)
		}
		if whited {
			st.pending[p] = true
		}
	}
	return nil
}

// touched reports whether this layer wrote p or something under it.
func (st *layerState) touched(p string) bool {
	_, w := st.written[p]
	_, anc := st.ancestors[p]
	return w || anc
}

func (st *layerState) markWritten(name string, isDir bool) {
	st.written[name] = isDir
	for p := path.Dir(name); p != "."; p = path.Dir(p) {
		if _, ok := st.ancestors[p]; ok {
			break
		}
		st.ancestors[p] = struct{}{}
	}
}

// finish applies the layer's whiteouts and opaque markers once every entry
// is in, so they hide exactly what the lower layers left.
func (st *layerState) finish(sink Sink) error {
	for _, p := range st.order {
		if st.pending[p] {
			continue
		}
		if err := st.removeLower(sink, p); err != nil {
			return fmt.Errorf("applying whiteout of %q: %w", p, err)
		}
	}
	for _, d := range st.opaques {
		if err := st.clearLowerChildren(sink, d); err != nil {
			return fmt.Errorf("applying opaque marker of %q: %w", d, err)
		}
	}
	return nil
}

// removeLower removes p and its subtree except what this layer wrote.
func (st *layerState) removeLower(sink Sink, p string) error {
	isDir, written := st.written[p]
	if !st.touched(p) {
		return sink.Remove(p)
	}
	if written && !isDir {
		return nil
	}
	return st.clearLowerChildren(sink, p)
}

// clearLowerChildren removes the children of directory d that this layer
// did not write, recursing into those it wrote under.
func (st *layerState) clearLowerChildren(sink Sink, d string) error {
	children, err := sink.ReadDir(d)
	if err != nil {
		if d != "." && !st.touched(d) && !exists(sink, d) {
			return nil // the directory is not there: nothing to hide
		}
		return fmt.Errorf("listing %q: %w", d, err)
	}
	for _, c := range children {
		if err := st.removeLower(sink, path.Join(d, c)); err != nil {
			return err
		}
	}
	return nil
}

func exists(sink Sink, p string) bool {
	names, err := sink.ReadDir(path.Dir(p))
	if err != nil {
		return false
	}
	for _, n := range names {
		if n == path.Base(p) {
			return true
		}
	}
	return false
}
