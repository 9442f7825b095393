package imagepull

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// maxConfigSize bounds the image config blob read into memory.
const maxConfigSize = 16 << 20

// Blob is a content-addressed blob of an image: a layer or the config.
type Blob struct {
	Digest    v1.Hash
	Size      int64
	MediaType types.MediaType
}

// ImageConfig is the part of an image config banger runs by.
type ImageConfig struct {
	Entrypoint   []string
	Cmd          []string
	Env          []string
	WorkingDir   string
	User         string
	StopSignal   string
	ExposedPorts []string
	Labels       map[string]string
}

// Resolved is an image reference pinned to a digest, with everything
// needed to fetch and run it.
type Resolved struct {
	// Ref is the reference as parsed; Repo its repository.
	Ref  name.Reference
	Repo name.Repository
	// Digest is what the reference resolved to (an index or a manifest):
	// compare it to decide "up to date". Pinned is Repo@Digest.
	Digest    v1.Hash
	MediaType types.MediaType
	Pinned    name.Digest
	// ManifestDigest is the platform's image manifest (Digest itself when
	// the reference named a manifest).
	ManifestDigest v1.Hash
	Platform       Platform
	Config         ImageConfig
	ConfigBlob     Blob
	// Layers are oldest first.
	Layers      []Blob
	RawManifest []byte
	RawConfig   []byte
}

// Resolve is NewClient(opts) followed by Client.Resolve of ref.
func Resolve(ctx context.Context, ref string, opts Options) (*Resolved, error) {
	r, err := ParseReference(ref, opts.Insecure)
	if err != nil {
		return nil, err
	}
	c, err := NewClient(opts)
	if err != nil {
		return nil, err
	}
	return c.Resolve(ctx, r)
}

// Resolve fetches ref's manifest once and pins its digest, walks an index
// to the platform's manifest, fetches and checks the config. Every later
// fetch goes by digest.
func (c *Client) Resolve(ctx context.Context, ref name.Reference) (*Resolved, error) {
	if err := checkCredHelper(ref.Context()); err != nil {
		return nil, err
	}
	res, err := c.resolve(ctx, ref)
	if err != nil {
		return nil, classify(err, c.target(ref))
	}
	return res, nil
}

func (c *Client) resolve(ctx context.Context, ref name.Reference) (*Resolved, error) {
	desc, err := c.puller.Get(ctx, ref)
	if err != nil {
		return nil, fmt.Errorf("fetching manifest of %s: %w", ref, err)
	}
	repo := ref.Context()
	res := &Resolved{Ref: ref, Repo: repo, Digest: desc.Digest, MediaType: desc.MediaType, Pinned: repo.Digest(desc.Digest.String())}
	raw, mt, dgst := desc.Manifest, desc.MediaType, desc.Digest
	want := c.opts.Platform.orDefault()
	for depth := 0; ; depth++ {
		kind, err := manifestKind(mt, raw)
		if err != nil {
			return nil, err
		}
		if kind == kindSchema1 {
			return nil, schema1Error(targetOf(ref))
		}
		if kind == kindImage {
			break
		}
		if depth == 2 {
			return nil, newError(ErrUnsupported, nil, "%s nests indexes too deeply", ref)
		}
		idx, err := v1.ParseIndexManifest(bytes.NewReader(raw))
		if err != nil {
			return nil, fmt.Errorf("parsing index %s: %w", dgst, err)
		}
		child, err := pickManifest(idx, want)
		if err != nil {
			return nil, err
		}
		d, err := c.puller.Get(ctx, repo.Digest(child.Digest.String()))
		if err != nil {
			return nil, fmt.Errorf("fetching %s manifest %s: %w", want, child.Digest, err)
		}
		raw, mt, dgst = d.Manifest, d.MediaType, d.Digest
	}
	res.ManifestDigest, res.RawManifest = dgst, raw
	if err := c.fillImage(ctx, res, want); err != nil {
		return nil, err
	}
	return res, nil
}

