package agent

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// ErrUnknownUser reports a user or group name missing from the image's
// /etc/passwd or /etc/group.
var ErrUnknownUser = errors.New("unknown user or group")

// passwdEntry is one line of /etc/passwd.
type passwdEntry struct {
	name     string
	uid, gid uint32
	home     string
}

// groupEntry is one line of /etc/group.
type groupEntry struct {
	name    string
	gid     uint32
	members []string
}

// ResolveUser resolves spec, as an image's USER or an exec's --user gives it,
// through root/etc/passwd and root/etc/group: "name", "uid", "name:group",
// "uid:gid" and mixtures. An empty spec is root. A numeric uid missing from
// passwd runs with gid 0 and home "/", as Docker does; a missing name is
// ErrUnknownUser. groups lists the supplementary groups naming the user.
func ResolveUser(root, spec string) (uid, gid uint32, groups []uint32, home string, err error) {
	userPart, groupPart, hasGroup := strings.Cut(spec, ":")
	if spec == "" {
		userPart = "0"
	}
	if userPart == "" || (hasGroup && groupPart == "") {
		return 0, 0, nil, "", fmt.Errorf("resolving user %q: empty user or group", spec)
	}
	users, err := readPasswd(filepath.Join(root, "etc/passwd"))
	if err != nil {
		return 0, 0, nil, "", fmt.Errorf("resolving user %q: %w", spec, err)
	}
	u, err := findUser(users, userPart)
	if err != nil {
		return 0, 0, nil, "", fmt.Errorf("resolving user %q: %w", spec, err)
	}
	grps, err := readGroup(filepath.Join(root, "etc/group"))
	if err != nil {
		return 0, 0, nil, "", fmt.Errorf("resolving user %q: %w", spec, err)
	}
	gid = u.gid
	if hasGroup {
		if gid, err = findGroup(grps, groupPart); err != nil {
			return 0, 0, nil, "", fmt.Errorf("resolving user %q: %w", spec, err)
		}
	}
	return u.uid, gid, memberOf(grps, u.name), u.home, nil
}

func findUser(users []passwdEntry, s string) (passwdEntry, error) {
	if id, err := strconv.ParseUint(s, 10, 32); err == nil {
		for _, u := range users {
			if u.uid == uint32(id) {
				return u, nil
			}
		}
		return passwdEntry{uid: uint32(id), home: "/"}, nil
	}
	for _, u := range users {
		if u.name == s {
			return u, nil
		}
	}
	return passwdEntry{}, fmt.Errorf("user %q: %w", s, ErrUnknownUser)
}

func findGroup(grps []groupEntry, s string) (uint32, error) {
	if id, err := strconv.ParseUint(s, 10, 32); err == nil {
		return uint32(id), nil
	}
	for _, g := range grps {
		if g.name == s {
			return g.gid, nil
		}
	}
	return 0, fmt.Errorf("group %q: %w", s, ErrUnknownUser)
}

// memberOf lists, once each and in file order, the groups naming user.
func memberOf(grps []groupEntry, user string) []uint32 {
	var ids []uint32
	if user == "" {
		return nil
	}
	for _, g := range grps {
		if slices.Contains(g.members, user) && !slices.Contains(ids, g.gid) {
			ids = append(ids, g.gid)
		}
	}
	return ids
}

func readPasswd(path string) ([]passwdEntry, error) {
	var users []passwdEntry
	err := scanColonFile(path, 7, func(f []string) {
		uid, err1 := strconv.ParseUint(f[2], 10, 32)
		gid, err2 := strconv.ParseUint(f[3], 10, 32)
		if err1 != nil || err2 != nil || f[0] == "" {
			return
		}
		home := f[5]
		if home == "" {
			home = "/"
		}
		users = append(users, passwdEntry{name: f[0], uid: uint32(uid), gid: uint32(gid), home: home})
	})
	return users, err
}

func readGroup(path string) ([]groupEntry, error) {
	var grps []groupEntry
	err := scanColonFile(path, 4, func(f []string) {
		gid, err := strconv.ParseUint(f[2], 10, 32)
		if err != nil || f[0] == "" {
			return
		}
		var members []string
		if f[3] != "" {
			members = strings.Split(f[3], ",")
		}
		grps = append(grps, groupEntry{name: f[0], gid: uint32(gid), members: members})
	})
	return grps, err
}

// scanColonFile calls fn with the fields of each line of path that has at
// least n of them, skipping comments and NIS "+"/"-" lines. A missing file
// is empty.
func scanColonFile(path string, n int, fn func([]string)) error {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, len(data)+1)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == '+' || line[0] == '-' {
			continue
		}
		if f := strings.Split(line, ":"); len(f) >= n {
			fn(f)
		}
	}
	return sc.Err()
}
