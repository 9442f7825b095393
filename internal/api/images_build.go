package api

import "github.com/banger-dev/banger/internal/model"

// PathImageBuild is where to POST a BuildImageRequest; the stream carries
// "step" progress events, the steps' output as PhaseStdout/PhaseStderr
// events (bytes in Result, as for a VM run) and ends with a BuildResult.
const PathImageBuild = "/v1/images/build"

// Build step kinds.
const (
	StepRun  = "run"  // Script runs with /bin/sh -c as root
	StepCopy = "copy" // the host file Source is written to Dest in the guest
)

// BuildImageRequest is the body of POST PathImageBuild.
type BuildImageRequest struct {
	// Base is the image to start from; it is never modified.
	Base string `json:"base"`
	// Name is the new image's name.
	Name string `json:"name"`
	// Kernel boots the build and becomes the new image's kernel; default
	// the base image's.
	Kernel string `json:"kernel,omitempty"`
	// Profile names a ready-made first step (see internal/buildprofile);
	// Settings are its KEY=VALUE options.
	Profile  string   `json:"profile,omitempty"`
	Settings []string `json:"settings,omitempty"`
	// Steps run in order after the profile.
	Steps []BuildStep `json:"steps"`
	// Env is added to the base image's environment for every step.
	Env []string `json:"env,omitempty"`
	// DiskBytes grows the new image's filesystem; 0 keeps the base's size.
	DiskBytes int64 `json:"disk_bytes,omitempty"`
	// Compact rewrites the result from the guest's final tree into a fresh
	// filesystem (sized to fit, or DiskBytes), leaving out the blocks the
	// steps freed.
	Compact   bool `json:"compact,omitempty"`
	CPUs      int  `json:"cpus,omitempty"`
	MemoryMiB int  `json:"memory_mib,omitempty"`
}

// BuildStep is one step of a build.
type BuildStep struct {
	// Kind is StepRun or StepCopy.
	Kind string `json:"kind"`
	// Script is the shell text of a run step.
	Script string `json:"script,omitempty"`
	// Source (an absolute host path the daemon reads) and Dest (an
	// absolute guest path) describe a copy step.
	Source string `json:"source,omitempty"`
	Dest   string `json:"dest,omitempty"`
	// Origin says where the step came from, for messages ("--run",
	// "--script setup.sh", "--profile dev").
	Origin string `json:"origin,omitempty"`
}

// BuildRecord is what build.json beside a built image's rootfs holds.
type BuildRecord struct {
	Base    string            `json:"base"`
	BaseID  string            `json:"base_id"`
	Kernel  string            `json:"kernel"`
	Profile string            `json:"profile,omitempty"`
	Env     []string          `json:"env,omitempty"`
	Steps   []BuildStepRecord `json:"steps"`
	// Compact is set when the result was rewritten (BuildImageRequest.Compact).
	Compact bool `json:"compact,omitempty"`
}

// BuildStepRecord is a step as run, with the sha256 of its script or of the
// copied file's content.
type BuildStepRecord struct {
	BuildStep
	Digest string `json:"digest"`
}

// BuildResult ends a build stream.
type BuildResult struct {
	Image   model.Image `json:"image"`
	Record  BuildRecord `json:"record"`
	Seconds float64     `json:"seconds"`
}
