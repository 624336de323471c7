#!/bin/bash
# The least a registry client can do to move an image's blobs, with curl: the "floor" rows of
# the registry bench. No manifests, no verification, no retries; only the blob transfers, all
# at once, each written file fsynced (a pull) as skopeo and tsbuild both do.
#   transferFloor.sh pull HOST REPO DIR DIGEST...   GET each blob into DIR, fdatasync it
#   transferFloor.sh push HOST REPO FILE...         POST, PATCH, PUT of each blob file
#                                                   (named by its sha256 hex, as in an OCI layout)
set -euo pipefail
mode=$1 host=$2 repo=$3
shift 3

pull_one() {
  curl -sf -o "$2" "http://$host/v2/$repo/blobs/$1"
  sync -d "$2"
}

push_one() {
  local file=$1 location next
  location=$(curl -sf -i -X POST "http://$host/v2/$repo/blobs/uploads/" | tr -d '\r' | sed -n 's/^[Ll]ocation: //p')
  case $location in http*) ;; *) location="http://$host$location" ;; esac
  # One PATCH with the whole blob, then an empty PUT with the digest (what skopeo sends);
  # no "Expect: 100-continue" round trip.
  next=$(curl -sf -i -X PATCH -H 'Expect:' -H 'Content-Type: application/octet-stream' -T "$file" "$location" \
    | tr -d '\r' | sed -n 's/^[Ll]ocation: //p')
  case $next in http*) ;; *) next="http://$host$next" ;; esac
  case $next in *\?*) next="$next&" ;; *) next="$next?" ;; esac
  curl -sf -o /dev/null -X PUT "${next}digest=sha256:$(basename "$file")"
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
