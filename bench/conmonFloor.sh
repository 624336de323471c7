#!/bin/sh
# The least a container manager built on conmon (as the issue asks, and podman is) does to run
# one container to its end: the processes and mounts alone, with no state, names, locks, spec
# generation or lookups. The "conmon floor" rows of the run bench.
#   conmonFloor.sh BUNDLE DIR ID [bridge]
# BUNDLE: a bundle `tsbuild bundle` wrote (its rootfs is the overlay's one lower); DIR: a new
# directory for this run (removed at the end); ID: a runc container ID not in use.
# overlay mount, conmon (sync pipe, k8s-file log, exit file) -> runc create, runc start, wait for
# the exit, runc delete, umount; the container's output is printed from the log, as a run shows it.
# With `bridge`: also a network namespace, on which the CNI plugins tsbuild's bridge network
# chains (loopback; bridge with host-local IPAM and masquerade, then firewall) run ADD while conmon
# creates the container, and firewall then bridge DEL after it, as tsbuild orders them.
set -eu
bundle=$1 dir=$2 id=$3 network=${4:-none}
mkdir -p "$dir/upper" "$dir/work" "$dir/rootfs"
mount -t overlay overlay -o "lowerdir=$bundle/rootfs,upperdir=$dir/upper,workdir=$dir/work,volatile" "$dir/rootfs"

cni() { # cni COMMAND PLUGIN CONFIG: one plugin call, as the CNI spec has a runtime make it
  CNI_COMMAND=$1 CNI_CONTAINERID=$id CNI_NETNS=$dir/netns CNI_IFNAME=${4:-eth0} CNI_PATH=/usr/lib/cni \
    PATH=$PATH:/usr/sbin:/sbin "/usr/lib/cni/$2" <<CONFIG
$3
CONFIG
}
bridge='"cniVersion":"1.0.0","name":"tsbuild","type":"bridge","bridge":"tsbuild0","isGateway":true,"ipMasq":true,"hairpinMode":true,"ipam":{"type":"host-local","routes":[{"dst":"0.0.0.0/0"}],"ranges":[[{"subnet":"10.99.0.0/16","gateway":"10.99.0.1"}]],"dataDir":"/run/tsbuild/cni/networks"}'
firewall='"cniVersion":"1.0.0","name":"tsbuild","type":"firewall","backend":"iptables"'
if [ "$network" = bridge ]; then
  touch "$dir/netns"
  unshare --net="$dir/netns" true
  # The bundle's new network namespace becomes this one, joined by path (its one `"type": "network"`).
  sed "s|\"type\": \"network\"|\"type\": \"network\", \"path\": \"$dir/netns\"|" "$bundle/config.json" > "$dir/config.json"
  (cni ADD loopback '{"cniVersion":"1.0.0","name":"loopback","type":"loopback"}' lo >/dev/null
   cni ADD bridge "{$bridge}" > "$dir/result"
   cni ADD firewall "{$firewall,\"prevResult\":$(cat "$dir/result")}" >/dev/null) &
  network_pid=$!
else
  cp "$bundle/config.json" "$dir/config.json"
fi
mkfifo "$dir/sync"
# --sync: conmon stays this shell's child and exits with the container, so `wait` is the wait for its exit.
_OCI_SYNCPIPE=3 conmon --api-version 1 -c "$id" -u "$id" -n "$id" -r "$(command -v runc)" -b "$dir" -p "$dir/pid" \
  -l "k8s-file:$dir/log" --exit-dir "$dir" --socket-dir-path "$dir" --sync --no-sync-log --log-level error 3>"$dir/sync" &
conmon_pid=$!
# conmon's first message on the sync pipe: the container is created.
read -r created < "$dir/sync"
[ "$network" = bridge ] && wait "$network_pid"
runc start "$id"
# conmon's own status says nothing here (the exit file has the container's); only that it ended counts.
wait "$conmon_pid" || :
runc delete "$id" &
if [ "$network" = bridge ]; then
  cni DEL firewall "{$firewall,\"prevResult\":$(cat "$dir/result")}"
  cni DEL bridge "{$bridge,\"prevResult\":$(cat "$dir/result")}"
  umount "$dir/netns"
fi
umount "$dir/rootfs"
wait
cut -d' ' -f4- "$dir/log"
rm -rf "$dir"
