package imagepull

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/docker/docker-credential-helpers/client"
	"github.com/docker/docker-credential-helpers/credentials"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// dockerConfig is the part of docker's config.json that auth reads; the
// rest of the file is kept as it is.
type dockerConfig struct {
	CredsStore  string            `json:"credsStore,omitempty"`
	CredHelpers map[string]string `json:"credHelpers,omitempty"`
}

// keychainConfigFile finds the file authn.DefaultKeychain reads, in its
// order: ~/.docker/config.json or $DOCKER_CONFIG/config.json, then
// $REGISTRY_AUTH_FILE, then podman's containers/auth.json.
func keychainConfigFile() string {
	home, _ := os.UserHomeDir()
	dc := os.Getenv("DOCKER_CONFIG")
	if (home != "" && isFile(filepath.Join(home, ".docker", "config.json"))) || (dc != "" && isFile(filepath.Join(dc, "config.json"))) {
		if dc != "" {
			return filepath.Join(dc, "config.json")
		}
		return filepath.Join(home, ".docker", "config.json")
	}
	if p := os.Getenv("REGISTRY_AUTH_FILE"); p != "" && isFile(p) {
		return p
	}
	candidates := []string{}
	if rd := os.Getenv("XDG_RUNTIME_DIR"); rd != "" {
		candidates = append(candidates, filepath.Join(rd, "containers", "auth.json"))
	}
	if cd := os.Getenv("XDG_CONFIG_HOME"); cd != "" {
		candidates = append(candidates, filepath.Join(cd, "containers", "auth.json"))
	} else if home != "" {
		candidates = append(candidates, filepath.Join(home, ".config", "containers", "auth.json"))
	}
	for _, p := range candidates {
		if isFile(p) {
			return p
		}
	}
	return ""
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir()
}

// authKey is the config.json key docker uses for a registry.
func authKey(reg name.Registry) string {
	if reg.RegistryStr() == name.DefaultRegistry {
		return authn.DefaultAuthKey
	}
	return reg.RegistryStr()
}

// helperFor names the credential helper the config assigns to repo ("" for
// none), and which setting assigned it.
func (c dockerConfig) helperFor(repo name.Repository) (helper, setting string) {
	for _, k := range []string{repo.String(), repo.RegistryStr(), authKey(repo.Registry)} {
		if h, ok := c.CredHelpers[k]; ok && h != "" {
			return h, fmt.Sprintf("credHelpers[%q]", k)
		}
	}
	if c.CredsStore != "" {
		return c.CredsStore, "credsStore"
	}
	return "", ""
}

// checkCredHelper fails clearly when the docker config names a credential
// helper that is not installed: the keychain would fail anyway, even for
// public images, with a less helpful message.
func checkCredHelper(repo name.Repository) error {
	file := keychainConfigFile()
	if file == "" {
		return nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil // the keychain reports unreadable files itself
	}
	var cfg dockerConfig
	if json.Unmarshal(data, &cfg) != nil {
		return nil
	}
	helper, setting := cfg.helperFor(repo)
	if helper == "" {
		return nil
	}
	bin := "docker-credential-" + helper
	if _, err := exec.LookPath(bin); err != nil {
		return newError(ErrCredHelper, err, "the credential helper %s (named by %s in %s) is not installed: install it, or remove that setting from the file", bin, setting, file)
	}
	return nil
}

// loginConfigFile is the config.json Login and Logout write.
func loginConfigFile(opts Options) (string, error) {
	dir := opts.ConfigDir
	if dir == "" {
		dir = os.Getenv("DOCKER_CONFIG")
	}
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("finding the docker config: %w", err)
		}
		dir = filepath.Join(home, ".docker")
	}
	return filepath.Join(dir, "config.json"), nil
}

