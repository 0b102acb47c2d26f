#!/bin/sh
# Each host its own SSH host keys, and the controller's public key (mounted read-only) as the
# ansible user's only way in; then sshd in the foreground.
set -eu
# The engine writes sysctls (ip_forward, a bridge's route_localnet): /proc/sys read-write, as a VM
# has it (what `docker run --security-opt systempaths=unconfined` gives, which the docker_container
# module cannot ask for; the container holds CAP_SYS_ADMIN for the engine anyway).
mount -o remount,rw /proc/sys
ssh-keygen -A >/dev/null
install -o ansible -g ansible -m 0600 /run/smartshop/authorized_keys /home/ansible/.ssh/authorized_keys
exec /usr/sbin/sshd -D -e
