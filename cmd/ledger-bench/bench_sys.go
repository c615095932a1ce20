package main

import (
	"bufio"
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"
)

// benchMachine describes where the bench ran.
type benchMachine struct {
	Cores      int    `json:"cores"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	GoVersion  string `json:"go_version"`
	CPU        string `json:"cpu"`
	MemTotal   string `json:"mem_total"`
	OS         string `json:"os"`
}

func benchReadMachine() benchMachine {
	m := benchMachine{Cores: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), GoVersion: runtime.Version(),
		CPU: "unknown", OS: runtime.GOOS + "/" + runtime.GOARCH}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		if v, ok := benchProcField(b, "model name"); ok {
			m.CPU = v
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		if v, ok := benchProcField(b, "MemTotal"); ok {
			m.MemTotal = v
		}
	}
	return m
}

// benchProcField returns the value of the first "key: value" line of a /proc file.
func benchProcField(b []byte, key string) (string, bool) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v), true
		}
	}
	return "", false
}

// benchProcKiB reads a "<n> kB" field of /proc/self/status, in bytes.
func benchProcKiB(status []byte, key string) int64 {
	v, ok := benchProcField(status, key)
	if !ok {
		return 0
	}
	n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(v, "kB")), 10, 64)
	if err != nil {
		return 0
	}
	return n << 10
}

// benchMemSampler samples /proc/self/status while the bench runs and keeps the peak RSS and
// RssAnon of each phase (VmHWM is the kernel's own peak RSS of the process's life).
type benchMemSampler struct {
	mu      sync.Mutex
	phase   string
	anon    map[string]int64
	rss     map[string]int64
	order   []string
	stop    chan struct{}
	stopped chan struct{}
}

func startBenchMemSampler(every time.Duration) *benchMemSampler {
	m := &benchMemSampler{anon: map[string]int64{}, rss: map[string]int64{}, stop: make(chan struct{}), stopped: make(chan struct{}), phase: "setup"}
	m.order = []string{"setup"}
	go func() {
		defer close(m.stopped)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			m.sample()
			select {
			case <-m.stop:
				return
			case <-t.C:
			}
		}
	}()
	return m
}

func (m *benchMemSampler) sample() {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return
	}
	anon, rss := benchProcKiB(b, "RssAnon"), benchProcKiB(b, "VmRSS")
	m.mu.Lock()
	defer m.mu.Unlock()
	m.anon[m.phase] = max(m.anon[m.phase], anon)
	m.rss[m.phase] = max(m.rss[m.phase], rss)
}

// enter starts a phase: the garbage of the previous one is collected and handed back to
// the OS first, so that each phase's peak is its own.
func (m *benchMemSampler) enter(phase string) {
	runtime.GC()
	debug.FreeOSMemory()
	m.mu.Lock()
	m.phase = phase
	m.order = append(m.order, phase)
	m.mu.Unlock()
	m.sample()
}

func (m *benchMemSampler) peak(phase string) (anon, rss int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.anon[phase], m.rss[phase]
}

// close stops sampling and returns VmHWM (the process's peak RSS).
func (m *benchMemSampler) close() (hwm int64) {
	m.sample()
	close(m.stop)
	<-m.stopped
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		hwm = benchProcKiB(b, "VmHWM")
	}
	return hwm
}

// benchDirSize is the apparent size of every file under dir.
func benchDirSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

func benchFileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}
