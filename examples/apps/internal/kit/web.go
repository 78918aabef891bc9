package kit

import (
	"context"
	"net"
	"net/http"
	"os"
	"time"
)

// Serve answers on $PORT until SIGTERM. The health path answers 200 unless $HEALTH_FAIL is set
// (a release whose readiness fails: its pods never become Ready and the platform rolls it back).
func Serve(program, healthPath string, root http.HandlerFunc) {
	port := Env("PORT", "8080")
	mux := http.NewServeMux()
	mux.HandleFunc(healthPath, func(w http.ResponseWriter, r *http.Request) {
		if reason := os.Getenv("HEALTH_FAIL"); reason != "" {
			http.Error(w, "unhealthy: "+reason, http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		Logf(program, "%s %s from %s", r.Method, r.URL.Path, r.RemoteAddr)
		root(w, r)
	})
	listener, err := net.Listen("tcp", ":"+port)
	if err != nil {
		Fatalf(program, "listen on :%s: %v", port, err)
	}
	server := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	Logf(program, "listening on :%s (health %s) as %s", port, healthPath, Identity())
	go func() {
		<-Stopped()
		Logf(program, "stopping")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = server.Shutdown(ctx)
	}()
	if err := server.Serve(listener); err != nil && err != http.ErrServerClosed {
		Fatalf(program, "serve: %v", err)
	}
}
