// Command check is the example images' tool for `kubectl exec` (like `heroku run`): who the
// process runs as, an HTTP GET, a TCP dial, and a round trip on each add-on from its URL.
//
//	check whoami | check http URL | check tcp HOST:PORT | check addons
package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"platykus.example/apps/internal/kit"
)

func main() {
	if len(os.Args) < 2 {
		fail("usage: check whoami | http URL | tcp HOST:PORT | addons")
	}
	switch os.Args[1] {
	case "whoami":
		fmt.Printf("%s host=%s\n", kit.Identity(), kit.Hostname())
	case "http":
		need(3)
		client := http.Client{Timeout: 5 * time.Second}
		resp, err := client.Get(os.Args[2])
		if err != nil {
			fail("GET %s: %v", os.Args[2], err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		fmt.Printf("%d %s", resp.StatusCode, body)
		if resp.StatusCode >= 400 {
			os.Exit(1)
		}
	case "tcp":
		need(3)
		conn, err := net.DialTimeout("tcp", os.Args[2], 3*time.Second)
		if err != nil {
			fail("dial %s: %v", os.Args[2], err)
		}
		conn.Close()
		fmt.Printf("connected to %s\n", os.Args[2])
	case "addons":
		urls := kit.AddonURLs()
		if len(urls) == 0 {
			fail("no add-on URL in the environment")
		}
		for _, name := range kit.SortedKeys(urls) {
			answer, err := kit.CheckAddon(urls[name])
			if err != nil {
				fail("%s (%s): %v", name, kit.Where(urls[name]), err)
			}
			fmt.Printf("OK %s %s\n", name, answer)
		}
	default:
		fail("unknown check %q; use whoami, http, tcp or addons", os.Args[1])
	}
}

func need(n int) {
	if len(os.Args) < n {
		fail("check %s needs an argument", os.Args[1])
	}
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "check: "+format+"\n", args...)
	os.Exit(1)
}
