#!/bin/bash
# Smoke test of the test servers (run under with-servers.sh): boto3 writes, signed curl reads, RGW checks signatures.
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
S3CHECK=$HERE/../servers/s3check.py
WORK=$(mktemp -d "${TMPDIR:-/tmp}/vfs-smoke.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

passed=0
failed=0
ok() { echo "ok: $*"; passed=$((passed + 1)); }
bad() { echo "FAIL: $*"; failed=$((failed + 1)); }
run() # run NAME CMD...: CMD must succeed
{
	local name=$1
	shift
	if "$@"; then ok "$name"; else bad "$name: '$*' failed"; fi
}
check() # check NAME EXPECTED ACTUAL
{
	if [ "$2" = "$3" ]; then ok "$1"; else bad "$1: expected '$2', got '$3'"; fi
}

EMPTY_SHA256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855

# curl_get ENDPOINT ACCESS SECRET PATH OUT: a SigV4-signed GET with the real (empty)
# payload hash; prints the HTTP status.
curl_get()
{
	curl -sS -m 60 -o "$5" -w '%{http_code}' --aws-sigv4 "aws:amz:us-east-1:s3" --user "$2:$3" \
		-H "x-amz-content-sha256: $EMPTY_SHA256" "$1$4"
}

head -c $((12 << 20)) /dev/urandom >"$WORK/big"
echo "small object $$" >"$WORK/small"
sha_big=$(sha256sum <"$WORK/big" | cut -d' ' -f1)
sha_small=$(sha256sum <"$WORK/small" | cut -d' ' -f1)

# smoke PREFIX: the checks both servers must pass.
smoke()
{
	local name=$1 endpoint access secret code
	local -n endpoint_ref=${name}_ENDPOINT access_ref=${name}_ACCESS_KEY_ID secret_ref=${name}_SECRET_ACCESS_KEY env_ref=${name}_ENV
	endpoint=$endpoint_ref access=$access_ref secret=$secret_ref
	echo "== $name at $endpoint"
	# shellcheck disable=SC1090
	check "$name env file endpoint" "$endpoint" "$(. "$env_ref" && echo "$S3_ENDPOINT")"
	s3c() { S3_ENDPOINT=$endpoint AWS_ACCESS_KEY_ID=$access AWS_SECRET_ACCESS_KEY=$secret "$S3CHECK" "$@"; }
	run "$name mb" s3c mb smoke-bucket
	run "$name put (single)" s3c put smoke-bucket small "$WORK/small" --single --meta origin=boto3
	# 12 MiB in 5 MiB parts: a multipart upload.
	run "$name put (multipart)" s3c put smoke-bucket "dir/big object" "$WORK/big" --part-size 5
	check "$name boto3 sha256 of multipart object" "$sha_big" "$(s3c sha256 smoke-bucket "dir/big object")"
	check "$name head metadata" boto3 \
		"$(s3c head smoke-bucket small | python3 -c 'import json, sys; print(json.load(sys.stdin)["Metadata"]["origin"])')"
	check "$name ls" "dir/big object,small" "$(s3c ls smoke-bucket | cut -f3 | paste -sd,)"

	code=$(curl_get "$endpoint" "$access" "$secret" /smoke-bucket/small "$WORK/got-small")
	check "$name signed curl GET status" 200 "$code"
	check "$name curl reads what boto3 wrote (small)" "$sha_small" "$(sha256sum <"$WORK/got-small" | cut -d' ' -f1)"
	code=$(curl_get "$endpoint" "$access" "$secret" "/smoke-bucket/dir/big%20object" "$WORK/got-big")
	check "$name signed curl GET status (multipart)" 200 "$code"
	check "$name curl reads what boto3 wrote (multipart)" "$sha_big" "$(sha256sum <"$WORK/got-big" | cut -d' ' -f1)"

	code=$(curl_get "$endpoint" NOSUCHACCESSKEY0000 "$secret" /smoke-bucket/small "$WORK/unknown-key")
	check "$name unknown access key status" 403 "$code"
	grep -q '<Code>InvalidAccessKeyId</Code>' "$WORK/unknown-key" &&
		ok "$name unknown access key is InvalidAccessKeyId" || bad "$name unknown key body: $(cat "$WORK/unknown-key")"

	run "$name rb --force" s3c rb smoke-bucket --force
	check "$name bucket gone" 404 "$(curl_get "$endpoint" "$access" "$secret" /smoke-bucket/ /dev/null)"
}

if [ -n "${RGW_ENDPOINT:-}" ]; then
	smoke RGW
	# RGW verifies signatures: a wrong secret is refused, the right one (same request) is not.
	code=$(curl_get "$RGW_ENDPOINT" "$RGW_ACCESS_KEY_ID" "wrong$RGW_SECRET_ACCESS_KEY" / "$WORK/wrong-secret")
	check "RGW wrong secret status" 403 "$code"
	grep -q '<Code>SignatureDoesNotMatch</Code>' "$WORK/wrong-secret" &&
		ok "RGW wrong secret is SignatureDoesNotMatch" || bad "RGW wrong secret body: $(cat "$WORK/wrong-secret")"
	code=$(curl_get "$RGW_ENDPOINT" "$RGW_ACCESS_KEY_ID" "$RGW_SECRET_ACCESS_KEY" / "$WORK/right-secret")
	check "RGW right secret status" 200 "$code"
else
	bad "RGW_ENDPOINT not set: run under with-servers.sh"
fi

if [ -n "${S3RVER_ENDPOINT:-}" ]; then
	smoke S3RVER
	# s3rver does not check SigV4 signatures (only the access key); signature tests
	# belong on RGW. Pinned here so that a change of s3rver's behaviour is noticed.
	code=$(curl_get "$S3RVER_ENDPOINT" "$S3RVER_ACCESS_KEY_ID" wrong-secret / "$WORK/s3rver-wrong")
	check "s3rver accepts a wrong secret (it verifies no SigV4)" 200 "$code"
else
	bad "S3RVER_ENDPOINT not set: run under with-servers.sh"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
