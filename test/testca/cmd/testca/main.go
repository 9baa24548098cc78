// Command testca writes a test CA and a server key pair for loopback names into a directory,
// for the JavaScript tests, and prints their paths and the pair's SPKI hash as JSON:
//
//	go run ./test/testca/cmd/testca -dir DIR [-name server]
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"github.com/ivschatd/ivschatd/test/testca"
)

func main() {
	dir := flag.String("dir", "", "directory to write ca.pem, NAME.pem and NAME-key.pem into")
	name := flag.String("name", "server", "file name of the key pair")
	flag.Parse()
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "testca: -dir is required")
		os.Exit(2)
	}
	ca, err := testca.New(*dir)
	if err == nil {
		var p *testca.Pair
		if p, err = ca.Issue(*dir, *name); err == nil {
			err = json.NewEncoder(os.Stdout).Encode(map[string]string{"ca": ca.File, "cert": p.CertFile, "key": p.KeyFile, "spki": p.SPKI})
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "testca:", err)
		os.Exit(1)
	}
}
