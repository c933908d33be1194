// Command parleyd is a profiling build of parley: the same server and
// module list as cmd/parley, plus CPU, heap and live pprof profiling
// flags that the product binary does not have. bench/compare runs it as
// the "parley+pprof" target (PROFILE=1) and keeps one CPU profile per
// case. It is not a product binary.
//
// Usage:
//
//	parleyd -c FILE [-cpuprofile FILE] [-memprofile FILE] [-pprof ADDR] [-log LEVEL]
//
// Accounts are created with cmd/parley (parley -c FILE register ...): the
// data directory is the same.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"runtime"
	rpprof "runtime/pprof"
	"syscall"
	"time"

	"github.com/parley-xmpp/parley/cmd/parley/builtin"
	"github.com/parley-xmpp/parley/config"
	"github.com/parley-xmpp/parley/server"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "parleyd:", err)
		os.Exit(1)
	}
}

type flags struct {
	config     string
	cpuProfile string
	memProfile string
	pprofAddr  string
	level      string
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("parleyd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f flags
	fs.StringVar(&f.config, "c", "", "config file (required)")
	fs.StringVar(&f.cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run to this file")
	fs.StringVar(&f.memProfile, "memprofile", "", "write a heap profile at shutdown to this file")
	fs.StringVar(&f.pprofAddr, "pprof", "", "serve net/http/pprof on this loopback address")
	fs.StringVar(&f.level, "log", "warn", "log level: debug, info, warn, error")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if f.config == "" {
		return errors.New("-c is required")
	}
	cfg, err := config.Load(f.config, config.WithEnv(os.LookupEnv))
	if err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.level)); err != nil {
		return fmt.Errorf("-log: %w", err)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	opts := append(builtin.Options(log), server.WithLogger(log), server.WithVersion("parleyd"))
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	return serve(ctx, cfg, opts, f, stdout, log)
}

func serve(ctx context.Context, cfg *config.Config, opts []server.Option, f flags, stdout io.Writer, log *slog.Logger) error {
	if f.cpuProfile != "" {
		out, err := os.Create(f.cpuProfile)
		if err != nil {
			return fmt.Errorf("cpuprofile: %w", err)
		}
		defer out.Close()
		if err := rpprof.StartCPUProfile(out); err != nil {
			return fmt.Errorf("cpuprofile: %w", err)
		}
		defer rpprof.StopCPUProfile()
	}
	if f.pprofAddr != "" {
		if err := servePprof(ctx, f.pprofAddr, log); err != nil {
			return err
		}
	}
	srv, err := server.New(cfg, opts...)
	if err != nil {
		return err
	}
	if err := srv.Start(ctx); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "parleyd serving")
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = srv.Shutdown(sctx)
	if f.memProfile != "" {
		runtime.GC()
		out, perr := os.Create(f.memProfile)
		if perr == nil {
			perr = rpprof.WriteHeapProfile(out)
			out.Close()
		}
		if perr != nil {
			log.Warn("memprofile", "err", perr)
		}
	}
	return err
}

// servePprof serves the pprof handlers on a loopback address only.
func servePprof(ctx context.Context, addr string, log *slog.Logger) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("-pprof: %w", err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("-pprof: %q is not a loopback address", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("-pprof: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("pprof server", "err", err)
		}
	}()
	go func() {
		<-ctx.Done()
		_ = hs.Close()
	}()
	return nil
}
