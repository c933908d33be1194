package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/cmd/parley-load/internal/compare"
	"github.com/parley-xmpp/parley/cmd/parley-load/internal/loadtest"
	"github.com/parley-xmpp/parley/cmd/parley-load/internal/scenario"
)

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code := run(ctx, args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestCommands(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		code     int
		inOut    string
		inStderr string
	}{
		{"no arguments", nil, 2, "", "Usage:"},
		{"unknown command", []string{"fly"}, 2, "", "Usage:"},
		{"help", []string{"help"}, 0, "parley-load compare", ""},
		{"list", []string{"list"}, 0, "bigroom-tcp", ""},
		{"run help", []string{"run", "-h"}, 0, "", "-scenario"},
		{"unknown scenario", []string{"run", "-pid", "none", "-scenario", "nope"}, 1, "", "unknown scenario"},
		{"bad sm", []string{"run", "-sm", "maybe"}, 1, "", "-sm"},
		{"bad pid", []string{"run", "-pid", "x"}, 1, "", "-pid"},
		{"table usage", []string{"table"}, 1, "", "usage"},
		{"compare without servers", []string{"compare", "-prosody", "", "-template", "../../bench/server.cfg.lua"}, 1, "", "no server"},
		{"compare unknown case", []string{"compare", "-parley", "/bin/true", "-cases", "nope", "-template", "../../bench/server.cfg.lua", "-workdir", "/nonexistent-parley-load"}, 1, "", "unknown case"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d (stderr %s)", code, tc.code, errOut)
			}
			if !strings.Contains(out, tc.inOut) {
				t.Errorf("stdout lacks %q:\n%s", tc.inOut, out)
			}
			if !strings.Contains(errOut, tc.inStderr) {
				t.Errorf("stderr lacks %q:\n%s", tc.inStderr, errOut)
			}
		})
	}
}

func TestRunAgainstServer(t *testing.T) {
	srv := loadtest.Start(t)
	tg := srv.Target
	jsonPath := filepath.Join(t.TempDir(), "out.json")
	code, out, errOut := runCLI(t, "run", "-scenario", "login,rooms", "-c2s", tg.C2S, "-ws", tg.WebSocket, "-bosh", tg.BOSH,
		"-users", strconv.Itoa(tg.Users), "-pid", strconv.Itoa(os.Getpid()), "-sessions", "8", "-rooms", "1", "-occupants", "4",
		"-join-rate", "400", "-msg-rate", "400", "-messages", "1", "-json", jsonPath)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"login on server", "rooms on server", "join fan-out", "server        pid"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	data, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var results []scenario.Result
	if err := json.Unmarshal(data, &results); err != nil {
		t.Fatal(err)
	}
	if len(results) != 2 || results[0].Sessions != 8 || results[1].Join == nil || results[1].Join.Count != 4 {
		t.Errorf("JSON results %+v", results)
	}
}

func TestTableCommand(t *testing.T) {
	rep := compare.Report{
		Machine: compare.Machine{CPU: "test cpu", CPUs: 2},
		Servers: []compare.ServerInfo{{Name: "prosody", Version: "Prosody 0.12.3"}, {Name: "parley", Version: "dev", Missing: []string{"muc: no"}}},
		Results: []*scenario.Result{
			{Scenario: "idle", Case: "idle-tcp", Target: "prosody", Sessions: 10, BytesPerSession: 40 << 10},
			{Scenario: "idle", Case: "idle-tcp", Target: "parley", Sessions: 10, BytesPerSession: 20 << 10},
		},
	}
	data, _ := json.Marshal(rep)
	path := filepath.Join(t.TempDir(), "cmp.json")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, "table", path)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"Machine: test cpu", "missing muc: no", "| idle-tcp | memory per session (KiB) |    40.0 |   20.0 |           0.50 |"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestOverrideAndSelect(t *testing.T) {
	on := true
	dst := scenario.Params{Scale: 0.5, Transport: "tcp", Sessions: 10, MsgRate: 5}
	override(&dst, scenario.Params{Transport: "ws", Sessions: 0, MsgRate: 9, Duration: time.Second, SM: &on, NoVisitors: true, TokenSecret: "k", TokenIssuer: "i"})
	if dst.Transport != "ws" || dst.Sessions != 10 || dst.MsgRate != 9 || dst.Duration != time.Second || dst.SM == nil || !*dst.SM ||
		!dst.NoVisitors || dst.TokenSecret != "k" || dst.TokenIssuer != "i" || dst.Scale != 0.5 {
		t.Errorf("override = %+v", dst)
	}
	all := compare.DefaultCases(1)
	got, err := selectCases(all, "login,idle-ws")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range got {
		names = append(names, c.Name)
	}
	if strings.Join(names, ",") != "login-anon,login-plain,login-scram,idle-ws" {
		t.Errorf("selected %v", names)
	}
	if got, _ := selectCases(all, "all"); len(got) != len(all) {
		t.Errorf("all selected %d of %d", len(got), len(all))
	}
}
