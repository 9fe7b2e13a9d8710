package parley

import (
	"bufio"
	"bytes"
	"net/netip"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"time"

	"github.com/pion/transport/v5"
)

// Device facts (COLLECT-4/5). Each optional fact is one collector
// function; deviceSection calls it only when the fact's "field.<id>"
// switch is on, so an off switch means the device is never asked. The
// Linux sources are those of docs/device.md; elsewhere a collector
// reports nothing. Only the facts the inventory declares for platform
// "go" have a collector: device.battery_pct and device.screen_resolution
// are mobile/desktop facts the Go SDK never collects, whatever the
// switches say.

// fact collects one optional device element.
type fact struct {
	id   string // inventory element id; the switch is "field." + id
	read func(e *factEnv) (any, bool)
}

// factEnv is what a collector may use.
type factEnv struct {
	readFile func(string) ([]byte, error)
	glob     func(string) ([]string, error)
	net      transport.Net // through the egress gate
	localIP  netip.Addr    // untruncated; in memory only, to find the interface
}

// deviceFacts returns the collectors, one per optional device element.
func deviceFacts() []fact {
	return []fact{
		{elBrand, func(e *factEnv) (any, bool) { return e.line("/sys/class/dmi/id/sys_vendor", 64) }},
		{elModel, readModel},
		{elCPU, readCPU},
		{elMemoryMB, readMemoryMB},
		{elThreadCount, readThreads},
		{elNetworkType, readNetworkType},
		{elWifiState, readWifiState},
	}
}

// line returns the first line of a file, trimmed and bounded.
func (e *factEnv) line(path string, maxLen int) (any, bool) {
	b, err := e.readFile(path)
	if err != nil {
		return nil, false
	}
	s, _, _ := strings.Cut(string(b), "\n")
	s = strings.TrimSpace(strings.ReplaceAll(s, "\x00", ""))
	if s == "" {
		return nil, false
	}
	return truncateStr(s, maxLen), true
}

// field returns the value of the first "key: value" line of a file.
func (e *factEnv) field(path, key string) (string, bool) {
	b, err := e.readFile(path)
	if err != nil {
		return "", false
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v), true
		}
	}
	return "", false
}

func readModel(e *factEnv) (any, bool) {
	if v, ok := e.line("/sys/class/dmi/id/product_name", 64); ok {
		return v, true
	}
	return e.line("/proc/device-tree/model", 64) // ARM boards
}

func readCPU(e *factEnv) (any, bool) {
	for _, k := range []string{"model name", "Hardware", "Model"} {
		if v, ok := e.field("/proc/cpuinfo", k); ok && v != "" {
			return truncateStr(v, 128), true
		}
	}
	return nil, false
}

func readMemoryMB(e *factEnv) (any, bool) {
	v, ok := e.field("/proc/meminfo", "MemTotal")
	if !ok {
		return nil, false
	}
	kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(v, "kB")), 10, 64)
	if err != nil || kb < 0 {
		return nil, false
	}
	return clampInt(int(kb/1024), 0, 16777216), true
}

func readThreads(e *factEnv) (any, bool) {
	v, ok := e.field("/proc/self/status", "Threads")
	if !ok {
		return nil, false
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return nil, false
	}
	return clampInt(n, 0, 100000), true
}

// readNetworkType classifies the interface that holds the local address
// by its name: wl* Wi-Fi, en*/eth* Ethernet, ww*/rmnet* cellular.
func readNetworkType(e *factEnv) (any, bool) {
	name := e.interfaceName()
	switch {
	case name == "":
		return "unknown", true
	case strings.HasPrefix(name, "wl"):
		return "wifi", true
	case strings.HasPrefix(name, "en"), strings.HasPrefix(name, "eth"):
		return "ethernet", true
	case strings.HasPrefix(name, "ww"), strings.HasPrefix(name, "rmnet"):
		return "cellular", true
	}
	return "unknown", true
}

func (e *factEnv) interfaceName() string {
	if !e.localIP.IsValid() || e.net == nil {
		return ""
	}
	ifs, err := e.net.Interfaces()
	if err != nil {
		return ""
	}
	for _, ifc := range ifs {
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr().Unmap() == e.localIP {
				return ifc.Name
			}
		}
	}
	return ""
}

