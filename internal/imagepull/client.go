package imagepull

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Options tune registry access. The zero value pulls linux/amd64 (arm64 on
// arm64 hosts) over HTTPS with docker's credentials and default retries.
type Options struct {
	// Insecure allows plain HTTP to the registry.
	Insecure bool
	// Platform picks the image from an index; DefaultPlatform() when zero.
	Platform Platform
	// Keychain finds credentials; authn.DefaultKeychain (docker's
	// config.json, credential helpers, podman's auth.json) when nil.
	Keychain authn.Keychain
	// Transport is the base HTTP transport; a clone of ggcr's default when
	// nil. CAFile is ignored when Transport is set.
	Transport http.RoundTripper
	// CAFile names a PEM bundle trusted on top of the system roots.
	// (SSL_CERT_FILE works too, for the whole process.)
	CAFile string
	// Retry bounds retries of failed requests and downloads.
	Retry RetryPolicy
	// Jobs is how many layers download at once; 3 when 0.
	Jobs int
	// UserAgent is added to the User-Agent header.
	UserAgent string
	// ConfigDir is the docker config directory Login and Logout write;
	// $DOCKER_CONFIG or ~/.docker when empty.
	ConfigDir string
}

func (o Options) jobs() int {
	if o.Jobs <= 0 {
		return 3
	}
	return o.Jobs
}

func (o Options) keychain() authn.Keychain {
	if o.Keychain == nil {
		return authn.DefaultKeychain
	}
	return o.Keychain
}

// Client talks to registries with one set of Options. Its methods are safe
// for concurrent use. Make one per pull: it caches tokens per repository.
type Client struct {
	opts   Options
	base   http.RoundTripper // with our retries, below ggcr's auth
	puller *remote.Puller
}

// NewClient builds a Client.
func NewClient(opts Options) (*Client, error) {
	rt := opts.Transport
	if rt == nil {
		t, err := defaultTransport(opts.CAFile)
		if err != nil {
			return nil, err
		}
		rt = t
	}
	base := &retryTransport{inner: rt, policy: opts.Retry.withDefaults()}
	ropts := []remote.Option{
		remote.WithTransport(base),
		remote.WithAuthFromKeychain(opts.keychain()),
		remote.WithPlatform(toV1Platform(opts.Platform.orDefault())),
		remote.WithJobs(opts.jobs() + 1),
		remote.WithRetryPredicate(func(error) bool { return false }), // ours retry instead
		remote.WithRetryStatusCodes(),
	}
	if opts.UserAgent != "" {
		ropts = append(ropts, remote.WithUserAgent(opts.UserAgent))
	}
	p, err := remote.NewPuller(ropts...)
	if err != nil {
		return nil, fmt.Errorf("setting up the registry client: %w", err)
	}
	return &Client{opts: opts, base: base, puller: p}, nil
}

// defaultTransport clones ggcr's default transport, trusting caFile too.
func defaultTransport(caFile string) (*http.Transport, error) {
	t := remote.DefaultTransport.(*http.Transport).Clone()
	t.ResponseHeaderTimeout = 60 * time.Second
	if caFile == "" {
		return t, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("reading CA file: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("reading CA file %s: no PEM certificate in it", caFile)
	}
	t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return t, nil
}

// hasCredentials reports whether the keychain holds credentials for repo.
func (c *Client) hasCredentials(repo name.Repository) bool {
	auth, err := c.opts.keychain().Resolve(repo)
	return err == nil && auth != authn.Anonymous
}

func (c *Client) target(ref name.Reference) target {
	t := targetOf(ref)
	t.hadCreds = c.hasCredentials(ref.Context())
	return t
}
