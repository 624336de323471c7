#!/bin/sh
# The least a container manager built on conmon (as the issue asks, and podman is) does to run
# one container to its end: the processes and mounts alone, with no state, names, locks, spec
# generation or network. The "conmon floor" rows of the run bench.
#   conmonFloor.sh BUNDLE DIR ID
# BUNDLE: a bundle `tsbuild bundle` wrote (its rootfs is the overlay's one lower); DIR: a new
# directory for this run (removed at the end); ID: a runc container ID not in use.
# overlay mount, conmon (sync pipe, k8s-file log, exit file) -> runc create, runc start, wait for
# the exit, runc delete, umount; the container's output is printed from the log, as a run shows it.
set -eu
bundle=$1 dir=$2 id=$3
mkdir -p "$dir/upper" "$dir/work" "$dir/rootfs"
cp "$bundle/config.json" "$dir/config.json"
mount -t overlay overlay -o "lowerdir=$bundle/rootfs,upperdir=$dir/upper,workdir=$dir/work,volatile" "$dir/rootfs"
mkfifo "$dir/sync"
# --sync: conmon stays this shell's child and exits with the container, so `wait` is the wait for its exit.
_OCI_SYNCPIPE=3 conmon --api-version 1 -c "$id" -u "$id" -n "$id" -r "$(command -v runc)" -b "$dir" -p "$dir/pid" \
  -l "k8s-file:$dir/log" --exit-dir "$dir" --socket-dir-path "$dir" --sync --no-sync-log --log-level error 3>"$dir/sync" &
# conmon's first message on the sync pipe: the container is created.
read -r created < "$dir/sync"
runc start "$id"
wait
runc delete "$id"
umount "$dir/rootfs"
cut -d' ' -f4- "$dir/log"
rm -rf "$dir"
