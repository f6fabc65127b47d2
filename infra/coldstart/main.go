// Command coldstart measures what each Lambda function costs at a cold
// start: its bootstrap's size as deployed (linux/arm64, stripped, the
// flags of infra.mk) and its package initialisation (GODEBUG=inittrace=1,
// the sum of the init lines, median of a few runs of a host build whose
// AWS_LAMBDA_RUNTIME_API points nowhere, so it exits right after init and
// main's wiring). It also counts the requests a function makes to AWS
// before it asks Lambda for its first event: AWS_ENDPOINT_URL points at a
// local server that answers every request 400 and counts it.
//
//	go run ./infra/coldstart [-runs 5] [-max-size 12] [-max-init 25] [-strict] [function...]
//
// With no function named, every directory under functions/. `make bench`
// runs it.
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"
)

func main() {
	runs := flag.Int("runs", 5, "runs of each host build; the median init time is reported")
	maxSize := flag.Float64("max-size", 12, "target: bootstrap size, MB (10^6 bytes), linux/arm64 stripped")
	maxInit := flag.Float64("max-init", 25, "target: package initialisation, ms (sum of GODEBUG=inittrace=1)")
	arch := flag.String("arch", "arm64", "GOARCH of the deployed bootstrap")
	strict := flag.Bool("strict", false, "exit 1 when a function misses a target")
	flag.Parse()
	root, err := moduleRoot()
	if err != nil {
		fail(err)
	}
	fns := flag.Args()
	if len(fns) == 0 {
		if fns, err = functions(root); err != nil {
			fail(err)
		}
	}
	dir, err := os.MkdirTemp("", "coldstart-")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(dir)

	results := make([]result, len(fns))
	if err := buildAll(root, dir, *arch, fns, results); err != nil {
		fail(err)
	}
	aws, err := startFakeAWS()
	if err != nil {
		fail(err)
	}
	defer aws.Close()
	for i := range results {
		if err := measure(&results[i], dir, *runs, aws); err != nil {
			fail(fmt.Errorf("%s: %w", results[i].fn, err))
		}
	}
	over := report(os.Stdout, results, *arch, *runs, *maxSize, *maxInit)
	if over && *strict {
		os.Exit(1)
	}
}

// result is one function's figures.
type result struct {
	fn       string
	size     int64   // deployed bootstrap, bytes
	initMS   float64 // median over the runs of the summed init lines
	initMin  float64 // the least of them (the machine's noise aside)
	wallMS   float64 // median process start to exit (init + main's wiring + the failed runtime call)
	awsCalls int64   // requests to AWS before the first event, over all runs
	packages int     // packages with an init line
	// exited is set when the function exited before lambda.Start: the
	// last line it wrote.
	exited   string
	heaviest []initLine
}

// initLine is one line of GODEBUG=inittrace=1:
// "init github.com/x/y @12 ms, 8.9 ms clock, 2478080 bytes, 35512 allocs".
type initLine struct {
	pkg string
	ms  float64
}

// parseInitTrace reads the init lines out of a process's stderr.
func parseInitTrace(stderr []byte) []initLine {
	var out []initLine
	sc := bufio.NewScanner(bytes.NewReader(stderr))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		// init <pkg> @<t> ms, <d> ms clock, ...
		if len(f) < 7 || f[0] != "init" || !strings.HasPrefix(f[2], "@") || f[6] != "clock," {
			continue
		}
		ms, err := strconv.ParseFloat(f[4], 64)
		if err != nil {
			continue
		}
		out = append(out, initLine{pkg: f[1], ms: ms})
	}
	return out
}

func sum(lines []initLine) float64 {
	var t float64
	for _, l := range lines {
		t += l.ms
	}
	return t
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// buildAll builds every function twice, for the deployed architecture
// and for this machine, with infra.mk's flags, a few builds at a time.
func buildAll(root, dir, arch string, fns []string, results []result) error {
	type job struct {
		i          int
		goos, arch string
		out        string
	}
	var jobs []job
	for i, fn := range fns {
		results[i].fn = fn
		jobs = append(jobs,
			job{i, "linux", arch, filepath.Join(dir, fn+".deploy")},
			job{i, runtime.GOOS, runtime.GOARCH, filepath.Join(dir, fn+".host")})
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		sem  = make(chan struct{}, max(runtime.NumCPU(), 2))
	)
	for _, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			cmd := exec.Command("go", "build", "-trimpath", "-tags", "lambda.norpc", "-ldflags", "-s -w",
				"-o", j.out, "./functions/"+fns[j.i])
			cmd.Dir = root
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+j.goos, "GOARCH="+j.arch)
			if out, err := cmd.CombinedOutput(); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("build %s for %s/%s: %v\n%s", fns[j.i], j.goos, j.arch, err, out))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	for i := range results {
		st, err := os.Stat(filepath.Join(dir, results[i].fn+".deploy"))
		if err != nil {
			return err
		}
		results[i].size = st.Size()
	}
	return nil
}

// fakeAWS answers every request 400 (the SDK does not retry it) and
// counts them.
type fakeAWS struct {
	url   string
	calls atomic.Int64
	srv   *http.Server
}

