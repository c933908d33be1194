package metrics

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat.
// It is 100 on every Linux architecture Go supports.
const clockTicks = 100

// ProcStat is one reading of a process's resource use.
type ProcStat struct {
	// User and System are CPU time consumed so far.
	User, System time.Duration
	// RSS and PeakRSS (VmHWM) are in bytes.
	RSS, PeakRSS int64
	// Threads is the number of OS threads.
	Threads int
}

// CPU is user plus system time.
func (s ProcStat) CPU() time.Duration { return s.User + s.System }

// ReadProc reads /proc/<pid>/stat and /proc/<pid>/status.
func ReadProc(pid int) (ProcStat, error) {
	var st ProcStat
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return st, fmt.Errorf("metrics: reading stat: %w", err)
	}
	// The command name may hold spaces and parentheses: fields start
	// after the last ')'.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return st, fmt.Errorf("metrics: malformed /proc/%d/stat", pid)
	}
	fields := strings.Fields(string(stat[i+1:]))
	// fields[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(fields) < 13 {
		return st, fmt.Errorf("metrics: short /proc/%d/stat", pid)
	}
	ut, err1 := strconv.ParseInt(fields[11], 10, 64)
	stt, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return st, fmt.Errorf("metrics: malformed times in /proc/%d/stat", pid)
	}
	st.User = time.Duration(ut) * time.Second / clockTicks
	st.System = time.Duration(stt) * time.Second / clockTicks
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return st, fmt.Errorf("metrics: reading status: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		key, val, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch key {
		case "VmRSS":
			st.RSS = kib(val)
		case "VmHWM":
			st.PeakRSS = kib(val)
		case "Threads":
			st.Threads, _ = strconv.Atoi(strings.TrimSpace(val))
		}
	}
	return st, sc.Err()
}

func kib(v string) int64 {
	v = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB"))
	n, _ := strconv.ParseInt(v, 10, 64)
	return n * 1024
}

// Sampler polls a process while a scenario runs and keeps the largest RSS
// seen (VmHWM covers the process's whole life, the sampled peak only the
// scenario).
type Sampler struct {
	pid   int
	start ProcStat

	mu   sync.Mutex
	peak int64
	err  error
	stop context.CancelFunc
	done chan struct{}
}

// StartSampler reads the process once and then every interval until Stop.
func StartSampler(pid int, interval time.Duration) (*Sampler, error) {
	st, err := ReadProc(pid)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Sampler{pid: pid, start: st, peak: st.RSS, stop: cancel, done: make(chan struct{})}
	go s.loop(ctx, interval)
	return s, nil
}

func (s *Sampler) loop(ctx context.Context, interval time.Duration) {
	defer close(s.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.sample()
		}
	}
}

func (s *Sampler) sample() ProcStat {
	st, err := ReadProc(s.pid)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		if s.err == nil {
			s.err = err
		}
		return st
	}
	s.peak = max(s.peak, st.RSS)
	return st
}

// Now returns the current reading and the resources used since the
// sampler started.
func (s *Sampler) Now() ServerUsage {
	st := s.sample()
	s.mu.Lock()
	defer s.mu.Unlock()
	return usage(s.pid, s.start, st, s.peak)
}

// Stop ends polling and returns the resources used since the start.
func (s *Sampler) Stop() (ServerUsage, error) {
	st := s.sample()
	s.stop()
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return usage(s.pid, s.start, st, s.peak), s.err
}

func usage(pid int, a, b ProcStat, peak int64) ServerUsage {
	return ServerUsage{
		PID:          pid,
		CPUSeconds:   (b.CPU() - a.CPU()).Seconds(),
		UserSeconds:  (b.User - a.User).Seconds(),
		SysSeconds:   (b.System - a.System).Seconds(),
		RSSStart:     a.RSS,
		RSSEnd:       b.RSS,
		RSSPeak:      peak,
		VmHWM:        b.PeakRSS,
		ThreadsAtEnd: b.Threads,
	}
}

// ServerUsage is what a scenario cost the server process.
type ServerUsage struct {
	PID          int     `json:"pid"`
	CPUSeconds   float64 `json:"cpu_seconds"`
	UserSeconds  float64 `json:"user_seconds"`
	SysSeconds   float64 `json:"sys_seconds"`
	RSSStart     int64   `json:"rss_start_bytes"`
	RSSEnd       int64   `json:"rss_end_bytes"`
	RSSPeak      int64   `json:"rss_peak_sampled_bytes"`
	VmHWM        int64   `json:"vmhwm_bytes"`
	ThreadsAtEnd int     `json:"threads"`
}

// ListenerPID finds the process that listens on the TCP port (IPv4 or
// IPv6) by matching the socket inode from /proc/net/tcp{,6} against
// every process's open files. It needs permission to read other
// processes' fd directories (root, or the same user).
func ListenerPID(port int) (int, error) {
	inodes := map[string]bool{}
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		data, err := os.ReadFile(file)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) < 10 || f[3] != "0A" { // LISTEN
				continue
			}
			_, hexPort, ok := strings.Cut(f[1], ":")
			if !ok {
				continue
			}
			p, err := strconv.ParseInt(hexPort, 16, 32)
			if err == nil && int(p) == port {
				inodes["socket:["+f[9]+"]"] = true
			}
		}
	}
	if len(inodes) == 0 {
		return 0, fmt.Errorf("metrics: nothing listens on port %d", port)
	}
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, dir := range procs {
		fds, err := os.ReadDir(filepath.Join(dir, "fd"))
		if err != nil {
			continue
		}
		for _, fd := range fds {
			target, err := os.Readlink(filepath.Join(dir, "fd", fd.Name()))
			if err == nil && inodes[target] {
				return strconv.Atoi(filepath.Base(dir))
			}
		}
	}
	return 0, fmt.Errorf("metrics: no process owns the listener on port %d", port)
}

// SelfCPU returns this process's CPU time so far.
func SelfCPU() time.Duration {
	st, err := ReadProc(os.Getpid())
	if err != nil {
		return 0
	}
	return st.CPU()
}
