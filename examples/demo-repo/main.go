package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

const VERSION = "0.1.5"

func main() {
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		_, _ = fmt.Fprintf(w, "Version: %s\n", VERSION)
	})
	server := &http.Server{Addr: ":8088"}
	go func() {
		stop := make(chan os.Signal, 1)
		signal.Notify(stop, syscall.SIGTERM, os.Interrupt)
		<-stop
		// Kubernetes sends SIGTERM as it withdraws the Pod's endpoint; the
		// ingress controller learns of it a moment later. Keep answering
		// until it has, so no request fails during a rollout, then drain.
		time.Sleep(5 * time.Second)
		_ = server.Shutdown(context.Background())
	}()
	if err := server.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		println(err.Error())
		os.Exit(1)
	}
}
