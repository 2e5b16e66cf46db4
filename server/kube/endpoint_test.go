package kube

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// The fake clientset is client-go's in-memory API server: it stands in for a
// cluster, which these tests cannot have. It honours resourceVersion on watches
// like the real one.

const (
	testNS  = "ghostwire"
	testSvc = "ghostwire-wireguard"
)

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func lbService(ingress ...corev1.LoadBalancerIngress) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: testNS, Name: testSvc},
		Spec: corev1.ServiceSpec{
			Type:  corev1.ServiceTypeLoadBalancer,
			Ports: []corev1.ServicePort{{Name: "wireguard", Protocol: corev1.ProtocolUDP, Port: 51820}},
		},
		Status: corev1.ServiceStatus{LoadBalancer: corev1.LoadBalancerStatus{Ingress: ingress}},
	}
}

func startEndpoint(t *testing.T, client *fake.Clientset, opts EndpointOptions) *EndpointWatcher {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	if opts.Namespace == "" {
		opts.Namespace, opts.Service = testNS, testSvc
	}
	opts.Logger = quietLogger()
	w, err := WatchEndpoint(ctx, client, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); w.Wait() })
	return w
}

// waitFor polls cond until it holds or 5 s pass (the fake delivers events
// asynchronously).
func waitFor(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ok, last := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; last state: %s", what, last)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func waitEndpoint(t *testing.T, w *EndpointWatcher, want string) {
	t.Helper()
	waitFor(t, "endpoint "+want, func() (bool, string) {
		ep, err := w.Endpoint()
		return err == nil && ep == want, ep + " / " + errString(err)
	})
}

func waitNotReady(t *testing.T, w *EndpointWatcher, contains string) {
	t.Helper()
	waitFor(t, "not ready with "+contains, func() (bool, string) {
		ep, err := w.Endpoint()
		return errors.Is(err, ErrNotReady) && ep == "" && strings.Contains(err.Error(), contains), ep + " / " + errString(err)
	})
}

