package windows

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/ghostwire/ghostwire/packaging/release"
)

// Authenticode signing with osslsigncode: the programs first, then the MSI
// built from them. A release signs with the organisation's code-signing
// certificate, given by the environment:
//
//	GHOSTWIRE_SIGN_PFX             a PKCS#12 file with the key and its chain
//	GHOSTWIRE_SIGN_PFX_PASSWORD    its password (passed on stdin, never argv)
//
// or a key on a PKCS#11 token or HSM (cloud HSMs offer PKCS#11 modules):
//
//	GHOSTWIRE_SIGN_PKCS11_MODULE   the module (.so)
//	GHOSTWIRE_SIGN_PKCS11_KEY      the key's id or pkcs11: URI
//	GHOSTWIRE_SIGN_PKCS11_CERT     the certificate chain (PEM file)
//	GHOSTWIRE_SIGN_PKCS11_PIN      the PIN (on stdin)
//
// and with both
//
//	GHOSTWIRE_SIGN_TIMESTAMP_URL   an RFC 3161 time-stamping service, so the
//	                               signatures outlive the certificate
//
// Without a certificate the build makes a throwaway CA and signs with a
// certificate from it: the signatures check out against that CA
// (TEST-SIGNING-CA.pem in dist/), which nobody trusts, and the MSI is a
// test build that `packages check` refuses to publish. A real certificate
// without a timestamp is a test build too.

// Signer signs files with osslsigncode.
type Signer struct {
	// Exactly one of: PFX; PKCS11Module (+ PKCS11Key, CertChain); or
	// CertChain + KeyPEM (the throwaway certificate).
	PFX, PKCS11Module, PKCS11Key, CertChain, KeyPEM string
	// Secret is the PFX password or the token's PIN ("" for none).
	Secret string
	// TimestampURL is the RFC 3161 service ("" for no timestamp).
	TimestampURL string
	// ThrowawayCA is the PEM of the CA the throwaway certificate comes from
	// ("" for a real certificate).
	ThrowawayCA []byte
}

// TestSigningCAFile is where a throwaway build puts its CA in dist/.
const TestSigningCAFile = release.TestSigningCAFile

// SignerFromEnv reads the release certificate's settings; (nil, nil) when
// none is set.
func SignerFromEnv(getenv func(string) string) (*Signer, error) {
	s := &Signer{TimestampURL: getenv("GHOSTWIRE_SIGN_TIMESTAMP_URL")}
	pfx, mod := getenv("GHOSTWIRE_SIGN_PFX"), getenv("GHOSTWIRE_SIGN_PKCS11_MODULE")
	switch {
	case pfx != "" && mod != "":
		return nil, errors.New("set either GHOSTWIRE_SIGN_PFX or GHOSTWIRE_SIGN_PKCS11_MODULE, not both")
	case pfx != "":
		s.PFX, s.Secret = pfx, getenv("GHOSTWIRE_SIGN_PFX_PASSWORD")
		if _, err := os.Stat(pfx); err != nil {
			return nil, fmt.Errorf("GHOSTWIRE_SIGN_PFX: %w", err)
		}
	case mod != "":
		s.PKCS11Module, s.PKCS11Key, s.CertChain, s.Secret = mod, getenv("GHOSTWIRE_SIGN_PKCS11_KEY"),
			getenv("GHOSTWIRE_SIGN_PKCS11_CERT"), getenv("GHOSTWIRE_SIGN_PKCS11_PIN")
		if s.PKCS11Key == "" || s.CertChain == "" {
			return nil, errors.New("a PKCS#11 signature needs GHOSTWIRE_SIGN_PKCS11_KEY (the key's id or pkcs11: URI) and GHOSTWIRE_SIGN_PKCS11_CERT (the certificate chain, PEM)")
		}
	default:
		if s.TimestampURL != "" {
			return nil, errors.New("GHOSTWIRE_SIGN_TIMESTAMP_URL is set but no certificate: set GHOSTWIRE_SIGN_PFX or GHOSTWIRE_SIGN_PKCS11_MODULE")
		}
		return nil, nil
	}
	return s, nil
}

