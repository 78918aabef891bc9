// Command cert-manager runs cert-manager's own controllers out of cluster, for the Platykus lab.
//
// Upstream's controller main lives in a module the Go proxy does not serve (cmd/controller), so
// this small main starts the same controllers from cert-manager's public packages: Issuers,
// ClusterIssuers, the Certificate lifecycle, and the approver plus the SelfSigned and CA signers.
// ACME is left out (the lab has no ACME server) and so is the webhook (v1 CRDs need none).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"syscall"

	"k8s.io/klog/v2"

	"github.com/cert-manager/cert-manager/pkg/controller"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/approver"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/ca"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/selfsigned"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/issuing"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/keymanager"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/readiness"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/requestmanager"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/revisionmanager"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/trigger"
	_ "github.com/cert-manager/cert-manager/pkg/controller/clusterissuers"
	_ "github.com/cert-manager/cert-manager/pkg/controller/issuers"
	_ "github.com/cert-manager/cert-manager/pkg/issuer/ca"
	_ "github.com/cert-manager/cert-manager/pkg/issuer/selfsigned"
)

func main() {
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig of the identity the controllers run as")
	namespace := flag.String("cluster-resource-namespace", "cert-manager", "namespace of the Secrets ClusterIssuers use")
	health := flag.String("health-address", "127.0.0.1:0", "where /healthz answers once every controller is started")
	workers := flag.Int("workers", 5, "workers per controller")
	klog.InitFlags(nil)
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	opts := controller.ContextOptions{
		Kubeconfig:         *kubeconfig,
		KubernetesAPIQPS:   50,
		KubernetesAPIBurst: 100,
		IssuerOptions:      controller.IssuerOptions{ClusterResourceNamespace: *namespace},
	}
	if err := run(ctx, opts, *health, *workers); err != nil {
		klog.ErrorS(err, "cert-manager stopped")
		os.Exit(1)
	}
}

// run builds every registered controller, starts the shared informers they registered, serves
// /healthz and blocks until ctx ends or a controller fails.
func run(ctx context.Context, opts controller.ContextOptions, health string, workers int) error {
	factory, err := controller.NewContextFactory(ctx, opts)
	if err != nil {
		return err
	}
	loops, err := build(factory)
	if err != nil {
		return err
	}
	// Informers are created lazily as controllers register: start the factories after building all.
	shared, err := factory.Build("informers")
	if err != nil {
		return err
	}
	shared.KubeSharedInformerFactory.Start(ctx.Done())
	shared.SharedInformerFactory.Start(ctx.Done())

	errs := make(chan error, len(loops)+1)
	for name, loop := range loops {
		go func() { errs <- wrap(name, loop.Run(workers, ctx)) }()
	}
	go func() { errs <- serveHealth(ctx, health) }()
	select {
	case <-ctx.Done():
		return nil
	case err := <-errs:
		return err
	}
}

// build constructs each controller registered by the blank imports above, in name order.
func build(factory *controller.ContextFactory) (map[string]controller.Interface, error) {
	known := controller.Known()
	names := make([]string, 0, len(known))
	for name := range known {
		names = append(names, name)
	}
	sort.Strings(names)
	loops := make(map[string]controller.Interface, len(names))
	for _, name := range names {
		loop, err := known[name](factory)
		if err != nil {
			return nil, fmt.Errorf("building controller %s: %w", name, err)
		}
		loops[name] = loop
		klog.InfoS("controller built", "name", name)
	}
	return loops, nil
}

// serveHealth answers /healthz on addr and prints the bound address, so a lab can probe it.
func serveHealth(ctx context.Context, addr string) error {
	listener, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	klog.InfoS("serving health", "address", listener.Addr().String())
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	server := &http.Server{Handler: mux}
	go func() { <-ctx.Done(); _ = server.Close() }()
	if err := server.Serve(listener); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func wrap(name string, err error) error {
	if err == nil {
		return fmt.Errorf("controller %s returned", name)
	}
	return fmt.Errorf("controller %s: %w", name, err)
}
