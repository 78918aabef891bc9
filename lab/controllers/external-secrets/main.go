// Command external-secrets is upstream's controller main (main.go of the release), in a module
// of ours: the release's go.mod replaces Masterminds/sprig with external-secrets' fork, and
// `go install module@version` refuses modules with replace lines, so the replace lives here.
package main

import (
	"os"
	"strings"

	"github.com/external-secrets/external-secrets/cmd/controller"
)

// main runs upstream's command unchanged, except that it takes --kubeconfig=PATH (upstream reads
// only $KUBECONFIG): the lab names every controller's files on its command line.
func main() {
	args := os.Args[:1]
	for _, arg := range os.Args[1:] {
		if path, ok := strings.CutPrefix(arg, "--kubeconfig="); ok {
			_ = os.Setenv("KUBECONFIG", path)
			continue
		}
		args = append(args, arg)
	}
	os.Args = args
	controller.Execute()
}
