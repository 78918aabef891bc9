// Command portal is globex/portal: with no argument its web process, which answers on $PORT with
// what it reads from its add-ons (the last release migration in PostgreSQL, a visit counter in
// Redis) and serves its readiness at /ready; `portal migrate` is its release command, which
// records the release in PostgreSQL before the rollout.
package main

import (
	"fmt"
	"net/http"
	"os"
	"strings"

	"platykus.example/apps/internal/kit"
)

const schema = `CREATE TABLE IF NOT EXISTS portal_migrations (
	id serial PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now(), pod text NOT NULL)`

func main() {
	if len(os.Args) > 1 && os.Args[1] == "migrate" {
		migrate()
		return
	}
	kit.Serve("portal-web", kit.Env("HEALTH_PATH", "/ready"), func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "portal web on %s: %s; %s; %s\n", kit.Hostname(), kit.ConfigLine("REGION"), lastMigration(), visits())
	})
}

func quote(text string) string { return "'" + strings.ReplaceAll(text, "'", "''") + "'" }

func migrate() {
	pg, err := kit.DialPostgres(os.Getenv("DATABASE_URL"))
	if err != nil {
		kit.Fatalf("portal-migrate", "connect to %s: %v", kit.Where(os.Getenv("DATABASE_URL")), err)
	}
	defer pg.Close()
	if _, err := pg.Query(schema); err != nil {
		kit.Fatalf("portal-migrate", "create portal_migrations: %v", err)
	}
	rows, err := pg.Query("INSERT INTO portal_migrations (pod) VALUES (" + quote(kit.Hostname()) + ") RETURNING id, applied_at")
	if err != nil {
		kit.Fatalf("portal-migrate", "record the migration: %v", err)
	}
	kit.Logf("portal-migrate", "migration %s recorded at %s in %s", rows[0][0], rows[0][1], kit.Where(os.Getenv("DATABASE_URL")))
}

func lastMigration() string {
	pg, err := kit.DialPostgres(os.Getenv("DATABASE_URL"))
	if err != nil {
		return "postgresql: " + err.Error()
	}
	defer pg.Close()
	rows, err := pg.Query("SELECT id, applied_at FROM portal_migrations ORDER BY id DESC LIMIT 1")
	if err != nil || len(rows) == 0 {
		return fmt.Sprintf("postgresql: no migration (%v)", err)
	}
	return fmt.Sprintf("postgresql: migration %s at %s", rows[0][0], rows[0][1])
}

func visits() string {
	r, err := kit.DialRedis(os.Getenv("REDIS_URL"))
	if err != nil {
		return "redis: " + err.Error()
	}
	defer r.Close()
	count, err := r.Do("INCR", r.Prefix+"visits")
	if err != nil {
		return "redis: " + err.Error()
	}
	return "redis: visit " + count
}
