package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	rpprof "runtime/pprof"
	"time"
)

// profiling holds the -cpuprofile and -pprof flags: a CPU profile of the
// whole run written at shutdown, and net/http/pprof on a loopback-only
// listener. Both are off by default; bench/compare uses the first.
type profiling struct {
	cpuFile string
	addr    string
	// bound is the pprof listener's address once started.
	bound string
}

// register adds the profiling flags to fs.
func (p *profiling) register(fs *flag.FlagSet) {
	fs.StringVar(&p.cpuFile, "cpuprofile", "", "write a CPU profile of the run to this file (at shutdown)")
	fs.StringVar(&p.addr, "pprof", "", "serve net/http/pprof on this loopback address (127.0.0.1:PORT)")
}

// start begins what the flags ask for. The returned stop function ends
// the CPU profile and the pprof listener; it is never nil.
func (p *profiling) start(ctx context.Context, log *slog.Logger) (stop func(), err error) {
	var stops []func()
	stop = func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}
	if p.cpuFile != "" {
		f, err := os.Create(p.cpuFile)
		if err != nil {
			return stop, fmt.Errorf("-cpuprofile: %w", err)
		}
		if err := rpprof.StartCPUProfile(f); err != nil {
			f.Close()
			return stop, fmt.Errorf("-cpuprofile: %w", err)
		}
		stops = append(stops, func() {
			rpprof.StopCPUProfile()
			if err := f.Close(); err != nil {
				log.Warn("writing the CPU profile", "file", p.cpuFile, "err", err)
			}
		})
	}
	if p.addr != "" {
		bound, closeFn, err := servePprof(ctx, p.addr, log)
		if err != nil {
			stop()
			return func() {}, err
		}
		p.bound = bound
		stops = append(stops, closeFn)
	}
	return stop, nil
}

// servePprof serves the pprof handlers on addr, which must be a loopback
// address: the profiles expose memory contents and cost CPU, so they are
// never reachable from the network.
func servePprof(ctx context.Context, addr string, log *slog.Logger) (bound string, stop func(), err error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return "", nil, fmt.Errorf("-pprof: %w", err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return "", nil, fmt.Errorf("-pprof: %q is not a loopback address", addr)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("-pprof: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("pprof listener", "err", err)
		}
	}()
	log.Info("pprof listening", "addr", ln.Addr().String())
	return ln.Addr().String(), func() {
		_ = hs.Close()
		<-done
	}, nil
}
