// Command migrate is acme/shop's release command, run once per release before the rollout: it
// logs the schema migrations it applies and exits 0 (non-zero when $MIGRATE_FAIL is set).
package main

import (
	"os"

	"platykus.example/apps/internal/kit"
)

var migrations = []string{"001_create_carts", "002_create_orders", "003_index_orders_by_customer"}

func main() {
	kit.Logf("shop-migrate", "release migration on %s as %s", kit.Hostname(), kit.Identity())
	for _, name := range migrations {
		kit.Logf("shop-migrate", "applied %s", name)
	}
	if reason := os.Getenv("MIGRATE_FAIL"); reason != "" {
		kit.Fatalf("shop-migrate", "migration refused: %s", reason)
	}
	kit.Logf("shop-migrate", "schema at version %d", len(migrations))
}
