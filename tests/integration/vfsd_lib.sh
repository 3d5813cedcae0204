# Shared by the heavy vfsd tests: server choice, vfsd start/stop, its totals line, boto3, hashes.
# The sourcing script sets VFSD (the binary) and HERE (tests/), and sources lib.sh too.

s3() { python3 "$HERE/servers/s3check.py" "$@"; }
sha() { sha256sum < "$1" | cut -d' ' -f1; }

# use_server rgw|s3rver: endpoint, key and secret of that server, also for s3check.py.
use_server() {
  case $1 in
    rgw) endpoint=$RGW_ENDPOINT key=$RGW_ACCESS_KEY_ID secret=$RGW_SECRET_ACCESS_KEY ;;
    s3rver) endpoint=$S3RVER_ENDPOINT key=$S3RVER_ACCESS_KEY_ID secret=$S3RVER_SECRET_ACCESS_KEY ;;
  esac
  export S3_ENDPOINT=$endpoint AWS_ACCESS_KEY_ID=$key AWS_SECRET_ACCESS_KEY=$secret AWS_DEFAULT_REGION=us-east-1
}

# vfsd_conf FILE BUCKET MOUNTPOINT [KEY=VALUE...]: a config for the current server.
vfsd_conf() {
  local file=$1 kv
  {
    printf 'bucket = %s\nendpoint = %s\npath_style = true\n' "$2" "$endpoint"
    printf 'access_key_id = %s\nsecret_access_key = %s\n' "$key" "$secret"
    printf 'mountpoint = %s\nbus = none\n' "$3"
    for kv in "${@:4}"; do printf '%s = %s\n' "${kv%%=*}" "${kv#*=}"; done
  } > "$file"
  chmod 600 "$file"
}

# vfsd_start CONF MOUNTPOINT LOG [ARG...]: vfsd in the background (vfsd_pid) until mounted.
vfsd_pid=""
vfsd_start() {
  "$VFSD" --config "$1" "${@:4}" 2>>"$3" &
  vfsd_pid=$!
  for _ in $(seq 300); do
    grep -q " $2 fuse.vfs " /proc/mounts && return 0
    kill -0 "$vfsd_pid" 2>/dev/null || { wait "$vfsd_pid"; vfsd_pid=""; return 1; }
    sleep 0.1
  done
  return 1
}

# vfsd_stop: SIGTERM, then vfsd's own exit status (0: everything uploaded, unmounted).
vfsd_stop() {
  [ -n "$vfsd_pid" ] || return 1
  kill -TERM "$vfsd_pid"
  wait "$vfsd_pid"
  local s=$?
  vfsd_pid=""
  return $s
}

# vfsd_total LOG WHAT: a number from the last stop line ("bytes uploaded", "bytes copied
# server-side", "PUTs", "parts", "part copies", "failed uploads"): our own metrics.
vfsd_total() {
  grep 'session totals:' "$1" | tail -1 | sed 's/.*session totals: //; s/; unmounting.*//' |
    tr ',' '\n' | sed 's/^ *//' | awk -v what="$2" '{ n = $1; $1 = ""; sub(/^ /, ""); if ($0 == what) print n }'
}

# no_sanitizer_report LOG: true when vfsd's log has no ASan/UBSan/LSan report.
no_sanitizer_report() { ! grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$1"; }

# unmount_all DIR: lazily detaches every mount under DIR (cleanup after a failure).
unmount_all() {
  local m
  for m in $(awk -v d="$1/" 'index($2, d) == 1 { print $2 }' /proc/mounts); do umount -l "$m"; done
}

# etag BUCKET KEY: the object's ETag without quotes (a multipart upload's ends in -PARTS).
etag() { s3 head "$1" "$2" | python3 -c 'import json, sys; print(json.load(sys.stdin)["ETag"].strip("\""))'; }
