// Package testca makes a certificate authority for tests, and server key pairs it signs for
// loopback names, written as PEM files. Nothing here is for production.
package testca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// CA is a test certificate authority.
type CA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	// File is the CA certificate's PEM file, for clients to trust.
	File string
	// Pool holds the CA certificate, for Go clients.
	Pool *x509.CertPool
}

// New makes a CA and writes its certificate to dir/ca.pem.
func New(dir string) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "ivschatd test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	ca := &CA{cert: cert, key: key, File: filepath.Join(dir, "ca.pem"), Pool: x509.NewCertPool()}
	ca.Pool.AddCert(cert)
	return ca, writePEM(ca.File, "CERTIFICATE", der)
}

// Pair is a server key pair the CA signed.
type Pair struct {
	CertFile, KeyFile string
	// Serial tells pairs apart in the certificate a client was shown.
	Serial *big.Int
	// SPKI is the base64 SHA-256 of the public key, as Chromium's
	// --ignore-certificate-errors-spki-list takes it.
	SPKI string
}

var serial = big.NewInt(1)

// Issue signs a key pair for localhost, 127.0.0.1 and ::1 and writes it to dir/<name>.pem and
// dir/<name>-key.pem (replacing files already there).
func (ca *CA) Issue(dir, name string) (*Pair, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial = new(big.Int).Add(serial, big.NewInt(1))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	spki, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(spki)
	p := &Pair{CertFile: filepath.Join(dir, name+".pem"), KeyFile: filepath.Join(dir, name+"-key.pem"),
		Serial: tmpl.SerialNumber, SPKI: base64.StdEncoding.EncodeToString(sum[:])}
	// The key first: a reload between the two writes then fails on a mismatched pair and keeps
	// the old one, rather than pairing a new certificate with an old key.
	if err := writePEM(p.KeyFile, "PRIVATE KEY", keyDER); err != nil {
		return nil, err
	}
	return p, writePEM(p.CertFile, "CERTIFICATE", der)
}

func writePEM(path, kind string, der []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
