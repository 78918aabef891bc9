// Command server is acme/shop's web process: it answers on $PORT with its config and pod, and
// serves its readiness at /healthz.
package main

import (
	"fmt"
	"net/http"

	"platykus.example/apps/internal/kit"
)

func main() {
	kit.Serve("shop-web", kit.Env("HEALTH_PATH", "/healthz"), func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "shop web on %s: %s\n", kit.Hostname(), kit.ConfigLine("LOG_LEVEL", "FEATURE_CHECKOUT"))
	})
}
