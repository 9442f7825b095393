package api

import "github.com/banger-dev/banger/internal/model"

// Paths of image pull and the blob cache.
const (
	PathImagePull       = "/v1/images/pull"
	PathImageCachePrune = "/v1/images/cache/prune"
	PathImageCache      = "/v1/images/cache"
)

// PullImageRequest is the body of POST PathImagePull; the stream's result
// is a PullResult.
type PullImageRequest struct {
	// Ref is the OCI reference ("debian:bookworm", "ghcr.io/o/t@sha256:…").
	Ref string `json:"ref"`
	// Name is the image name; derived from Ref when empty.
	Name string `json:"name,omitempty"`
	// KernelRef names the kernel to boot the image with (optional).
	KernelRef string `json:"kernel_ref,omitempty"`
	// Platform is "os/arch[/variant]"; the host's default when empty.
	Platform string `json:"platform,omitempty"`
	// SizeBytes is the filesystem size; 0 sizes it from the content.
	SizeBytes int64 `json:"size_bytes,omitempty"`
	// MaxBytes caps the uncompressed size of the layers; 0 means 64 GiB.
	MaxBytes int64 `json:"max_bytes,omitempty"`
	// Insecure allows plain HTTP to the registry.
	Insecure bool `json:"insecure,omitempty"`
}

// PullResult is the result of a pull.
type PullResult struct {
	Image model.Image `json:"image"`
	// UpToDate reports that the image already had the remote digest: nothing
	// was downloaded or converted.
	UpToDate bool `json:"up_to_date"`
	// Replaced is the digest of the image this pull replaced, if any.
	Replaced string `json:"replaced,omitempty"`
	// Entries and Bytes count the layer entries and uncompressed bytes read.
	Entries int64 `json:"entries"`
	Bytes   int64 `json:"bytes"`
	// Files and Dirs count what the root filesystem holds.
	Files int64 `json:"files"`
	Dirs  int64 `json:"dirs"`
	// DownloadedBytes counts the layer bytes fetched from the registry.
	DownloadedBytes int64 `json:"downloaded_bytes"`
	// Seconds is the wall time of the pull.
	Seconds float64 `json:"seconds"`
}

// PruneCacheRequest is the body of POST PathImageCachePrune.
type PruneCacheRequest struct {
	// All removes every cached blob, not only those no image needs.
	All bool `json:"all,omitempty"`
}

// CacheUsage describes the blob cache (GET PathImageCache, and the result
// of a prune with FreedBytes set).
type CacheUsage struct {
	Dir        string `json:"dir"`
	Blobs      int    `json:"blobs"`
	Bytes      int64  `json:"bytes"`
	FreedBytes int64  `json:"freed_bytes"`
}
