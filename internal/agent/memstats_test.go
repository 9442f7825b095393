package agent

import "runtime"

// heapNow returns the live heap: the bytes still allocated after a GC.
func heapNow() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}