// fillImage parses the image manifest, fetches the config and checks it.
func (c *Client) fillImage(ctx context.Context, res *Resolved, want Platform) error {
	m, err := v1.ParseManifest(bytes.NewReader(res.RawManifest))
	if err != nil {
		return fmt.Errorf("parsing manifest %s: %w", res.ManifestDigest, err)
	}
	if err := checkMediaTypes(res.Ref, m); err != nil {
		return err
	}
	res.ConfigBlob = Blob{Digest: m.Config.Digest, Size: m.Config.Size, MediaType: m.Config.MediaType}
	for _, l := range m.Layers {
		res.Layers = append(res.Layers, Blob{Digest: l.Digest, Size: l.Size, MediaType: l.MediaType})
	}
	if res.RawConfig, err = c.readConfig(ctx, res.Repo, res.ConfigBlob); err != nil {
		return err
	}
	cfg, err := v1.ParseConfigFile(bytes.NewReader(res.RawConfig))
	if err != nil {
		return fmt.Errorf("parsing image config %s: %w", m.Config.Digest, err)
	}
	if err := checkConfigPlatform(cfg, want); err != nil {
		return err
	}
	res.Platform = Platform{OS: cfg.OS, Architecture: cfg.Architecture, Variant: cfg.Variant}
	res.Config = imageConfig(cfg)
	return nil
}

// readConfig fetches the config blob by digest and verifies it.
func (c *Client) readConfig(ctx context.Context, repo name.Repository, b Blob) ([]byte, error) {
	rc, err := c.openBlob(ctx, repo, b.Digest)
	if err != nil {
		return nil, fmt.Errorf("fetching config %s: %w", b.Digest, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, maxConfigSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading config %s: %w", b.Digest, err)
	}
	if len(data) > maxConfigSize {
		return nil, newError(ErrUnsupported, nil, "the image config %s is larger than %d bytes", b.Digest, maxConfigSize)
	}
	if err := verifyBytes(data, b.Digest); err != nil {
		return nil, err
	}
	return data, nil
}

func imageConfig(cfg *v1.ConfigFile) ImageConfig {
	c := cfg.Config
	out := ImageConfig{
		Entrypoint: c.Entrypoint, Cmd: c.Cmd, Env: c.Env, WorkingDir: c.WorkingDir,
		User: c.User, StopSignal: c.StopSignal, Labels: c.Labels,
	}
	for p := range c.ExposedPorts {
		out.ExposedPorts = append(out.ExposedPorts, p)
	}
	slices.Sort(out.ExposedPorts)
	return out
}

type manifestKindT int

const (
	kindImage manifestKindT = iota
	kindIndex
	kindSchema1
)

// manifestKind tells an image manifest from an index or a schema 1
// manifest, by media type or, when the registry sent a generic one, by
// the document's own fields.
func manifestKind(mt types.MediaType, raw []byte) (manifestKindT, error) {
	switch mt {
	case types.DockerManifestSchema1, types.DockerManifestSchema1Signed:
		return kindSchema1, nil
	case types.OCIImageIndex, types.DockerManifestList:
		return kindIndex, nil
	case types.OCIManifestSchema1, types.DockerManifestSchema2:
		return kindImage, nil
	}
	var probe struct {
		SchemaVersion int               `json:"schemaVersion"`
		MediaType     types.MediaType   `json:"mediaType"`
		Manifests     []json.RawMessage `json:"manifests"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return 0, newError(ErrUnsupported, err, "the registry sent a manifest of type %q that is not JSON", mt)
	}
	switch {
	case probe.SchemaVersion == 1:
		return kindSchema1, nil
	case probe.MediaType != "" && probe.MediaType != mt:
		return manifestKind(probe.MediaType, raw)
	case probe.Manifests != nil:
		return kindIndex, nil
	}
	return kindImage, nil
}

// checkMediaTypes refuses artifacts and layers that are not filesystems.
func checkMediaTypes(ref name.Reference, m *v1.Manifest) error {
	switch m.Config.MediaType {
	case types.OCIConfigJSON, types.DockerConfigJSON, "":
	default:
		return newError(ErrUnsupported, nil, "%s is not a container image (its config is %q): banger can only pull images", ref, m.Config.MediaType)
	}
	for _, l := range m.Layers {
		switch l.MediaType {
		case types.DockerLayer, types.OCILayer, types.OCIUncompressedLayer, types.OCILayerZStd,
			types.DockerUncompressedLayer, types.OCIRestrictedLayer, types.OCIUncompressedRestrictedLayer:
		default:
			return newError(ErrUnsupported, nil, "%s has a layer of type %q, which banger cannot unpack", ref, l.MediaType)
		}
	}
	return nil
}

func toV1Platform(p Platform) v1.Platform {
	return v1.Platform{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant}
}
