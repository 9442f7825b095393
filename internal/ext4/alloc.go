package ext4

import "sort"

// span is a run of physical blocks.
type span struct {
	start, len uint64
}

// allocator hands out physical blocks: freed runs first (lowest address
// first), then a bump pointer that never enters the superblock/GDT backup
// regions at the start of backup groups. Blocks past the bump pointer were
// never written, so they read as zero: inode tables and the journal are taken
// from there (fresh) so that ITABLE_ZEROED stays honest.
type allocator struct {
	reserve uint64 // blocks reserved at the start of each backup group (superblock + GDT)
	next    uint64 // bump pointer
	free    []span // sorted by start, coalesced
	stale   uint64 // blocks below this may hold freed but unpunched data
}

func newAllocator(reserve uint64) *allocator {
	return &allocator{reserve: reserve, next: reserve}
}

// reservedEnd returns the end of the backup region containing b, or b when b
// is outside every backup region.
func (a *allocator) reservedEnd(b uint64) uint64 {
	g := b / blocksPerGroup
	base := g * blocksPerGroup
	if hasBackup(g) && b < base+a.reserve {
		return base + a.reserve
	}
	return b
}

// nextReserved returns the start of the first backup region after b.
func (a *allocator) nextReserved(b uint64) uint64 {
	for g := b/blocksPerGroup + 1; ; g++ {
		if hasBackup(g) {
			return g * blocksPerGroup
		}
	}
}

// alloc returns a run of at most want blocks (at least one), reusing freed
// runs of at least min(want, 64) blocks before growing.
func (a *allocator) alloc(want uint64) span {
	need := min(want, 64)
	for i, f := range a.free {
		if f.len < need {
			continue
		}
		n := min(f.len, want)
		if n == f.len {
			a.free = append(a.free[:i], a.free[i+1:]...)
		} else {
			a.free[i] = span{f.start + n, f.len - n}
		}
		return span{f.start, n}
	}
	return a.bump(want, false)
}

// bump returns fresh blocks; with contiguous set it returns exactly want
// blocks in one run, skipping a backup region rather than straddling it.
func (a *allocator) bump(want uint64, contiguous bool) span {
	for {
		a.next = a.reservedEnd(a.next)
		room := a.nextReserved(a.next) - a.next
		if contiguous && room < want && want <= blocksPerGroup-a.reserve {
			a.next += room
			continue
		}
		n := min(want, room)
		s := span{a.next, n}
		a.next += n
		return s
	}
}

// bumpAll returns fresh runs covering exactly want blocks.
func (a *allocator) bumpAll(want uint64) []span {
	var out []span
	for want > 0 {
		s := a.bump(want, false)
		out = append(out, s)
		want -= s.len
	}
	return out
}

// release returns a run to the free list, retracting the bump pointer when
// the run ends at it.
func (a *allocator) release(s span) {
	if s.len == 0 {
		return
	}
	i := sort.Search(len(a.free), func(i int) bool { return a.free[i].start > s.start })
	a.free = append(a.free, span{})
	copy(a.free[i+1:], a.free[i:])
	a.free[i] = s
	if i+1 < len(a.free) && a.free[i].start+a.free[i].len == a.free[i+1].start {
		a.free[i].len += a.free[i+1].len
		a.free = append(a.free[:i+1], a.free[i+2:]...)
	}
	if i > 0 && a.free[i-1].start+a.free[i-1].len == a.free[i].start {
		a.free[i-1].len += a.free[i].len
		a.free = append(a.free[:i], a.free[i+1:]...)
	}
	if last := len(a.free) - 1; last >= 0 && a.free[last].start+a.free[last].len == a.next {
		a.next = a.free[last].start
		a.free = a.free[:last]
	}
}

// clone returns an independent copy, used for trial layouts at Close.
func (a *allocator) clone() *allocator {
	c := *a
	c.free = append([]span(nil), a.free...)
	return &c
}
