package agent

// chunk is a piece of main-process output kept until it can be delivered.
type chunk struct {
	stream  uint8
	b       []byte
	granted bool // window already handed back for it (host side)
}

// ring keeps recent output in arrival order. It is not safe for concurrent
// use; its owner locks.
type ring struct {
	chunks  []chunk
	size    int
	dropped int64
}

// put appends c.
func (r *ring) put(c chunk) {
	r.chunks = append(r.chunks, c)
	r.size += len(c.b)
}

// trim drops the oldest bytes until at most limit remain.
func (r *ring) trim(limit int) {
	for r.size > limit && len(r.chunks) > 0 {
		c := &r.chunks[0]
		cut := min(len(c.b), r.size-limit)
		c.b = c.b[cut:]
		r.size -= cut
		r.dropped += int64(cut)
		if len(c.b) == 0 {
			r.chunks[0] = chunk{}
			r.chunks = r.chunks[1:]
		}
	}
}

// pop removes the oldest chunk.
func (r *ring) pop() (chunk, bool) {
	if len(r.chunks) == 0 {
		return chunk{}, false
	}
	c := r.chunks[0]
	r.chunks[0] = chunk{}
	r.chunks = r.chunks[1:]
	r.size -= len(c.b)
	return c, true
}

// unpop puts c back in front, as the oldest chunk.
func (r *ring) unpop(c chunk) {
	r.chunks = append([]chunk{c}, r.chunks...)
	r.size += len(c.b)
}
