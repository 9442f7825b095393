# banger build profile "dev" for Alpine (apk).
# Settings arrive as PROFILE_<KEY> variables: PROFILE_USER (default dev),
# PROFILE_SSH=1 (install openssh-server), PROFILE_SSH_KEY (a public key for
# the user's authorized_keys).
set -eu
user="${PROFILE_USER:-dev}"
pkgs="sudo bash bash-completion ca-certificates curl less procps iproute2 vim git"
if [ "${PROFILE_SSH:-0}" = 1 ]; then
	pkgs="$pkgs openssh-server"
fi
# shellcheck disable=SC2086 # the list is meant to split
apk add --no-cache $pkgs
if ! id "$user" >/dev/null 2>&1; then
	adduser -D -s /bin/bash "$user"
fi
addgroup "$user" wheel
# adduser -D locks the password ("!"), which sshd also treats as a locked
# account; "*" allows key logins and still no password.
sed -i "s/^$user:!:/$user:*:/" /etc/shadow
mkdir -p /etc/sudoers.d
printf '%s ALL=(ALL) NOPASSWD:ALL\n' "$user" >"/etc/sudoers.d/90-banger-$user"
chmod 0440 "/etc/sudoers.d/90-banger-$user"
if [ "${PROFILE_SSH:-0}" = 1 ]; then
	ssh-keygen -A
fi
if [ -n "${PROFILE_SSH_KEY:-}" ]; then
	home=$(getent passwd "$user" | cut -d: -f6)
	mkdir -p "$home/.ssh"
	printf '%s\n' "$PROFILE_SSH_KEY" >>"$home/.ssh/authorized_keys"
	chmod 0700 "$home/.ssh"
	chmod 0600 "$home/.ssh/authorized_keys"
	chown -R "$user:$user" "$home/.ssh"
fi
echo "profile dev: user $user ready (sudo without password)"
