#!/bin/bash
# Our S3 client vs curl on the same RGW, same bytes, same run: PUT and GET of one object.
#   scripts/bench-s3.sh [SIZE_MIB (1024)] [ROUNDS (3)]
# Prints MB/s per round and the medians, with our/curl ratios. See docs/BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MIB=${1:-1024}
ROUNDS=${2:-3}

bash scripts/install-deps.sh >/dev/null
[ -f build/build.ninja ] || meson setup build >/dev/null
ninja -C build tests/bench/s3_bench >/dev/null

work=$(mktemp -d /tmp/vfs-bench-s3.XXXXXX)
cleanup() { bash tests/servers/rgw.sh stop "$work/rgw" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
bash tests/servers/rgw.sh start "$work/rgw" >/dev/null 2>&1
# shellcheck disable=SC1091
. "$work/rgw/env"
export S3_ENDPOINT AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_DEFAULT_REGION
python3 tests/servers/s3check.py mb bench >/dev/null

file=/dev/shm/vfs-bench-s3.$$
head -c $((SIZE_MIB << 20)) /dev/urandom > "$file"
trap 'rm -f "$file"; cleanup' EXIT
# curl gets the real payload hash precomputed (its time not counted): the strictest baseline.
hash=$(sha256sum "$file" | cut -d' ' -f1)
bytes=$((SIZE_MIB << 20))
EMPTY_HASH=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
curl_s3() { curl -sf --aws-sigv4 "aws:amz:us-east-1:s3" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" "$@"; }
rate() { awk -v b="$bytes" -v t="$1" 'BEGIN { printf "%.1f", b / 1e6 / t }'; }

declare -a cput cget vput vget vmput vmget
for r in $(seq "$ROUNDS"); do
  t=$(curl_s3 -o /dev/null -w '%{time_total}' -H "x-amz-content-sha256: $hash" \
        -T "$file" "$S3_ENDPOINT/bench/curl-object")
  cput+=("$(rate "$t")")
  t=$(curl_s3 -o /dev/null -w '%{time_total}' -H "x-amz-content-sha256: $EMPTY_HASH" \
        "$S3_ENDPOINT/bench/curl-object")
  cget+=("$(rate "$t")")
  out=$(./build/tests/bench/s3_bench bench "$SIZE_MIB" 16 4)
  vput+=("$(awk '$1=="put_single"{print $2}' <<<"$out")")
  vget+=("$(awk '$1=="get_single"{print $2}' <<<"$out")")
  vmput+=("$(awk '$1=="put_multipart"{print $2}' <<<"$out")")
  vmget+=("$(awk '$1=="get_parallel"{print $2}' <<<"$out")")
  echo "round $r: curl put ${cput[-1]} get ${cget[-1]} | vfs put ${vput[-1]} get ${vget[-1]}" \
       "multipart put ${vmput[-1]} parallel get ${vmget[-1]} (MB/s)"
done

median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
mcp=$(median "${cput[@]}"); mcg=$(median "${cget[@]}")
mvp=$(median "${vput[@]}"); mvg=$(median "${vget[@]}")
mmp=$(median "${vmput[@]}"); mmg=$(median "${vmget[@]}")
echo
echo "median of $ROUNDS rounds, ${SIZE_MIB} MiB object, RGW on 127.0.0.1 (MB/s):"
printf '%-34s %8s %8s\n' "" PUT GET
printf '%-34s %8s %8s\n' "curl, one stream" "$mcp" "$mcg"
printf '%-34s %8s %8s\n' "vfs client, one stream" "$mvp" "$mvg"
printf '%-34s %8s %8s\n' "vfs client, 16 MiB parts x 4" "$mmp" "$mmg"
printf '%-34s %8s %8s\n' "ratio vfs one stream / curl" "$(ratio "$mvp" "$mcp")" "$(ratio "$mvg" "$mcg")"
printf '%-34s %8s %8s\n' "ratio vfs parts / curl" "$(ratio "$mmp" "$mcp")" "$(ratio "$mmg" "$mcg")"
