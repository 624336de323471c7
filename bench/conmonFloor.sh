#!/bin/sh
# The least a container manager built on conmon (as the issue asks, and podman is) does to run a
# container: the processes and mounts alone, with no state, names, locks, spec generation or
# lookups. The "conmon floor" rows of the run bench.
#   conmonFloor.sh run BUNDLE DIR ID [none|bridge]     one container to its end, its output printed
#   conmonFloor.sh start BUNDLE DIR ID [none|bridge]   created and started, left running (`run -d`)
#   conmonFloor.sh remove BUNDLE DIR ID [none|bridge]  kills and removes what `start` left
# BUNDLE: a bundle `tsbuild bundle` wrote (its rootfs is the overlay's one lower); DIR: a new
# directory for the container (removed at the end); ID: a runc container ID not in use.
# An overlay mount, conmon (sync pipe, k8s-file log, exit file) running runc create, runc start;
# then the wait for the exit, runc delete and the unmount. With `bridge`: also a network
# namespace, on which the CNI plugins tsbuild's bridge network chains (loopback; bridge with
# host-local IPAM and masquerade, then firewall) run ADD while conmon creates the container, and
# firewall then bridge DEL after it, as tsbuild orders them.
set -eu
mode=$1 bundle=$2 dir=$3 id=$4 network=${5:-none}

cni() { # cni COMMAND PLUGIN CONFIG [IFNAME]: one plugin call, as the CNI spec has a runtime make it
  CNI_COMMAND=$1 CNI_CONTAINERID=$id CNI_NETNS=$dir/netns CNI_IFNAME=${4:-eth0} CNI_PATH=/usr/lib/cni \
    PATH=$PATH:/usr/sbin:/sbin "/usr/lib/cni/$2" <<CONFIG
$3
CONFIG
}
bridge='"cniVersion":"1.0.0","name":"tsbuild","type":"bridge","bridge":"tsbuild0","isGateway":true,"ipMasq":true,"hairpinMode":true,"ipam":{"type":"host-local","routes":[{"dst":"0.0.0.0/0"}],"ranges":[[{"subnet":"10.99.0.0/16","gateway":"10.99.0.1"}]],"dataDir":"/run/tsbuild/cni/networks"}'
firewall='"cniVersion":"1.0.0","name":"tsbuild","type":"firewall","backend":"iptables"'

create_and_start() { # $1: extra conmon flags
  mkdir -p "$dir/upper" "$dir/work" "$dir/rootfs"
  mount -t overlay overlay -o "lowerdir=$bundle/rootfs,upperdir=$dir/upper,workdir=$dir/work,volatile" "$dir/rootfs"
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
  # shellcheck disable=SC2086
  _OCI_SYNCPIPE=3 conmon --api-version 1 -c "$id" -u "$id" -n "$id" -r "$(command -v runc)" -b "$dir" -p "$dir/pid" \
    -l "k8s-file:$dir/log" --exit-dir "$dir" --socket-dir-path "$dir" --no-sync-log --log-level error $1 3>"$dir/sync" &
  conmon_pid=$!
  # conmon's first message on the sync pipe: the container is created.
  read -r created < "$dir/sync"
  [ "$network" = bridge ] && wait "$network_pid"
  runc start "$id"
}

remove() {
  runc delete --force "$id" &
  if [ "$network" = bridge ]; then
    cni DEL firewall "{$firewall,\"prevResult\":$(cat "$dir/result")}"
    cni DEL bridge "{$bridge,\"prevResult\":$(cat "$dir/result")}"
    umount "$dir/netns"
  fi
  wait
  umount "$dir/rootfs"
}

case $mode in
  run)
    # --sync: conmon stays this shell's child and exits with the container, so its end is the container's.
    create_and_start --sync
    # conmon's own status says nothing here (the exit file has the container's); only that it ended counts.
    wait "$conmon_pid" || :
    remove
    cut -d' ' -f4- "$dir/log"
    rm -rf "$dir" ;;
  start)
    # Without --sync conmon leaves for the background once the container is created, as tsbuild runs it.
    create_and_start ""
    echo "$id" ;;
  remove)
    remove
    rm -rf "$dir" ;;
  *) echo "conmonFloor.sh: unknown mode $mode" >&2; exit 2 ;;
esac
