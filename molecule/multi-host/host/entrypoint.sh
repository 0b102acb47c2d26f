#!/bin/sh
# Each host its own SSH host keys, and the controller's public key (mounted read-only) as the
# ansible user's only way in; then sshd in the foreground.
set -eu
ssh-keygen -A >/dev/null
install -o ansible -g ansible -m 0600 /run/smartshop/authorized_keys /home/ansible/.ssh/authorized_keys
exec /usr/sbin/sshd -D -e
