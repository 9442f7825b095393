package imagepull

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"

	"github.com/banger-dev/banger/internal/errdefs"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Error kinds. Every error Resolve, Fetch and Login return for a registry
// problem is an *Error matching exactly one of these with errors.Is; it
// also matches the errdefs category the daemon maps to a status code.
var (
	ErrInvalidReference = errors.New("invalid image reference")
	ErrUnauthorized     = errors.New("unauthorized")
	ErrDenied           = errors.New("access denied")
	ErrNotFound         = errors.New("not found")
	ErrRateLimited      = errors.New("rate limited")
	ErrTLS              = errors.New("tls failure")
	ErrDNS              = errors.New("host not found")
	ErrConnRefused      = errors.New("connection refused")
	ErrNetwork          = errors.New("network failure")
	ErrRegistry         = errors.New("registry failure")
	ErrCredHelper       = errors.New("credential helper unavailable")
	ErrPlatform         = errors.New("platform not available")
	ErrUnsupported      = errors.New("unsupported image")
	ErrDigestMismatch   = errors.New("digest mismatch")
)

// categoryOf maps each kind to the errdefs category it travels as.
func categoryOf(kind error) errdefs.Category {
	switch kind {
	case ErrNotFound, ErrPlatform:
		return errdefs.ErrNotFound
	case ErrRateLimited, ErrTLS, ErrDNS, ErrConnRefused, ErrNetwork, ErrRegistry, ErrDigestMismatch:
		return errdefs.ErrUnavailable
	}
	return errdefs.ErrInvalid
}

// Error is a classified registry error: a message that names the fix, its
// kind, and the underlying cause.
type Error struct {
	Kind error
	Msg  string
	Err  error
}

// Error returns the message, which names the fix.
func (e *Error) Error() string { return e.Msg }

// Unwrap exposes both the kind and the cause to errors.Is and errors.As.
func (e *Error) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Err}
}

// Is matches the errdefs category of the kind.
func (e *Error) Is(target error) bool {
	c, ok := target.(errdefs.Category)
	return ok && categoryOf(e.Kind) == c
}

func newError(kind, cause error, format string, args ...any) *Error {
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, args...), Err: cause}
}

// RateLimitError is returned when the registry keeps answering 429.
type RateLimitError struct {
	Host       string
	RetryAfter time.Duration // 0 when the registry did not say
}

// Error says who limited and for how long.
func (e *RateLimitError) Error() string {
	if e.RetryAfter > 0 {
		return fmt.Sprintf("%s answered 429 Too Many Requests (Retry-After %s)", e.Host, e.RetryAfter)
	}
	return e.Host + " answered 429 Too Many Requests"
}

// target says what a request was about, for the messages.
type target struct {
	registry string // "index.docker.io", "127.0.0.1:5443"
	repo     string // "library/debian"
	ident    string // tag or digest
	hadCreds bool   // credentials were found for the registry
	user     string // set when checking a login: the user name tried
}

func targetOf(ref name.Reference) target {
	return target{registry: ref.Context().RegistryStr(), repo: ref.Context().RepositoryStr(), ident: ref.Identifier()}
}

func (t target) loginHint() string {
	reg := t.registry
	if reg == name.DefaultRegistry {
		reg = "docker.io"
	}
	return "run: banger login " + reg
}

// Classify maps err, met while pulling ref, to an *Error with a clear
// message. Context errors, nil and already classified errors pass through.
func Classify(err error, ref string) error {
	var t target
	if r, perr := name.ParseReference(ref); perr == nil {
		t = targetOf(r)
	} else {
		t.registry = ref
	}
	return classify(err, t)
}

func classify(err error, t target) error {
	var ce *Error
	switch {
	case err == nil || errors.As(err, &ce):
		return err
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return err
	}
	// TLS first: for local addresses ggcr tries https and http at once, and
	// the http half's error would hide a certificate problem. A plain-HTTP
	// answer to https comes last, as the http half may say more.
	for _, c := range []func(error, target) *Error{classifyTLS, classifyNet, classifyRateLimit, classifyHTTP, classifyMisc, classifyPlainHTTP} {
		if e := c(err, t); e != nil {
			return e
		}
	}
	return err
}

func classifyTLS(err error, t target) *Error {
	var (
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
		verify   *tls.CertificateVerificationError
	)
	switch {
	case errors.As(err, &unknown) || errors.As(err, &verify) && isUnknownAuthority(verify):
		return newError(ErrTLS, err, "the TLS certificate of %s is signed by an unknown authority: add its CA to the system trust store (or point SSL_CERT_FILE at it); for a plain-HTTP registry use --insecure", t.registry)
	case errors.As(err, &hostname):
		return newError(ErrTLS, err, "the TLS certificate of %s does not match the host name (%v): use the name the certificate was issued for", t.registry, hostname.Error())
	case errors.As(err, &invalid) || errors.As(err, &verify):
		return newError(ErrTLS, err, "the TLS certificate of %s is not valid (%v): fix the registry's certificate or the machine clock", t.registry, err)
	case strings.Contains(err.Error(), "x509: "):
		return newError(ErrTLS, err, "verifying the TLS certificate of %s: %v", t.registry, err)
	}
	return nil
}

