package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/banger-dev/banger/internal/errdefs"
)

// writeJSON prints v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// checkFormat validates a --format value.
func checkFormat(format string, allowed ...string) error {
	if !slices.Contains(allowed, format) {
		return errdefs.Newf(errdefs.ErrInvalid, "unknown format %q (use %s)", format, strings.Join(allowed, " or "))
	}
	return nil
}

// humanSize renders a byte count with a binary unit ("64.0 MiB").
func humanSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// shortID is the first 12 characters of an id, as tables show it.
func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
