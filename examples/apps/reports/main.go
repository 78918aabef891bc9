// Command reports is initech/reports: --serve-queue works the report queue (a worker), --hourly
// writes the hourly report and exits (a cron process).
package main

import (
	"flag"
	"os"
	"path/filepath"
	"time"

	"platykus.example/apps/internal/kit"
)

func main() {
	serve := flag.Bool("serve-queue", false, "work the report queue")
	hourly := flag.Bool("hourly", false, "write the hourly report and exit")
	flag.Parse()
	format := kit.Env("REPORT_FORMAT", "pdf")
	switch {
	case *hourly:
		out := filepath.Join(os.TempDir(), "hourly."+format)
		if err := os.WriteFile(out, []byte("hourly report "+time.Now().UTC().Format(time.RFC3339)+"\n"), 0o600); err != nil {
			kit.Fatalf("reports-hourly", "write %s: %v", out, err)
		}
		kit.Logf("reports-hourly", "wrote the hourly report as %s to %s on %s", format, out, kit.Hostname())
	case *serve:
		kit.Logf("reports-worker", "serving the report queue on %s as %s", kit.Hostname(), kit.Identity())
		stop := kit.Stopped()
		tick := time.NewTicker(5 * time.Second)
		for n := 1; ; n++ {
			select {
			case <-stop:
				kit.Logf("reports-worker", "stopping")
				return
			case <-tick.C:
				kit.Logf("reports-worker", "rendered queued report %d as %s", n, format)
			}
		}
	default:
		kit.Fatalf("reports", "give --serve-queue or --hourly")
	}
}