// Login checks user and password against registry (ping, then a token or
// basic-auth request) and stores them as docker does: in the credential
// helper the config names for that registry, else base64 in "auths" of
// config.json (written atomically, mode 0600).
func Login(ctx context.Context, registry, user, pass string, opts Options) error {
	reg, err := parseRegistry(registry, opts.Insecure)
	if err != nil {
		return err
	}
	if err := verifyLogin(ctx, reg, user, pass, opts); err != nil {
		return err
	}
	file, err := loginConfigFile(opts)
	if err != nil {
		return err
	}
	return updateConfig(file, func(auths map[string]map[string]any, cfg dockerConfig) error {
		key := authKey(reg)
		if helper, _ := cfg.helperFor(reg.Repo("")); helper != "" {
			creds := &credentials.Credentials{ServerURL: key, Username: user, Secret: pass}
			if err := client.Store(client.NewShellProgramFunc("docker-credential-"+helper), creds); err != nil {
				return newError(ErrCredHelper, err, "storing the credentials with docker-credential-%s: %v", helper, err)
			}
			auths[key] = map[string]any{}
			return nil
		}
		auths[key] = map[string]any{"auth": base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))}
		return nil
	})
}

// Logout forgets the credentials of registry, in config.json and in the
// credential helper the config names for it.
func Logout(registry string, opts Options) error {
	reg, err := parseRegistry(registry, opts.Insecure)
	if err != nil {
		return err
	}
	file, err := loginConfigFile(opts)
	if err != nil {
		return err
	}
	return updateConfig(file, func(auths map[string]map[string]any, cfg dockerConfig) error {
		key := authKey(reg)
		if helper, _ := cfg.helperFor(reg.Repo("")); helper != "" {
			if err := client.Erase(client.NewShellProgramFunc("docker-credential-"+helper), key); err != nil && !credentials.IsErrCredentialsNotFoundMessage(err.Error()) {
				return newError(ErrCredHelper, err, "erasing the credentials with docker-credential-%s: %v", helper, err)
			}
		}
		delete(auths, key)
		return nil
	})
}

func parseRegistry(registry string, insecure bool) (name.Registry, error) {
	var opts []name.Option
	if insecure {
		opts = append(opts, name.Insecure)
	}
	reg, err := name.NewRegistry(registry, opts...)
	if err != nil {
		return name.Registry{}, newError(ErrInvalidReference, err, "%q is not a registry host name: use host[:port], like ghcr.io or 127.0.0.1:5443", registry)
	}
	return reg, nil
}

// verifyLogin authenticates against the registry's /v2/ endpoint.
func verifyLogin(ctx context.Context, reg name.Registry, user, pass string, opts Options) error {
	c, err := NewClient(opts)
	if err != nil {
		return err
	}
	t := target{registry: reg.RegistryStr(), repo: "/v2/", hadCreds: true, user: user}
	rt, err := transport.NewWithContext(ctx, reg, &authn.Basic{Username: user, Password: pass}, c.base, nil)
	if err != nil {
		return classify(fmt.Errorf("logging in to %s: %w", reg, err), t)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("https://%s/v2/", reg.RegistryStr()), nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Transport: rt}).Do(req)
	if err != nil {
		return classify(fmt.Errorf("logging in to %s: %w", reg, err), t)
	}
	defer resp.Body.Close()
	if err := transport.CheckError(resp, http.StatusOK); err != nil {
		return classify(fmt.Errorf("logging in to %s: %w", reg, err), t)
	}
	return nil
}

// updateConfig loads config.json (or starts an empty one), lets edit
// change its "auths", and writes it back atomically with mode 0600,
// keeping every other field as it was.
func updateConfig(file string, edit func(auths map[string]map[string]any, cfg dockerConfig) error) error {
	raw := map[string]json.RawMessage{}
	data, err := os.ReadFile(file)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("reading %s: %w", file, err)
	default:
		if err := json.Unmarshal(data, &raw); err != nil {
			return fmt.Errorf("parsing %s: %w", file, err)
		}
	}
	var cfg dockerConfig
	auths := map[string]map[string]any{}
	if data != nil {
		json.Unmarshal(data, &cfg)
	}
	if a, ok := raw["auths"]; ok {
		if err := json.Unmarshal(a, &auths); err != nil {
			return fmt.Errorf("parsing the auths of %s: %w", file, err)
		}
	}
	if err := edit(auths, cfg); err != nil {
		return err
	}
	if raw["auths"], err = json.Marshal(auths); err != nil {
		return err
	}
	out, err := json.MarshalIndent(raw, "", "\t")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return fmt.Errorf("writing %s: %w", file, err)
	}
	if err := writeFileAtomic(file, append(out, '\n'), 0o600); err != nil {
		return fmt.Errorf("writing %s: %w", file, err)
	}
	return nil
}
