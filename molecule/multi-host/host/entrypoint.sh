#!/bin/sh
# Each host the SSH host key the scenario generated for it (its public half is in the controller's
# known_hosts, checked strictly), and the controller's public key (both mounted read-only) as the
# ansible user's only way in; then sshd in the foreground.
set -eu
# The engine writes sysctls (ip_forward, a bridge's route_localnet): /proc/sys read-write, as a VM
# has it (what `docker run --security-opt systempaths=unconfined` gives, which the docker_container
# module cannot ask for; the container holds CAP_SYS_ADMIN for the engine anyway).
mount -o remount,rw /proc/sys
install -o root -g root -m 0600 /run/smartshop-host/ssh_host_ed25519_key /etc/ssh/ssh_host_ed25519_key
install -o root -g root -m 0644 /run/smartshop-host/ssh_host_ed25519_key.pub /etc/ssh/ssh_host_ed25519_key.pub
install -o ansible -g ansible -m 0600 /run/smartshop/authorized_keys /home/ansible/.ssh/authorized_keys
exec /usr/sbin/sshd -D -e
