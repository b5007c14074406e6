#!/bin/sh
# Give this director the IPVS state of one that just rebooted, without the
# reboot (a lab UML host keeps its disk in memory: it cannot come back): the
# daemons that use IPVS stop, ip_vs and its schedulers are unloaded (the
# kernel forgets every service, connection and sysctl), then what a boot runs
# runs again in its order: the modules and sysctls of /etc, then the units.
# Prints the units it stopped and started again.
set -eu
units=$(systemctl list-units --no-legend --plain --state=active \
    keepalived.service ldirectord.service 'lvs-cluster-*.service' | awk '{print $1}')
systemctl stop $units lvs-sync-daemon.service
for role in master backup; do          # started by the role's module, not the unit
    ipvsadm --stop-daemon "$role" 2>/dev/null || true
done
ipvsadm --clear
modprobe -r $(lsmod | awk '/^ip_vs_/ {print $1}') ip_vs
if [ -d /sys/module/ip_vs ]; then
    echo "ip_vs is still loaded" >&2
    exit 1
fi
systemctl restart systemd-modules-load.service systemd-sysctl.service
systemctl start lvs-sync-daemon.service $units
echo $units