// TestBuildReasons say why signatures by s must not be published.
func (s *Signer) TestBuildReasons() []string {
	if s.ThrowawayCA != nil {
		return []string{"signed with a throwaway certificate this build made (it verifies against " + TestSigningCAFile + " only): set GHOSTWIRE_SIGN_PFX or GHOSTWIRE_SIGN_PKCS11_MODULE for a release"}
	}
	if s.TimestampURL == "" {
		return []string{"signed without an RFC 3161 timestamp, so the signatures would end with the certificate: set GHOSTWIRE_SIGN_TIMESTAMP_URL"}
	}
	return nil
}

// args are osslsigncode's arguments to sign in as out.
func (s *Signer) args(in, out, description string) []string {
	a := []string{"sign", "-h", "sha256", "-n", description, "-i", release.Homepage}
	switch {
	case s.PFX != "":
		a = append(a, "-pkcs12", s.PFX)
	case s.PKCS11Module != "":
		a = append(a, "-pkcs11module", s.PKCS11Module, "-key", s.PKCS11Key, "-certs", s.CertChain)
	default:
		a = append(a, "-certs", s.CertChain, "-key", s.KeyPEM)
	}
	if s.Secret != "" {
		a = append(a, "-readpass", "-") // the password or PIN on stdin
	}
	if s.TimestampURL != "" {
		a = append(a, "-ts", s.TimestampURL)
	}
	return append(a, "-in", in, "-out", out)
}

// Sign signs the file at path in place, naming it description (what
// Windows shows as the program's name in a UAC or SmartScreen prompt).
func (s *Signer) Sign(ctx context.Context, path, description string) error {
	out := path + ".signed"
	cmd := exec.CommandContext(ctx, "osslsigncode", s.args(path, out, description)...)
	if s.Secret != "" {
		cmd.Stdin = strings.NewReader(s.Secret + "\n")
	}
	if o, err := cmd.CombinedOutput(); err != nil {
		os.Remove(out)
		return fmt.Errorf("osslsigncode could not sign %s: %v\n%s", filepath.Base(path), err, o)
	}
	return os.Rename(out, path)
}

// Verify checks path's signature with osslsigncode against caFile ("":
// the system's trusted CAs).
func Verify(ctx context.Context, path, caFile string) error {
	a := []string{"verify"}
	if caFile != "" {
		a = append(a, "-CAfile", caFile)
	}
	o, err := exec.CommandContext(ctx, "osslsigncode", append(a, "-in", path)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("the signature of %s does not verify: %v\n%s", filepath.Base(path), err, o)
	}
	return nil
}

// ThrowawaySigner makes a CA and a code-signing certificate from it, valid
// for a week, in dir, and returns a Signer using them.
func ThrowawaySigner(dir string, now time.Time) (*Signer, error) {
	caKey, err := rsa.GenerateKey(rand.Reader, 3072)
	if err != nil {
		return nil, err
	}
	leafKey, err := rsa.GenerateKey(rand.Reader, 3072)
	if err != nil {
		return nil, err
	}
	serial := func() *big.Int { n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126)); return n }
	notBefore, notAfter := now.Add(-time.Hour), now.Add(7*24*time.Hour)
	caTmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "Ghostwire throwaway test CA (not trusted, not for release)", Organization: []string{release.Vendor}},
		NotBefore:    notBefore, NotAfter: notAfter,
		IsCA: true, BasicConstraintsValid: true, MaxPathLenZero: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "Ghostwire test build (throwaway)", Organization: []string{release.Vendor}},
		NotBefore:    notBefore, NotAfter: notAfter,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &leafKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	chain := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER}), caPEM...)
	keyDER, err := x509.MarshalPKCS8PrivateKey(leafKey)
	if err != nil {
		return nil, err
	}
	s := &Signer{CertChain: filepath.Join(dir, "signing-chain.pem"), KeyPEM: filepath.Join(dir, "signing-key.pem"), ThrowawayCA: caPEM}
	if err := os.WriteFile(s.CertChain, chain, 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(s.KeyPEM, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return nil, err
	}
	return s, nil
}
