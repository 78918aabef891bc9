// Command worker is acme/shop's queue worker: it logs each job it takes from its queue. With
// --allocate-mib N it takes N MiB of memory instead (the OOM proof: past its size's limit the
// kernel ends it and the pod's status says OOMKilled).
package main

import (
	"flag"
	"time"

	"platykus.example/apps/internal/kit"
)

func main() {
	queue := flag.String("queue", "default", "the queue to work")
	allocate := flag.Int("allocate-mib", 0, "allocate this many MiB and hold them")
	flag.Parse()
	if *allocate > 0 {
		kit.Allocate("shop-worker", *allocate)
		return
	}
	kit.Logf("shop-worker", "working queue %s on %s as %s (LOG_LEVEL=%s)", *queue, kit.Hostname(), kit.Identity(), kit.Env("LOG_LEVEL", "info"))
	stop := kit.Stopped()
	tick := time.NewTicker(5 * time.Second)
	for job := 1; ; job++ {
		select {
		case <-stop:
			kit.Logf("shop-worker", "stopping after %d jobs", job-1)
			return
		case <-tick.C:
			kit.Logf("shop-worker", "queue %s: processed job %d", *queue, job)
		}
	}
}
