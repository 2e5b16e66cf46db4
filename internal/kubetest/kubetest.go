// Package kubetest runs a real Kubernetes API server for tests: etcd from
// Debian and kube-apiserver built from the Go module proxy (`make deps` builds
// it once and caches it, see make.mk here). Nothing is faked: RBAC, admission,
// CRD schema validation, watches and optimistic concurrency are the API
// server's own. No kubelet, scheduler or controller manager run: the tests
// need the API, not pods.
//
// Tests that need it call Require (which skips under -short, like every
// system test, and fails when the binaries are missing) and share one server
// per test binary (Shared), each test in a namespace of its own.
package kubetest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// APIServerVersion is the kube-apiserver make deps builds; it matches the
// client-go the project uses (k8s.io/client-go v0.37.x).
const APIServerVersion = "v1.37.2"

// EnvAPIServer names a kube-apiserver binary to use instead of the cached one.
const EnvAPIServer = "GHOSTWIRE_KUBE_APISERVER"

// Binaries locates kube-apiserver and etcd, or says how to get them.
func Binaries() (apiserver, etcd string, err error) {
	apiserver = os.Getenv(EnvAPIServer)
	if apiserver == "" {
		gopath := os.Getenv("GOPATH")
		if gopath == "" {
			if out, gerr := exec.Command("go", "env", "GOPATH").Output(); gerr == nil {
				gopath = strings.TrimSpace(string(out))
			}
		}
		apiserver = filepath.Join(gopath, "bin", "kube-apiserver-"+APIServerVersion)
	}
	if _, serr := os.Stat(apiserver); serr != nil {
		return "", "", fmt.Errorf("no kube-apiserver at %s: run `make deps` (it builds %s from the Go module proxy once, ~10 min) or set %s", apiserver, APIServerVersion, EnvAPIServer)
	}
	if etcd, err = exec.LookPath("etcd"); err != nil {
		return "", "", errors.New("no etcd on PATH: run `make deps` (Debian's etcd-server package)")
	}
	return apiserver, etcd, nil
}

// Require skips t under -short and fails it when the binaries are missing.
func Require(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs a real Kubernetes API server (etcd + kube-apiserver): runs in `make test-ha`")
	}
	if _, _, err := Binaries(); err != nil {
		t.Fatal(err)
	}
}

// Server is a running etcd and kube-apiserver.
type Server struct {
	// URL is the API server's https address.
	URL string
	// Admin is a client configuration with every permission (system:masters).
	Admin *rest.Config
	// Client is a clientset for Admin.
	Client kubernetes.Interface

	dir        string
	apiBin     string
	apiArgs    []string
	caFile     string
	adminToken string
	etcdData   string
	o          Options

	mu   sync.Mutex
	etcd *proc
	api  *proc

	crds   sync.Once
	crdErr error
}

// proc is a started child process; done closes when it has exited.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{}
}

