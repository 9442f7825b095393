package agent

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
)

// decodePayload decodes f's payload as its type says.
func decodePayload(f Frame) error {
	var err error
	switch f.Type {
	case FrameHello:
		_, err = decodeHello(f.Payload)
	case FrameExec:
		_, err = decodeExecRequest(f.Payload)
	case FrameExit:
		_, err = decodeExitStatus(f.Payload)
	case FrameWindow:
		_, _, err = decodeWindow(f.Payload)
	case FrameSignal:
		_, _, err = decodeSignal(f.Payload)
	case FrameResize:
		_, _, err = decodeU16Pair(f.Payload, "resize")
	case FrameStarted:
		_, err = decodeU32(f.Payload, "started")
	case FrameStartError, FrameError:
		_, err = decodeString(f.Payload, "message")
	}
	return err
}

// streamConn feeds fixed bytes to a peer and swallows what it writes.
type streamConn struct{ io.Reader }

func (streamConn) Write(p []byte) (int, error) { return len(p), nil }
func (streamConn) Close() error                { return nil }

// noSpawner refuses every process, so fuzzed Exec frames run nothing.
type noSpawner struct{}

func (noSpawner) Spawn(*Process, func(ExitStatus)) (int, error) {
	return 0, errors.New("spawning disabled")
}

func FuzzFrameDecoder(f *testing.F) {
	seeds := [][]byte{
		frameBytes(FrameHello, 0, Hello{Version: 1, Kernel: "6.1", Info: map[string]string{"a": "b"}}.encode()),
		frameBytes(FrameHostHello, 0, []byte{0, 1}),
		frameBytes(FrameExec, 1, ExecRequest{Argv: []string{"sh", "-c", "x"}, Env: []string{"A=b"}, TTY: true, Rows: 2, Cols: 3}.encode()),
		frameBytes(FrameStdout, 1, []byte("hello")),
		frameBytes(FrameExit, 0, ExitStatus{Code: 7}.encode()),
		frameBytes(FrameWindow, 2, encodeWindow(streamStderr, 4096)),
		frameBytes(FrameSignal, 2, encodeSignal(15, true)),
		frameBytes(FrameResize, 2, encodeU16Pair(24, 80)),
		{0, 0, 0, 1, 0x42},
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		dec := NewDecoder(bytes.NewReader(data))
		for range 1000 {
			fr, err := dec.Next()
			if err != nil {
				break
			}
			if len(fr.Payload) > MaxPayload || !fr.Type.Known() {
				t.Fatalf("decoder let through %v with %d bytes", fr.Type, len(fr.Payload))
			}
			if decodePayload(fr) == nil { // what decodes re-encodes to the same frame
				var b bytes.Buffer
				if err := NewEncoder(&b).Encode(fr); err != nil {
					t.Fatalf("re-encoding %v: %v", fr.Type, err)
				}
				again, err := NewDecoder(&b).Next()
				if err != nil || again.Type != fr.Type || again.Session != fr.Session || !bytes.Equal(again.Payload, fr.Payload) {
					t.Fatalf("round trip of %v changed the frame", fr.Type)
				}
			}
		}
		// Both peers survive the same bytes.
		c := NewClient(streamConn{bytes.NewReader(data)})
		<-c.Done()
		greeted := append(frameBytes(FrameHostHello, 0, []byte{0, Version}), data...)
		NewServer(ServerConfig{Spawner: noSpawner{}}).Serve(context.Background(), streamConn{bytes.NewReader(greeted)})
	})
}
