// Command parley-load is a load generator for XMPP servers and the engine
// of bench/compare. It drives any server over TCP, WebSocket and BOSH
// with cheap raw-byte clients and reports latency percentiles and the
// server's CPU and memory (read from /proc) in the style of `nats bench`,
// plus JSON.
//
// Usage:
//
//	parley-load run [flags]       run scenarios against one running server
//	parley-load compare [flags]   start Prosody and parley, run every case on each, print a table
//	parley-load table FILE.json   print the reports and table of a saved comparison
//	parley-load list              list scenarios
//
// Run `parley-load <command> -h` for the flags.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `parley-load: XMPP load generator (TCP, WebSocket, BOSH)

Usage:
  parley-load run [flags]       run scenarios against one running server
  parley-load compare [flags]   start Prosody and parley, run every case on each, print a table
  parley-load table FILE.json   print the reports and table of a saved comparison
  parley-load list              list scenarios

Run "parley-load <command> -h" for the flags of a command.
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "run":
		err = cmdRun(ctx, args[1:], stdout, stderr)
	case "compare":
		err = cmdCompare(ctx, args[1:], stdout, stderr)
	case "table":
		err = cmdTable(args[1:], stdout)
	case "list":
		cmdList(stdout)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprint(stderr, usage)
		return 2
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "parley-load:", err)
		return 1
	}
	return 0
}

func newLogger(w io.Writer, verbose bool) *slog.Logger {
	level := slog.LevelWarn
	if verbose {
		level = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding JSON: %w", err)
	}
	if path == "-" {
		_, err = os.Stdout.Write(append(data, '\n'))
		return err
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
