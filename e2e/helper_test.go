package e2e

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strings"
	"time"
)

// runHelper runs the helper named h in this (re-executed) process and
// returns its exit status.
func runHelper(h string) int {
	switch h {
	case "dial":
		fmt.Println(dialReport(os.Getenv("BANGER_E2E_SOCKET")))
		return 0
	default:
		fmt.Fprintf(os.Stderr, "unknown helper %q\n", h)
		return 2
	}
}

// dialReport tries a ping on the daemon socket and says how far it got:
// "dial: <error>", "read: <error>" or "response: <status line>".
func dialReport(sock string) string {
	conn, err := net.DialTimeout("unix", sock, 5*time.Second)
	if err != nil {
		return "dial: " + err.Error()
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Write([]byte("GET /v1/ping HTTP/1.1\r\nHost: banger\r\nConnection: close\r\n\r\n")); err != nil {
		return "read: writing the request: " + err.Error()
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return "read: " + err.Error()
	}
	return "response: " + strings.TrimSpace(line)
}
