// Command labecho is the lab's own test program for real nodes: `labecho serve ADDR` answers
// every request with the pod's hostname and logs it; `labecho get URL` prints what a URL answers.
package main

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"time"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: labecho serve ADDR | labecho get URL")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "serve":
		host, _ := os.Hostname()
		http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
			log.Printf("request %s %s from %s", r.Method, r.URL.Path, r.RemoteAddr)
			fmt.Fprintf(w, "labecho on %s\n", host)
		})
		log.Printf("labecho serving on %s", os.Args[2])
		log.Fatal(http.ListenAndServe(os.Args[2], nil))
	case "get":
		client := http.Client{Timeout: 5 * time.Second}
		resp, err := client.Get(os.Args[2])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		fmt.Print(string(body))
		if resp.StatusCode != http.StatusOK {
			os.Exit(1)
		}
	default:
		fmt.Fprintln(os.Stderr, "usage: labecho serve ADDR | labecho get URL")
		os.Exit(2)
	}
}