func startFakeAWS() (*fakeAWS, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	f := &fakeAWS{url: "http://" + ln.Addr().String()}
	f.srv = &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.calls.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"__type":"ValidationException","message":"coldstart: no AWS here"}`)
	})}
	go func() { _ = f.srv.Serve(ln) }()
	return f, nil
}

func (f *fakeAWS) Close() { _ = f.srv.Close() }

// closedAddr is a loopback address nothing listens on: the Lambda runtime
// API the functions are pointed at, so lambda.Start fails and they exit.
func closedAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := ln.Addr().String()
	return addr, ln.Close()
}

// measure runs a function's host build runs times.
func measure(r *result, dir string, runs int, aws *fakeAWS) error {
	runtimeAPI, err := closedAddr()
	if err != nil {
		return err
	}
	home := filepath.Join(dir, "home") // no ~/.aws of the machine's
	if err := os.MkdirAll(home, 0o755); err != nil {
		return err
	}
	env := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + home, "GODEBUG=inittrace=1",
		"AWS_LAMBDA_RUNTIME_API=" + runtimeAPI, "AWS_LAMBDA_FUNCTION_NAME=" + r.fn,
		"AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test",
		"AWS_ENDPOINT_URL=" + aws.url, "AWS_EC2_METADATA_DISABLED=true",
		// As on AWS: the secret is a parameter (read eagerly, it would be a request).
		"LEADRELAY_TABLE=leadrelay", "LEADRELAY_PING_SECRET_PARAM=/leadrelay/ping-secret",
		"LEADRELAY_META_APP_SECRET_PARAM=/leadrelay/meta-app-secret",
		"LEADRELAY_META_QUEUE_URL=" + aws.url + "/000000000000/meta",
		"LEADRELAY_META_DLQ_URL=" + aws.url + "/000000000000/meta-dlq",
		"LEADRELAY_ROUTING_QUEUE_URL=" + aws.url + "/000000000000/routing",
		"LEADRELAY_DELIVERY_QUEUE_URL=" + aws.url + "/000000000000/delivery",
		"LEADRELAY_ROUTING_DLQ_URL=" + aws.url + "/000000000000/routing-dlq",
		"LEADRELAY_DELIVERY_DLQ_URL=" + aws.url + "/000000000000/delivery-dlq",
	}
	before := aws.calls.Load()
	var inits, walls []float64
	var last []initLine
	for range runs {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		cmd := exec.CommandContext(ctx, filepath.Join(dir, r.fn+".host"))
		cmd.Env = env
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		start := time.Now()
		err := cmd.Run()
		wall := time.Since(start)
		cancel()
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			return err
		}
		lines := parseInitTrace(stderr.Bytes())
		if len(lines) == 0 {
			return fmt.Errorf("no init lines (exit %v):\n%s", err, stderr.String())
		}
		if !strings.Contains(stderr.String(), runtimeAPI) {
			r.exited = lastLine(stdout.String() + stderr.String())
		}
		inits = append(inits, sum(lines))
		walls = append(walls, float64(wall.Microseconds())/1000)
		last = lines
	}
	r.initMS, r.initMin, r.wallMS = median(inits), slices.Min(inits), median(walls)
	r.awsCalls = aws.calls.Load() - before
	r.packages = len(last)
	slices.SortFunc(last, func(a, b initLine) int { return cmpFloat(b.ms, a.ms) })
	r.heaviest = last[:min(3, len(last))]
	return nil
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// lastLine is the last line of a process's output that is not an init line.
func lastLine(out string) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" && !strings.HasPrefix(l, "init ") {
			return l
		}
	}
	return "(nothing)"
}

// report prints the table; it returns whether a function misses a target.
func report(w io.Writer, results []result, arch string, runs int, maxSize, maxInit float64) bool {
	fmt.Fprintf(w, "cold start per function: bootstrap linux/%s stripped (target ≤ %.0f MB), package init on this machine\n", arch, maxSize)
	fmt.Fprintf(w, "(GODEBUG=inittrace=1, sum of the init lines, median of %d runs; target ≤ %.0f ms), AWS requests before the first event\n\n", runs, maxInit)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "function\tsize MB\t\tinit ms\t\tmin\tinits\tstart→exit ms\tAWS at init\theaviest inits (ms)")
	over := false
	for _, r := range results {
		mb := float64(r.size) / 1e6
		sizeMark, initMark := "ok", "ok"
		if mb > maxSize {
			sizeMark, over = "OVER", true
		}
		if r.initMS > maxInit {
			initMark, over = "OVER", true
		}
		calls := "none"
		if r.awsCalls > 0 {
			calls, over = fmt.Sprintf("%d in %d runs", r.awsCalls, runs), true
		}
		var heavy []string
		for _, h := range r.heaviest {
			heavy = append(heavy, fmt.Sprintf("%s %.2f", shortPkg(h.pkg), h.ms))
		}
		fmt.Fprintf(tw, "%s\t%.2f\t%s\t%.2f\t%s\t%.2f\t%d\t%.1f\t%s\t%s\n", r.fn, mb, sizeMark, r.initMS, initMark,
			r.initMin, r.packages, r.wallMS, calls, strings.Join(heavy, ", "))
	}
	tw.Flush()
	for _, r := range results {
		if r.exited != "" {
			over = true
			fmt.Fprintf(w, "\n%s exited before lambda.Start: %s\n", r.fn, r.exited)
		}
	}
	return over
}

// shortPkg trims the well-known prefixes off a package path.
func shortPkg(p string) string {
	for _, pre := range []string{"github.com/leadrelay/leadrelay/", "github.com/aws/aws-sdk-go-v2/", "github.com/"} {
		if s, ok := strings.CutPrefix(p, pre); ok {
			return s
		}
	}
	return p
}

// moduleRoot is the directory of the module's go.mod.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("not inside the module: run from the repository")
	}
	return filepath.Dir(mod), nil
}

// functions lists the directories under functions/.
func functions(root string) ([]string, error) {
	ents, err := os.ReadDir(filepath.Join(root, "functions"))
	if err != nil {
		return nil, err
	}
	var fns []string
	for _, e := range ents {
		if e.IsDir() {
			fns = append(fns, e.Name())
		}
	}
	return fns, nil
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "coldstart:", err)
	os.Exit(1)
}
