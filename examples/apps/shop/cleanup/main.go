// Command cleanup is acme/shop's cron process: it logs what it cleaned and exits.
package main

import (
	"time"

	"platykus.example/apps/internal/kit"
)

func main() {
	cutoff := time.Now().UTC().Add(-24 * time.Hour).Format(time.RFC3339)
	kit.Logf("shop-cleanup", "removed carts idle since before %s on %s as %s", cutoff, kit.Hostname(), kit.Identity())
}