// readWifiState: "on" when a wireless interface is up, "off" when there
// is one and none is up, "unknown" without one.
func readWifiState(e *factEnv) (any, bool) {
	paths, err := e.glob("/sys/class/net/*/wireless")
	if err != nil || len(paths) == 0 {
		return "unknown", true
	}
	for _, p := range paths {
		if st, ok := e.line(filepath.Join(filepath.Dir(p), "operstate"), 16); ok && st == "up" {
			return "on", true
		}
	}
	return "off", true
}

// osName maps runtime.GOOS to the inventory's device.os enum ("" when
// the enum has no value for it).
func osName() string {
	switch runtime.GOOS {
	case "linux", "android", "ios", "windows":
		return runtime.GOOS
	case "darwin":
		return "macos"
	}
	return ""
}

// osVersion is the kernel release on Linux (device.os_version).
func (c *Client) osVersion() string {
	if runtime.GOOS != "linux" && runtime.GOOS != "android" {
		return ""
	}
	b, err := c.readFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return ""
	}
	return truncateStr(strings.TrimSpace(string(b)), 64)
}

// Default on-device IP truncation (inventory network.ip_address).
const (
	defaultV4Bits = 24
	defaultV6Bits = 48
)

// truncateIP keeps the network prefix of a: /24 for IPv4 and /48 for
// IPv6, or the stricter lengths of bits (COLLECT-2). IPv4-mapped IPv6
// addresses count as IPv4; zones are dropped.
func truncateIP(a netip.Addr, bits IPPrefixBits) netip.Prefix {
	a = a.Unmap().WithZone("")
	n := defaultV6Bits
	if bits.V6 > 0 && bits.V6 < n {
		n = bits.V6
	}
	if a.Is4() {
		n = defaultV4Bits
		if bits.V4 > 0 && bits.V4 < n {
			n = bits.V4
		}
	}
	return netip.PrefixFrom(a, n).Masked()
}

// loadSample is one reading of the process and system load.
type loadSample struct {
	appPct, sysPct int
	appOK, sysOK   bool
	memMB          int
}

// sampler turns cumulative CPU times into shares of the last interval.
type sampler struct {
	c        *Client
	wall     time.Time
	proc     time.Duration
	procOK   bool
	busy     uint64
	total    uint64
	systemOK bool
}

func newSampler(c *Client) *sampler { return &sampler{c: c} }

// sample reads the process CPU time, /proc/stat and the Go runtime's
// memory; the CPU shares cover the time since the previous sample.
func (p *sampler) sample(now time.Time) loadSample {
	var out loadSample
	proc, procOK := processCPUTime()
	if procOK && p.procOK && now.After(p.wall) {
		wall := now.Sub(p.wall).Seconds() * float64(runtime.NumCPU())
		out.appPct, out.appOK = int((proc-p.proc).Seconds()/wall*100+0.5), true
	}
	p.wall, p.proc, p.procOK = now, proc, procOK
	busy, total, ok := p.systemCPU()
	if ok && p.systemOK && total > p.total {
		out.sysPct, out.sysOK = int(float64(busy-p.busy)/float64(total-p.total)*100+0.5), true
	}
	p.busy, p.total, p.systemOK = busy, total, ok
	out.memMB = memoryMB()
	return out
}

// systemCPU reads the aggregate "cpu" line of /proc/stat: busy and total
// jiffies (idle and iowait are not busy).
func (p *sampler) systemCPU() (busy, total uint64, ok bool) {
	b, err := p.c.readFile("/proc/stat")
	if err != nil {
		return 0, 0, false
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 5 || f[0] != "cpu" {
		return 0, 0, false
	}
	for i, s := range f[1:] {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return 0, 0, false
		}
		total += v
		if i != 3 && i != 4 { // idle, iowait
			busy += v
		}
	}
	return busy, total, true
}

// memoryMB is the memory the Go runtime holds from the OS, in MiB.
func memoryMB() int {
	s := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(s)
	var total, released uint64
	if s[0].Value.Kind() == metrics.KindUint64 {
		total = s[0].Value.Uint64()
	}
	if s[1].Value.Kind() == metrics.KindUint64 {
		released = s[1].Value.Uint64()
	}
	if released > total {
		released = total
	}
	return int((total - released) >> 20)
}
