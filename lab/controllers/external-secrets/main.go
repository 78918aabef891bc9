// Command external-secrets is upstream's controller main (main.go of the release), in a module
// of ours: the release's go.mod replaces Masterminds/sprig with external-secrets' fork, and
// `go install module@version` refuses modules with replace lines, so the replace lives here.
package main

import "github.com/external-secrets/external-secrets/cmd/controller"

func main() {
	controller.Execute()
}
