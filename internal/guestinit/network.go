package guestinit

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"github.com/banger-dev/banger/internal/guestinit/vmconfig"
	"golang.org/x/sys/unix"
)

// netlink is a NETLINK_ROUTE socket speaking just enough rtnetlink to bring
// links up, add an address and a default route.
type netlink struct {
	fd  int
	seq uint32
}

func openNetlink() (*netlink, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("opening netlink: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("binding netlink: %w", err)
	}
	return &netlink{fd: fd}, nil
}

func (n *netlink) Close() error { return unix.Close(n.fd) }

// attr encodes one rtattr, padded to 4 bytes.
func attr(typ uint16, data []byte) []byte {
	l := unix.SizeofRtAttr + len(data)
	b := make([]byte, (l+3)&^3)
	binary.NativeEndian.PutUint16(b[0:], uint16(l))
	binary.NativeEndian.PutUint16(b[2:], typ)
	copy(b[unix.SizeofRtAttr:], data)
	return b
}

func structBytes[T any](v *T) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(v)), unsafe.Sizeof(*v))
}

// request sends one message and waits for the kernel's acknowledgement.
func (n *netlink) request(typ uint16, flags uint16, body []byte) error {
	n.seq++
	h := unix.NlMsghdr{
		Len: uint32(unix.SizeofNlMsghdr + len(body)), Type: typ,
		Flags: unix.NLM_F_REQUEST | unix.NLM_F_ACK | flags, Seq: n.seq,
	}
	msg := append(append([]byte{}, structBytes(&h)...), body...)
	if err := unix.Sendto(n.fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return err
	}
	buf := make([]byte, 8192)
	for {
		nr, _, err := unix.Recvfrom(n.fd, buf, 0)
		if err != nil {
			return err
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:nr])
		if err != nil {
			return err
		}
		for _, m := range msgs {
			if m.Header.Seq != n.seq || m.Header.Type != unix.NLMSG_ERROR || len(m.Data) < 4 {
				continue
			}
			if code := int32(binary.NativeEndian.Uint32(m.Data)); code != 0 {
				return unix.Errno(-code)
			}
			return nil
		}
	}
}

func (n *netlink) linkUp(index int) error {
	ifi := unix.IfInfomsg{Family: unix.AF_UNSPEC, Index: int32(index), Flags: unix.IFF_UP, Change: unix.IFF_UP}
	return n.request(unix.RTM_NEWLINK, 0, structBytes(&ifi))
}

func (n *netlink) addAddr(index int, p netip.Prefix) error {
	ifa := unix.IfAddrmsg{Family: unix.AF_INET, Prefixlen: uint8(p.Bits()), Index: uint32(index)}
	ip := p.Addr().AsSlice()
	body := append(structBytes(&ifa), attr(unix.IFA_LOCAL, ip)...)
	body = append(body, attr(unix.IFA_ADDRESS, ip)...)
	return n.request(unix.RTM_NEWADDR, unix.NLM_F_CREATE|unix.NLM_F_REPLACE, body)
}

func (n *netlink) addDefaultRoute(index int, gw netip.Addr) error {
	rt := unix.RtMsg{Family: unix.AF_INET, Table: unix.RT_TABLE_MAIN, Protocol: unix.RTPROT_BOOT,
		Scope: unix.RT_SCOPE_UNIVERSE, Type: unix.RTN_UNICAST}
	oif := binary.NativeEndian.AppendUint32(nil, uint32(index))
	body := append(structBytes(&rt), attr(unix.RTA_GATEWAY, gw.AsSlice())...)
	body = append(body, attr(unix.RTA_OIF, oif)...)
	return n.request(unix.RTM_NEWROUTE, unix.NLM_F_CREATE|unix.NLM_F_REPLACE, body)
}

// ifIndex waits for an interface to appear (its driver probes
// asynchronously) and returns its index.
func ifIndex(name string, timeout time.Duration) (int, error) {
	p := "/sys/class/net/" + name + "/ifindex"
	if err := waitForFile(p, timeout); err != nil {
		return 0, err
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

// configureNetwork brings lo up and, when cfg is set, gives its interface
// the static address and default route.
func configureNetwork(cfg *vmconfig.Network) error {
	nl, err := openNetlink()
	if err != nil {
		return err
	}
	defer nl.Close()
	if err := nl.linkUp(1); err != nil {
		return fmt.Errorf("bringing lo up: %w", err)
	}
	if cfg == nil {
		return nil
	}
	name := cfg.Interface
	if name == "" {
		name = "eth0"
	}
	prefix, err := netip.ParsePrefix(cfg.Address)
	if err != nil || !prefix.Addr().Is4() {
		return fmt.Errorf("configuring %s: address %q is not an IPv4 CIDR", name, cfg.Address)
	}
	idx, err := ifIndex(name, 2*time.Second)
	if err != nil {
		return fmt.Errorf("configuring %s: %w", name, err)
	}
	if err := nl.linkUp(idx); err != nil {
		return fmt.Errorf("bringing %s up: %w", name, err)
	}
	if err := nl.addAddr(idx, prefix); err != nil {
		return fmt.Errorf("adding address %s to %s: %w", prefix, name, err)
	}
	if cfg.Gateway == "" {
		return nil
	}
	gw, err := netip.ParseAddr(cfg.Gateway)
	if err != nil || !gw.Is4() {
		return fmt.Errorf("configuring %s: gateway %q is not an IPv4 address", name, cfg.Gateway)
	}
	if err := nl.addDefaultRoute(idx, gw); err != nil {
		return fmt.Errorf("adding default route via %s: %w", gw, err)
	}
	return nil
}

// writeResolver writes /etc/hosts, /etc/hostname and /etc/resolv.conf in
// the VM's root, replacing a symlink (often dangling, into /run) with a
// plain file.
func writeResolver(hostname string, cfg *vmconfig.Network) error {
	hosts := "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
	if cfg != nil && hostname != "" {
		if p, err := netip.ParsePrefix(cfg.Address); err == nil {
			hosts += p.Addr().String() + "\t" + hostname + "\n"
		}
	}
	files := map[string]string{"/etc/hosts": hosts}
	if hostname != "" {
		files["/etc/hostname"] = hostname + "\n"
	}
	if cfg != nil && len(cfg.DNS) > 0 {
		var rc strings.Builder
		for _, d := range cfg.DNS {
			rc.WriteString("nameserver " + d + "\n")
		}
		files["/etc/resolv.conf"] = rc.String()
	}
	for name, content := range files {
		if st, err := os.Lstat(name); err == nil && st.Mode()&os.ModeSymlink != 0 {
			os.Remove(name)
		}
		if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
			return fmt.Errorf("writing %s: %w", name, err)
		}
	}
	return nil
}