// Options place the API server somewhere other than the host's loopback.
type Options struct {
	// NetNS runs etcd and kube-apiserver inside this network namespace
	// (`ip netns exec`), as a cluster's control plane.
	NetNS string
	// Address is where kube-apiserver listens (default 127.0.0.1).
	Address string
	// Dial reaches Address from this process (needed with NetNS).
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Start runs etcd and kube-apiserver with their files in dir, and waits
// until the API answers /readyz (about 10–20 s).
func Start(dir string) (*Server, error) { return StartWith(dir, Options{}) }

// StartWith is Start with the server placed by o.
func StartWith(dir string, o Options) (*Server, error) {
	apiBin, etcdBin, err := Binaries()
	if err != nil {
		return nil, err
	}
	if o.Address == "" {
		o.Address = "127.0.0.1"
	}
	s := &Server{dir: dir, apiBin: apiBin, o: o}
	ok := false
	defer func() {
		if !ok {
			s.Stop()
		}
	}()
	// etcd's data on tmpfs: every write is an fsync, and tests write a lot.
	data, err := os.MkdirTemp("/dev/shm", "gw-etcd-")
	if err != nil {
		data = filepath.Join(dir, "etcd")
	}
	clientPort, peerPort := freePort(), freePort() // free on the host: in a new namespace every port is
	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", clientPort)
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", peerPort)
	s.etcd, err = s.start(filepath.Join(dir, "etcd.log"), etcdBin, "--name", "kubetest", "--data-dir", data,
		"--listen-client-urls", etcdURL, "--advertise-client-urls", etcdURL,
		"--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL,
		"--initial-cluster", "kubetest="+peerURL, "--log-level", "warn")
	if err != nil {
		return nil, fmt.Errorf("starting etcd: %w", err)
	}
	s.etcdData = data

	if err := writeSAKey(filepath.Join(dir, "sa.key"), filepath.Join(dir, "sa.pub")); err != nil {
		return nil, err
	}
	s.adminToken = randomToken()
	tokens := fmt.Sprintf("%s,kubetest-admin,kubetest-admin,system:masters\n", s.adminToken)
	if err := os.WriteFile(filepath.Join(dir, "tokens.csv"), []byte(tokens), 0o600); err != nil {
		return nil, err
	}
	port := freePort()
	s.URL = fmt.Sprintf("https://%s", net.JoinHostPort(o.Address, fmt.Sprint(port)))
	certDir := filepath.Join(dir, "certs")
	s.apiArgs = []string{
		"--etcd-servers=" + etcdURL,
		"--bind-address=" + o.Address, "--advertise-address=" + o.Address, fmt.Sprintf("--secure-port=%d", port),
		"--cert-dir=" + certDir,
		"--service-account-key-file=" + filepath.Join(dir, "sa.pub"),
		"--service-account-signing-key-file=" + filepath.Join(dir, "sa.key"),
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--token-auth-file=" + filepath.Join(dir, "tokens.csv"),
		"--authorization-mode=RBAC",
		"--service-cluster-ip-range=10.0.0.0/24",
		"--allow-privileged=true",
		// The "kubernetes" Service's endpoint would be 127.0.0.1, which the
		// reconciler refuses; nothing here needs it.
		"--endpoint-reconciler-type=none",
		// No controller manager runs to make service-account tokens for pods.
		"--disable-admission-plugins=ServiceAccount",
	}
	if err := s.StartAPI(); err != nil {
		return nil, err
	}
	s.caFile = filepath.Join(certDir, "apiserver.crt")
	s.Admin = &rest.Config{Host: s.URL, BearerToken: s.adminToken, TLSClientConfig: rest.TLSClientConfig{CAFile: s.caFile},
		QPS: 500, Burst: 1000, Timeout: 30 * time.Second, Dial: o.Dial}
	if s.Client, err = kubernetes.NewForConfig(s.Admin); err != nil {
		return nil, err
	}
	ok = true
	return s, nil
}

// StartAPI starts kube-apiserver (again, after StopAPI) and waits until ready.
func (s *Server) StartAPI() error {
	s.mu.Lock()
	if s.api != nil {
		s.mu.Unlock()
		return errors.New("kube-apiserver is running already")
	}
	cmd, err := s.start(filepath.Join(s.dir, "kube-apiserver.log"), s.apiBin, s.apiArgs...)
	if err != nil {
		s.mu.Unlock()
		return fmt.Errorf("starting kube-apiserver: %w", err)
	}
	s.api = cmd
	s.mu.Unlock()
	return s.waitReady(90 * time.Second)
}

// StopAPI kills kube-apiserver (etcd and its data stay): the API is
// unreachable until StartAPI.
func (s *Server) StopAPI() {
	s.mu.Lock()
	defer s.mu.Unlock()
	stop(s.api)
	s.api = nil
}

// Stop ends both processes and removes etcd's data.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	stop(s.api)
	stop(s.etcd)
	s.api, s.etcd = nil, nil
	if s.etcdData != "" {
		os.RemoveAll(s.etcdData)
	}
}

func (s *Server) waitReady(within time.Duration) error {
	deadline := time.Now().Add(within)
	var last string
	for time.Now().Before(deadline) {
		s.mu.Lock()
		p := s.api
		s.mu.Unlock()
		if p != nil && p.exited() {
			return fmt.Errorf("kube-apiserver exited: %s\n%s", p.cmd.ProcessState, tail(filepath.Join(s.dir, "kube-apiserver.log"), 3000))
		}
		hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: insecureForProbe(), DialContext: s.o.Dial}}
		req, _ := http.NewRequest("GET", s.URL+"/readyz", nil)
		req.Header.Set("Authorization", "Bearer "+s.adminToken)
		if resp, err := hc.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("kube-apiserver not ready after %s (last: %s)\n%s", within, last, tail(filepath.Join(s.dir, "kube-apiserver.log"), 3000))
}

// CAFile is the API server's serving certificate (self-signed), for clients.
func (s *Server) CAFile() string { return s.caFile }

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (s *Server) start(logPath, bin string, args ...string) (*proc, error) {
	if s.o.NetNS != "" {
		args = append([]string{"netns", "exec", s.o.NetNS, bin}, args...)
		bin = "ip"
	}
	return start(logPath, bin, args...)
}

// insecureForProbe: the readiness probe runs before the API server has
// written its self-signed certificate; it talks to loopback and carries the
// throwaway admin token only.
func insecureForProbe() *tls.Config { return &tls.Config{InsecureSkipVerify: true} } //nolint:gosec // loopback test probe

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func writeSAKey(keyPath, pubPath string) error {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		return err
	}
	pub, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		return err
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return err
	}
	return os.WriteFile(pubPath, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o644)
}

func randomToken() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x", b)
}

func tail(path string, n int) string {
	b, _ := os.ReadFile(path)
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