func TestEndpointWaitsForLoadBalancerThenFollowsIt(t *testing.T) {
	client := fake.NewClientset(lbService())
	w := startEndpoint(t, client, EndpointOptions{})
	waitNotReady(t, w, "has no address yet")

	svcs := client.CoreV1().Services(testNS)
	ctx := context.Background()
	set := func(ing ...corev1.LoadBalancerIngress) {
		t.Helper()
		svc, err := svcs.Get(ctx, testSvc, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		svc.Status.LoadBalancer.Ingress = ing
		if _, err := svcs.UpdateStatus(ctx, svc, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	set(corev1.LoadBalancerIngress{IP: "20.31.4.5"})
	waitEndpoint(t, w, "20.31.4.5:51820")

	// The cloud replaces the address: the endpoint follows.
	set(corev1.LoadBalancerIngress{IP: "20.31.4.9"})
	waitEndpoint(t, w, "20.31.4.9:51820")

	// Load balancers that publish a name (e.g. AWS) work too.
	set(corev1.LoadBalancerIngress{Hostname: "wg.example.net"})
	waitEndpoint(t, w, "wg.example.net:51820")

	// Dual stack: IPv4 is preferred whatever the order.
	set(corev1.LoadBalancerIngress{IP: "2001:db8::7"}, corev1.LoadBalancerIngress{IP: "20.31.4.10"})
	waitEndpoint(t, w, "20.31.4.10:51820")
	set(corev1.LoadBalancerIngress{IP: "2001:db8::7"})
	waitEndpoint(t, w, "[2001:db8::7]:51820")

	// The address is withdrawn: not ready again.
	set()
	waitNotReady(t, w, "has no address yet")

	// The Service is deleted: not ready, saying so; recreated: ready.
	if err := svcs.Delete(ctx, testSvc, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitNotReady(t, w, "does not exist")
	if _, err := svcs.Create(ctx, lbService(corev1.LoadBalancerIngress{IP: "20.31.4.11"}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitEndpoint(t, w, "20.31.4.11:51820")
}

func TestEndpointServiceCreatedLater(t *testing.T) {
	client := fake.NewClientset()
	w := startEndpoint(t, client, EndpointOptions{})
	waitNotReady(t, w, "does not exist")
	// The watcher retries with back-off (first pause 1 s) and picks it up.
	if _, err := client.CoreV1().Services(testNS).Create(context.Background(),
		lbService(corev1.LoadBalancerIngress{IP: "20.31.4.5"}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitEndpoint(t, w, "20.31.4.5:51820")
}

func TestEndpointOnlyItsOwnService(t *testing.T) {
	other := lbService(corev1.LoadBalancerIngress{IP: "198.51.100.1"})
	other.Name = "someone-else"
	client := fake.NewClientset(lbService(), other)
	w := startEndpoint(t, client, EndpointOptions{})
	waitNotReady(t, w, "has no address yet")
	// An event for another Service (the fake ignores field selectors) changes nothing.
	other.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "198.51.100.2"}}
	if _, err := client.CoreV1().Services(testNS).UpdateStatus(context.Background(), other, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if ep, err := w.Endpoint(); err == nil {
		t.Fatalf("took another Service's address: %s", ep)
	}
	// And the watch asked the API server for its own Service only, as the Role requires.
	var sawWatch bool
	for _, a := range client.Actions() {
		if wa, ok := a.(k8stesting.WatchAction); ok {
			sawWatch = true
			if got := wa.GetWatchRestrictions().Fields.String(); got != "metadata.name="+testSvc {
				t.Fatalf("watch field selector = %q, want metadata.name=%s", got, testSvc)
			}
		}
	}
	if !sawWatch {
		t.Fatal("no watch was started")
	}
}

func TestEndpointForbidden(t *testing.T) {
	client := fake.NewClientset(lbService(corev1.LoadBalancerIngress{IP: "20.31.4.5"}))
	client.PrependReactor("get", "services", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "services"}, testSvc,
			errors.New(`User "system:serviceaccount:ghostwire:ghostwire-server" cannot get resource "services"`))
	})
	w := startEndpoint(t, client, EndpointOptions{})
	waitNotReady(t, w, "may not read Service ghostwire/ghostwire-wireguard")
	_, err := w.Endpoint()
	if !strings.Contains(err.Error(), "set the endpoint explicitly") {
		t.Fatalf("the error does not say what to do: %v", err)
	}
}

func TestEndpointRewatchesAfterWatchEnds(t *testing.T) {
	client := fake.NewClientset(lbService())
	// The first watch is closed at once, as an API server does when a watch
	// times out; the watcher must read again and keep following.
	closedOnce := false
	client.PrependWatchReactor("services", func(k8stesting.Action) (bool, watch.Interface, error) {
		if closedOnce {
			return false, nil, nil
		}
		closedOnce = true
		fw := watch.NewFake()
		fw.Stop()
		return true, fw, nil
	})
	w := startEndpoint(t, client, EndpointOptions{})
	waitNotReady(t, w, "has no address yet")
	svc := lbService(corev1.LoadBalancerIngress{IP: "20.31.4.5"})
	if _, err := client.CoreV1().Services(testNS).UpdateStatus(context.Background(), svc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitEndpoint(t, w, "20.31.4.5:51820")
}

func TestEndpointOfServiceShapes(t *testing.T) {
	ip := corev1.LoadBalancerIngress{IP: "20.31.4.5"}
	cases := []struct {
		name     string
		mutate   func(*corev1.Service)
		portName string
		want     string
		wantErr  string
	}{
		{name: "single UDP port", want: "20.31.4.5:51820"},
		{name: "not a LoadBalancer", mutate: func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeNodePort },
			wantErr: "of type NodePort, not LoadBalancer"},
		{name: "TCP only", mutate: func(s *corev1.Service) { s.Spec.Ports[0].Protocol = corev1.ProtocolTCP },
			wantErr: "has no UDP port"},
		{name: "two UDP ports, no name", mutate: func(s *corev1.Service) {
			s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Name: "other", Protocol: corev1.ProtocolUDP, Port: 4500})
		}, wantErr: "has 2 UDP ports"},
		{name: "two UDP ports, named", portName: "other", mutate: func(s *corev1.Service) {
			s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Name: "other", Protocol: corev1.ProtocolUDP, Port: 4500})
		}, want: "20.31.4.5:4500"},
		{name: "named port missing", portName: "wg", wantErr: `no UDP port named "wg"`},
		{name: "UDP port among TCP ones", mutate: func(s *corev1.Service) {
			s.Spec.Ports = append([]corev1.ServicePort{{Name: "https", Protocol: corev1.ProtocolTCP, Port: 443}}, s.Spec.Ports...)
		}, want: "20.31.4.5:51820"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			svc := lbService(ip)
			if c.mutate != nil {
				c.mutate(svc)
			}
			got, err := endpointOf(svc, c.portName)
			if c.wantErr != "" {
				if !errors.Is(err, ErrNotReady) || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, c.wantErr)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("got %q, %v; want %q", got, err, c.want)
			}
		})
	}
}

func TestWatchEndpointArguments(t *testing.T) {
	if _, err := WatchEndpoint(context.Background(), nil, EndpointOptions{Namespace: "a", Service: "b"}); err == nil {
		t.Fatal("nil client accepted")
	}
	if _, err := WatchEndpoint(context.Background(), fake.NewClientset(), EndpointOptions{Namespace: "a"}); err == nil {
		t.Fatal("missing Service name accepted")
	}
}

// A watch that reports 410 Gone (the version it started from is too old, as
// after an API server restart) makes the watcher read the Service afresh.
func TestEndpointRereadsAfterGone(t *testing.T) {
	client := fake.NewClientset(lbService())
	var gone atomic.Bool
	client.PrependWatchReactor("services", func(k8stesting.Action) (bool, watch.Interface, error) {
		if gone.Swap(true) {
			return false, nil, nil // later watches: the fake's real ones
		}
		fw := watch.NewFakeWithChanSize(1, false)
		fw.Error(&apierrors.NewResourceExpired("too old resource version: 1 (5)").ErrStatus)
		return true, fw, nil
	})
	w := startEndpoint(t, client, EndpointOptions{})
	waitNotReady(t, w, "has no address yet")
	waitFor(t, "the Gone watch to be used", func() (bool, string) { return gone.Load(), "" })
	svc := lbService(corev1.LoadBalancerIngress{IP: "20.31.4.7"})
	if _, err := client.CoreV1().Services(testNS).UpdateStatus(context.Background(), svc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitEndpoint(t, w, "20.31.4.7:51820")
	var gets int
	for _, a := range client.Actions() {
		if a.GetVerb() == "get" && a.GetResource().Resource == "services" {
			gets++
		}
	}
	if gets < 2 {
		t.Fatalf("the Service was read %d time(s); after 410 Gone it must be read again", gets)
	}
}