func classifyPlainHTTP(err error, t target) *Error {
	var record tls.RecordHeaderError
	if errors.As(err, &record) || strings.Contains(err.Error(), "server gave HTTP response to HTTPS client") {
		return newError(ErrTLS, err, "%s speaks plain HTTP, not HTTPS: pull with --insecure if you trust the network", t.registry)
	}
	return nil
}

func isUnknownAuthority(v *tls.CertificateVerificationError) bool {
	var unknown x509.UnknownAuthorityError
	return errors.As(v.Err, &unknown)
}

func classifyNet(err error, t target) *Error {
	var dnsErr *net.DNSError
	var netErr net.Error
	switch {
	case errors.As(err, &dnsErr):
		return newError(ErrDNS, err, "cannot resolve the registry host %q (%v): check the image name and your DNS", t.registry, dnsErr.Err)
	case errors.Is(err, syscall.ECONNREFUSED):
		return newError(ErrConnRefused, err, "nothing is listening at %s (connection refused): is the registry running and the port right?", t.registry)
	case errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.EPIPE):
		return newError(ErrNetwork, err, "the connection to %s broke off after retries (%v): try again", t.registry, err)
	case errors.As(err, &netErr) && netErr.Timeout():
		return newError(ErrNetwork, err, "%s timed out (%v): check the network and try again", t.registry, err)
	}
	return nil
}

func classifyRateLimit(err error, t target) *Error {
	var rl *RateLimitError
	var te *transport.Error
	after := ""
	switch {
	case errors.As(err, &rl):
		if rl.RetryAfter > 0 {
			after = " in " + rl.RetryAfter.String()
		}
	case errors.As(err, &te) && (te.StatusCode == http.StatusTooManyRequests || hasCode(te, transport.TooManyRequestsErrorCode)):
	default:
		return nil
	}
	return newError(ErrRateLimited, err, "%s is rate-limiting pulls: try again%s; logged-in pulls usually get a higher limit (%s)", t.registry, after, t.loginHint())
}

func hasCode(te *transport.Error, code transport.ErrorCode) bool {
	for _, d := range te.Errors {
		if d.Code == code {
			return true
		}
	}
	return false
}

func classifyHTTP(err error, t target) *Error {
	var te *transport.Error
	if !errors.As(err, &te) {
		return nil
	}
	switch {
	case te.StatusCode == http.StatusUnauthorized || hasCode(te, transport.UnauthorizedErrorCode):
		if t.user != "" {
			return newError(ErrUnauthorized, err, "%s rejected the password of user %q: check the user name and password", t.registry, t.user)
		}
		if t.hadCreds {
			return newError(ErrUnauthorized, err, "%s rejected the stored credentials for %s: %s", t.registry, t.repo, t.loginHint())
		}
		return newError(ErrUnauthorized, err, "%s requires authentication for %s (or the repository does not exist): %s", t.registry, t.repo, t.loginHint())
	case te.StatusCode == http.StatusForbidden || hasCode(te, transport.DeniedErrorCode):
		return newError(ErrDenied, err, "%s denied access to %s: the account lacks pull permission; check it or %s with another account", t.registry, t.repo, t.loginHint())
	case hasCode(te, transport.NameUnknownErrorCode):
		return newError(ErrNotFound, err, "repository %s not found on %s: check the image name", t.repo, t.registry)
	case hasCode(te, transport.ManifestUnknownErrorCode):
		return newError(ErrNotFound, err, "%q not found in %s/%s: check the tag or digest", t.ident, t.registry, t.repo)
	case hasCode(te, transport.BlobUnknownErrorCode):
		return newError(ErrNotFound, err, "blob %s of %s is missing on %s: the image there is incomplete; re-push it", t.ident, t.repo, t.registry)
	case te.StatusCode == http.StatusNotFound:
		return notFound(err, te, t)
	case te.StatusCode >= 500:
		return newError(ErrRegistry, err, "%s failed with %d %s (after retries): try again later", t.registry, te.StatusCode, http.StatusText(te.StatusCode))
	}
	return nil
}

func notFound(err error, te *transport.Error, t target) *Error {
	p := ""
	if te.Request != nil {
		p = te.Request.URL.Path
	}
	switch {
	case strings.Contains(p, "/manifests/"):
		return newError(ErrNotFound, err, "%q not found in %s/%s: check the tag or digest", t.ident, t.registry, t.repo)
	case strings.Contains(p, "/blobs/"):
		return newError(ErrNotFound, err, "blob %s of %s is missing on %s: the image there is incomplete; re-push it", t.ident, t.repo, t.registry)
	}
	return newError(ErrNotFound, err, "%s/%s not found: check the image name", t.registry, t.repo)
}

func classifyMisc(err error, t target) *Error {
	msg := err.Error()
	switch {
	case errors.Is(err, remote.ErrSchema1):
		return schema1Error(t)
	case strings.Contains(msg, "docker-credential-") && strings.Contains(msg, "not found"):
		return newError(ErrCredHelper, err, "a docker credential helper named in your docker config is not installed (%v): install it or remove it from the config", err)
	case strings.Contains(msg, "error verifying sha256 checksum"):
		return newError(ErrDigestMismatch, err, "%s served content that does not match its digest: %v", t.registry, err)
	}
	return nil
}

func schema1Error(t target) *Error {
	return newError(ErrUnsupported, remote.ErrSchema1, "%s/%s:%s is an unsupported (schema 1) image; re-push the image with a current client", t.registry, t.repo, t.ident)
}
