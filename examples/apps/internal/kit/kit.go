// Package kit is what the example apps share: logging, an HTTP server on $PORT with a health
// path, the add-on clients (PostgreSQL and Redis wire protocols) and a memory hog.
package kit

import (
	"fmt"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"
)

// Logf writes one line to stdout, where `kubectl logs` reads it.
func Logf(program, format string, args ...any) {
	fmt.Printf("%s %s: %s\n", time.Now().UTC().Format(time.RFC3339), program, fmt.Sprintf(format, args...))
}

// Fatalf logs and exits 1.
func Fatalf(program, format string, args ...any) {
	Logf(program, "error: "+format, args...)
	os.Exit(1)
}

// Env is the value of name, or fallback when unset or empty.
func Env(name, fallback string) string {
	if value := os.Getenv(name); value != "" {
		return value
	}
	return fallback
}

// ConfigLine is "K=V K2=V2" for the given names that are set, sorted.
func ConfigLine(names ...string) string {
	sort.Strings(names)
	var parts []string
	for _, name := range names {
		if value, ok := os.LookupEnv(name); ok {
			parts = append(parts, name+"="+value)
		}
	}
	return strings.Join(parts, " ")
}

// Hostname is the pod's name.
func Hostname() string {
	name, err := os.Hostname()
	if err != nil {
		return "unknown"
	}
	return name
}

// Identity is the process's uid and gid, as the kernel sees them.
func Identity() string {
	return fmt.Sprintf("uid=%d gid=%d", os.Getuid(), os.Getgid())
}

// Stopped is closed on SIGTERM or SIGINT (the kubelet's stop).
func Stopped() <-chan os.Signal {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGTERM, syscall.SIGINT)
	return ch
}
