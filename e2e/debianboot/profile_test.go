package debianboot

import (
	"os"
	"strings"
	"testing"
	"time"
)

// networkEnv opts in to tests whose guest installs packages from the
// image's Debian mirror (through QEMU's user-mode NAT).
const networkEnv = "BANGER_TEST_MIRROR"

// TestDebianProfileDev runs image build --profile dev on the Debian image:
// apt-get from the image's mirror inside the build VM, a user "dev" with
// passwordless sudo. Opt-in: it needs the mirror and takes minutes.
func TestDebianProfileDev(t *testing.T) {
	if os.Getenv(networkEnv) != "1" {
		t.Skipf("skipping: set %s=1 to run the dev profile against the image's Debian mirror (needs it reachable and a few minutes)", networkEnv)
	}
	e := pullDebian(t, 15*time.Minute) // apt-get under TCG
	e.ok(t, "image", "build", "--from-image", "debian", "--name", "debian-dev", "--profile", "dev", "--compact")
	out := e.ok(t, "vm", "run", "--rm", "debian-dev", "--", "sh", "-c",
		"stat -c '%U %a' /usr/bin/sudo; id -nG dev; su dev -c 'sudo -n id -u'")
	if want := "root 4755\ndev sudo\n0\n"; out != want {
		t.Errorf("dev profile result:\n%q\nwant\n%q", out, want)
	}
	if strings.Contains(out, "password") {
		t.Errorf("sudo asked for a password: %q", out)
	}
}
