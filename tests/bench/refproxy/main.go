// Command refproxy is the benchmarks' reference router: Go's standard reverse proxy in
// front of one address, nothing else (no route table, no headers added, no metrics). It
// runs beside Fabio in the same rounds, so a run shows what any Go proxy costs per request
// on the machine: Fabio's overhead above it is Fabio's own, the rest is the extra hop.
//
//	refproxy -listen 127.0.0.1:PORT -target 127.0.0.1:PORT
package main

import (
	"flag"
	"log"
	"net/http"
	"net/http/httputil"
	"net/url"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to serve on")
	target := flag.String("target", "", "host:port to forward every request to")
	flag.Parse()
	if *target == "" {
		log.Fatal("refproxy: -target is required")
	}
	proxy := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: *target})
	// Keep as many upstream connections idle as Fabio does (its proxy.maxconn).
	proxy.Transport = &http.Transport{MaxIdleConns: 10000, MaxIdleConnsPerHost: 10000}
	log.Fatal(http.ListenAndServe(*listen, proxy))
}
