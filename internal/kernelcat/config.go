package kernelcat

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"
)

// Tristate is how a kernel config option is set.
type Tristate string

// Config option states.
const (
	StateBuiltIn Tristate = "built-in" // =y
	StateModule  Tristate = "module"   // =m
	StateMissing Tristate = "missing"  // unset, "is not set", or absent
)

// KernelConfig is a parsed kernel .config: symbol (without "CONFIG_") → value.
type KernelConfig map[string]string

// ParseConfig parses a kernel .config. Comments, including
// "# CONFIG_X is not set", are skipped; values keep their quotes.
func ParseConfig(data []byte) (KernelConfig, error) {
	cfg := make(KernelConfig)
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		key, val, ok := strings.Cut(text, "=")
		sym, isConfig := strings.CutPrefix(key, "CONFIG_")
		if !ok || !isConfig || sym == "" {
			return nil, fmt.Errorf("parsing kernel config: line %d: %q is not CONFIG_X=value", line, text)
		}
		cfg[sym] = val
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("parsing kernel config: %w", err)
	}
	return cfg, nil
}

// State reports how symbol (without "CONFIG_") is set.
func (c KernelConfig) State(symbol string) Tristate {
	switch c[symbol] {
	case "y":
		return StateBuiltIn
	case "m":
		return StateModule
	}
	return StateMissing
}
