package vmmtest

import (
	"bytes"
	"context"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/banger-dev/banger/internal/guestinit/vmconfig"
	"github.com/banger-dev/banger/internal/vmm"
)

// Timing boots `echo hello` n times with b and logs the median time from
// Start to: banger-init running (its first console line), the agent's hello,
// the first output byte on the host, and the machine gone.
func Timing(t *testing.T, b vmm.Backend, n int) {
	p := setup(t, b)
	names := []string{"init", "hello", "output", "gone"}
	samples := make([][]time.Duration, len(names))
	for i := 0; i < n; i++ {
		s := timeBoot(t, p)
		t.Logf("boot %d: init %v hello %v output %v gone %v", i+1, s[0], s[1], s[2], s[3])
		for j := range s {
			samples[j] = append(samples[j], s[j])
		}
	}
	for j, name := range names {
		slices.Sort(samples[j])
		t.Logf("median %-6s %v (min %v, max %v)", name, samples[j][n/2], samples[j][0], samples[j][n-1])
	}
}

func timeBoot(t *testing.T, p parts) [4]time.Duration {
	v := boot(t, p, vmconfig.Config{Process: vmconfig.Process{Args: []string{"echo", "hello"}}})
	initAt := make(chan time.Duration, 1)
	go func() {
		for i := 0; i < 12000; i++ {
			if b, _ := os.ReadFile(v.m.ConsoleLog()); bytes.Contains(b, []byte("init done")) {
				initAt <- time.Since(v.started)
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
		initAt <- 0
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	h, err := v.client.WaitHello(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("guest init_ms %s modules_ms %s root_ms %s", h.Info["init_ms"], h.Info["modules_ms"], h.Info["root_ms"])
	hello := time.Since(v.started)
	var out buffer
	if _, err := v.client.AttachMain(ctx, &out, nil); err != nil {
		t.Fatal(err)
	}
	if err := v.m.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	gone := time.Since(v.started)
	r := time.Millisecond
	return [4]time.Duration{(<-initAt).Round(r), hello.Round(r), out.firstAt().Sub(v.started).Round(r), gone.Round(r)}
}
