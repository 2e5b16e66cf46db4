// Package tlsfiles serves a TLS certificate from PEM files and picks up a new
// one when the files change (cert-manager renews into a Secret; the kubelet
// swaps the mounted files through a symlink). A broken new pair never
// replaces a working one.
package tlsfiles

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/ghostwire/ghostwire/server/filewatch"
)

// Reloader holds the current certificate.
type Reloader struct {
	certFile, keyFile string
	log               *slog.Logger

	mu      sync.RWMutex
	cert    *tls.Certificate
	certPEM []byte
	keyPEM  []byte
}

// New loads the pair once; it fails when the files are missing or do not match.
func New(certFile, keyFile string, log *slog.Logger) (*Reloader, error) {
	if log == nil {
		log = slog.Default()
	}
	r := &Reloader{certFile: certFile, keyFile: keyFile, log: log}
	if _, err := r.reload(); err != nil {
		return nil, err
	}
	return r, nil
}

// reload reads both files and swaps the certificate when they changed and
// form a valid pair.
func (r *Reloader) reload() (bool, error) {
	certPEM, err := os.ReadFile(r.certFile)
	if err != nil {
		return false, fmt.Errorf("reading TLS certificate %s: %w", r.certFile, err)
	}
	keyPEM, err := os.ReadFile(r.keyFile)
	if err != nil {
		return false, fmt.Errorf("reading TLS key %s: %w", r.keyFile, err)
	}
	r.mu.RLock()
	same := bytes.Equal(certPEM, r.certPEM) && bytes.Equal(keyPEM, r.keyPEM)
	r.mu.RUnlock()
	if same {
		return false, nil
	}
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return false, fmt.Errorf("TLS certificate %s and key %s do not form a valid pair: %w", r.certFile, r.keyFile, err)
	}
	r.mu.Lock()
	r.cert, r.certPEM, r.keyPEM = &c, certPEM, keyPEM
	r.mu.Unlock()
	attrs := []any{"cert", r.certFile}
	if c.Leaf != nil {
		attrs = append(attrs, "subject", c.Leaf.Subject.String(), "not_after", c.Leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	r.log.Info("TLS certificate loaded", attrs...)
	return true, nil
}

// GetCertificate is for tls.Config.GetCertificate.
func (r *Reloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.cert, nil
}

// Certificate is the current certificate.
func (r *Reloader) Certificate() *tls.Certificate {
	c, _ := r.GetCertificate(nil)
	return c
}

// TLSConfig is a server configuration using the reloaded certificate (TLS ≥ 1.2).
func (r *Reloader) TLSConfig() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: r.GetCertificate}
}

// Watch reloads on file-system events in the files' directories, and every
// poll interval in case events are missed (some volume types send none).
// It returns when ctx ends.
func (r *Reloader) Watch(ctx context.Context, poll time.Duration) {
	filewatch.Watch(ctx, []string{r.certFile, r.keyFile}, poll, r.log, func(why string) {
		if changed, err := r.reload(); err != nil {
			r.log.Error("keeping the current TLS certificate: the new files are not usable", "error", err.Error(), "trigger", why)
		} else if changed {
			r.log.Info("TLS certificate reloaded", "trigger", why)
		}
	})
}
