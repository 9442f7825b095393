package agent

import (
	"fmt"
	"io"
	"testing"
)

// BenchmarkExecTrue measures one round trip: start `true`, get its exit.
func BenchmarkExecTrue(b *testing.B) {
	for _, tr := range transports {
		b.Run(tr.name, func(b *testing.B) {
			r := newRig(b, tr.pair, ServerConfig{})
			ctx := testCtx(b)
			for b.Loop() {
				if _, err := r.client.Exec(ctx, ExecRequest{Argv: []string{"/bin/true"}}, nil, nil, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkThroughput streams a process's output to the host.
func BenchmarkThroughput(b *testing.B) {
	const size = 64 << 20
	for _, tr := range transports {
		b.Run(tr.name, func(b *testing.B) {
			r := newRig(b, tr.pair, ServerConfig{})
			ctx := testCtx(b)
			b.SetBytes(size)
			for b.Loop() {
				n := &countWriter{w: io.Discard}
				_, err := r.client.Exec(ctx, ExecRequest{Argv: []string{"head", "-c", fmt.Sprint(size), "/dev/zero"}}, nil, n, nil)
				if err != nil || n.n != size {
					b.Fatalf("got %d bytes, %v", n.n, err)
				}
			}
		})
	}
}
