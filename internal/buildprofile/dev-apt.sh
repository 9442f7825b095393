# banger build profile "dev" for Debian and Ubuntu (apt).
# Settings arrive as PROFILE_<KEY> variables: PROFILE_USER (default dev),
# PROFILE_SSH=1 (install openssh-server), PROFILE_SSH_KEY (a public key for
# the user's authorized_keys).
set -eu
user="${PROFILE_USER:-dev}"
export DEBIAN_FRONTEND=noninteractive
pkgs="sudo bash bash-completion ca-certificates curl less procps iproute2 iputils-ping vim-tiny git"
if [ "${PROFILE_SSH:-0}" = 1 ]; then
	pkgs="$pkgs openssh-server"
fi
apt-get update
# shellcheck disable=SC2086 # the list is meant to split
apt-get install -y --no-install-recommends $pkgs
if ! id "$user" >/dev/null 2>&1; then
	useradd --create-home --shell /bin/bash --user-group "$user"
fi
usermod -aG sudo "$user"
passwd -d "$user" >/dev/null
printf '%s ALL=(ALL) NOPASSWD:ALL\n' "$user" >"/etc/sudoers.d/90-banger-$user"
chmod 0440 "/etc/sudoers.d/90-banger-$user"
if [ "${PROFILE_SSH:-0}" = 1 ]; then
	ssh-keygen -A
	mkdir -p /run/sshd
fi
if [ -n "${PROFILE_SSH_KEY:-}" ]; then
	home=$(getent passwd "$user" | cut -d: -f6)
	mkdir -p "$home/.ssh"
	printf '%s\n' "$PROFILE_SSH_KEY" >>"$home/.ssh/authorized_keys"
	chmod 0700 "$home/.ssh"
	chmod 0600 "$home/.ssh/authorized_keys"
	chown -R "$user:$user" "$home/.ssh"
fi
apt-get clean
rm -rf /var/lib/apt/lists/*
echo "profile dev: user $user ready (sudo without password)"
