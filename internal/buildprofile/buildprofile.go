// Package buildprofile holds the ready-made build steps of
// `banger image build --profile`: one shell script per profile and package
// manager family, chosen from the guest's /etc/os-release.
package buildprofile

import (
	"bufio"
	"bytes"
	"embed"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/banger-dev/banger/internal/errdefs"
)

//go:embed *.sh
var scripts embed.FS

// profile describes one profile: the settings it knows and the package
// manager families it has a script for (file "<name>-<family>.sh").
type profile struct {
	settings []string
	families []string
}

func profiles() map[string]profile {
	return map[string]profile{
		"dev": {settings: []string{"user", "ssh", "ssh_key"}, families: []string{"apt", "apk"}},
	}
}

// Names lists the known profiles, sorted.
func Names() []string {
	var names []string
	for n := range profiles() {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Script is a profile made concrete for one guest.
type Script struct {
	// Profile and Family name what was chosen ("dev", "apt").
	Profile, Family string
	// Text is the POSIX shell script, run with /bin/sh -c.
	Text string
	// Env carries the settings as PROFILE_<KEY>=VALUE.
	Env []string
}

// Check verifies that name is a profile and settings (KEY=VALUE) are its
// settings, without a guest.
func Check(name string, settings []string) error {
	_, err := settingsEnv(name, settings)
	return err
}

// Select picks the script of profile name for the system described by
// osRelease (the content of /etc/os-release).
func Select(name string, osRelease []byte, settings []string) (Script, error) {
	env, err := settingsEnv(name, settings)
	if err != nil {
		return Script{}, err
	}
	rel := ParseOSRelease(osRelease)
	family := Family(rel)
	if family == "" || !slices.Contains(profiles()[name].families, family) {
		return Script{}, errdefs.Newf(errdefs.ErrInvalid, "profile %q supports Debian/Ubuntu (apt) and Alpine (apk) guests, not %q (ID=%s ID_LIKE=%s)",
			name, rel["PRETTY_NAME"], rel["ID"], rel["ID_LIKE"])
	}
	text, err := scripts.ReadFile(name + "-" + family + ".sh")
	if err != nil {
		return Script{}, fmt.Errorf("reading profile script: %w", err)
	}
	return Script{Profile: name, Family: family, Text: string(text), Env: env}, nil
}

// Family tells the package manager family of an os-release: "apt", "apk",
// or "" when unknown. ID wins over ID_LIKE.
func Family(rel map[string]string) string {
	ids := append([]string{rel["ID"]}, strings.Fields(rel["ID_LIKE"])...)
	for _, id := range ids {
		switch id {
		case "debian", "ubuntu":
			return "apt"
		case "alpine":
			return "apk"
		}
	}
	return ""
}

// ParseOSRelease reads the KEY=value lines of an os-release file, removing
// shell quotes around values.
func ParseOSRelease(b []byte) map[string]string {
	rel := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		k, v, ok := strings.Cut(line, "=")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		rel[k] = v
	}
	return rel
}

func settingsEnv(name string, settings []string) ([]string, error) {
	p, ok := profiles()[name]
	if !ok {
		return nil, errdefs.Newf(errdefs.ErrInvalid, "unknown profile %q (known: %s)", name, strings.Join(Names(), ", "))
	}
	var env []string
	for _, s := range settings {
		k, v, ok := strings.Cut(s, "=")
		if !ok || !slices.Contains(p.settings, k) {
			return nil, errdefs.Newf(errdefs.ErrInvalid, "profile %q has no setting %q (known: %s; give KEY=VALUE)",
				name, s, strings.Join(p.settings, ", "))
		}
		env = append(env, "PROFILE_"+strings.ToUpper(k)+"="+v)
	}
	return env, nil
}
