package localapi

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
)

// MaxCAPEM bounds UpRequest.CAPEM: a private CA with its intermediates is a
// few KiB.
const MaxCAPEM = 64 << 10

// CheckCAPEM accepts PEM text made only of certificates, at least one, and
// at most MaxCAPEM bytes. Anything else (a private key pasted along, a DER
// file, an empty file) is refused with a message that says what to give
// instead; a key must never end up in the daemon's saved profiles.
func CheckCAPEM(b []byte) error {
	if len(b) > MaxCAPEM {
		return fmt.Errorf("it is larger than %d KiB; a CA bundle is a few KiB: give only your organisation's CA certificate(s)", MaxCAPEM>>10)
	}
	n := 0
	for rest := b; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			return fmt.Errorf("it holds a %q block; give only the CA's certificate(s) (BEGIN CERTIFICATE), never a key", blk.Type)
		}
		if _, err := x509.ParseCertificate(blk.Bytes); err != nil {
			return fmt.Errorf("certificate %d in it cannot be read: %v", n+1, err)
		}
		n++
	}
	if n == 0 {
		return errors.New("it holds no PEM certificate (a file starting with -----BEGIN CERTIFICATE-----; convert a DER .cer with `openssl x509 -inform der -in ca.cer -out ca.pem`)")
	}
	return nil
}
