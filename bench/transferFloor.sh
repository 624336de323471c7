#!/bin/bash
# The least a registry client can do to move an image's blobs, with curl: the "floor" rows of
# the registry bench. No manifests, no verification, no retries; only the blob transfers, all
# at once, each written file fsynced (a pull) as skopeo and tsbuild both do.
#   transferFloor.sh pull HOST REPO DIR DIGEST...   GET each blob into DIR, fdatasync it
#   transferFloor.sh push HOST REPO FILE...         POST + monolithic PUT of each blob file
#                                                   (named by its sha256 hex, as in an OCI layout)
set -euo pipefail
mode=$1 host=$2 repo=$3
shift 3

pull_one() {
  curl -sf -o "$2" "http://$host/v2/$repo/blobs/$1"
  sync -d "$2"
}

push_one() {
  local file=$1 location
  location=$(curl -sf -i -X POST "http://$host/v2/$repo/blobs/uploads/" | tr -d '\r' | sed -n 's/^[Ll]ocation: //p')
  case $location in http*) ;; *) location="http://$host$location" ;; esac
  case $location in *\?*) location="$location&" ;; *) location="$location?" ;; esac
  curl -sf -o /dev/null -X PUT -H 'Content-Type: application/octet-stream' --data-binary "@$file" \
    "${location}digest=sha256:$(basename "$file")"
}

pids=()
case $mode in
  pull)
    dir=$1
    shift
    mkdir -p "$dir"
    for digest in "$@"; do pull_one "$digest" "$dir/${digest#sha256:}" & pids+=($!); done ;;
  push)
    for file in "$@"; do push_one "$file" & pids+=($!); done ;;
  *) echo "usage: $0 pull|push HOST REPO ..." >&2; exit 2 ;;
esac
for pid in "${pids[@]}"; do wait "$pid"; done
