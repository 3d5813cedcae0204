// AWS Signature Version 4: URI encoding, header signing and presigned URLs, as pure functions.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "s3/credentials.h"
#include "s3/http.h"
#include "s3/sha256.h"

namespace vfs::s3 {

/* The hex SHA-256 of zero bytes: the payload hash of every bodiless request. */
inline constexpr std::string_view kEmptyPayloadHash =
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
inline constexpr std::string_view kUnsignedPayload = "UNSIGNED-PAYLOAD";

/*
 * Percent-encodes @s byte by byte as SigV4 (and S3) want it: the RFC 3986
 * unreserved characters A-Z a-z 0-9 - . _ ~ stay, every other byte becomes
 * %XX with upper-case hex; '/' stays unless @encodeSlash. Object keys go into
 * paths with encodeSlash = false, query names and values with true.
 */
std::string uriEncode(std::string_view s, bool encodeSlash);

/* Decodes %XX sequences (not '+'); a '%' not followed by two hex digits stays as is. */
std::string uriDecode(std::string_view s);

/*
 * Encodes raw (unencoded) query names and values, sorts them by encoded name
 * then value and joins them as "a=1&b=2". A parameter without a value is
 * written "name=", as S3 signs it. The result is ready for HttpRequest::query.
 */
std::string canonicalQuery(std::vector<std::pair<std::string, std::string>> params);

enum class PayloadHash {
	/* SHA-256 of HttpRequest::body, computed by the signer. */
	Compute,
	/* SigningOptions::payloadHash, given by a caller that already hashed the body. */
	Explicit,
	/* The literal UNSIGNED-PAYLOAD: S3 then does not check the body (HTTPS only). */
	Unsigned,
};

struct SigningOptions {
	std::string region;
	std::string service = "s3";
	/* Remove "." and ".." segments and empty segments from the path. S3 never does. */
	bool normalizePath = false;
	/*
	 * Encode HttpRequest::path once more for the canonical URI, as every AWS
	 * service but S3 does. S3 signs the path exactly as it is sent.
	 */
	bool doubleEncodePath = false;
	PayloadHash payload = PayloadHash::Compute;
	/* The hex hash (or a literal such as UNSIGNED-PAYLOAD) for PayloadHash::Explicit. */
	std::string payloadHash;
	/* Send and sign x-amz-content-sha256 (header form only). S3 requires it. */
	bool contentSha256Header = true;
	/*
	 * Sign the session token. A few services want it added after signing
	 * instead; S3 signs it.
	 */
	bool signSessionToken = true;
	/* The signing time, used unless amzDate is set. */
	std::chrono::system_clock::time_point time = std::chrono::system_clock::now();
	/* An explicit signing time as YYYYMMDD'T'HHMMSS'Z', for deterministic tests. */
	std::string amzDate;
	/* How long a presigned request stays valid: 1 s to 7 days. */
	std::chrono::seconds expires{ 3600 };

	/* S3 header signing: real payload hash, x-amz-content-sha256, path as sent. */
	static SigningOptions s3(std::string region);
	/* S3 presigned URLs: UNSIGNED-PAYLOAD, as S3 documents query authentication. */
	static SigningOptions s3Presigned(std::string region, std::chrono::seconds expires);
	/* Any other AWS service: normalized, double-encoded path, no payload header. */
	static SigningOptions generic(std::string region, std::string service);
};

/* What the signer computed, so callers and tests can see every step. */
struct SigningResult {
	std::string amzDate;
	/* "20130524/us-east-1/s3/aws4_request" */
	std::string scope;
	std::string canonicalRequest;
	std::string stringToSign;
	std::string signedHeaders;
	std::string payloadHash;
	/* 64 lower-case hex digits. */
	std::string signature;
	/* The Authorization header value (header form only). */
	std::string authorization;
};

/*
 * Signs @request in place with the Authorization header: sets x-amz-date,
 * x-amz-security-token (if the credentials have one) and, if the options ask
 * for it, x-amz-content-sha256, replacing any left from an earlier signing so
 * a retried request can simply be signed again. Every header of the request
 * is signed (but for a few that proxies and the transport may change, such
 * as User-Agent and Expect), and always host: the Host header if the request
 * has one, else HttpRequest::host.
 *
 * Fails with EINVAL for anonymous or half-empty credentials, a missing region
 * or service, a malformed amzDate, an empty explicit payload hash, or
 * UNSIGNED-PAYLOAD over plain HTTP (where nothing would protect the body).
 */
Result<SigningResult> signRequest(HttpRequest &request, const Credentials &credentials,
				  const SigningOptions &options);

/*
 * Signs @request in the query form (a presigned URL): appends X-Amz-Algorithm,
 * X-Amz-Credential, X-Amz-Date, X-Amz-Expires, X-Amz-SignedHeaders,
 * X-Amz-Security-Token and X-Amz-Signature to HttpRequest::query (rewritten in
 * canonical order) and adds no header; request.url() is then the URL to hand
 * out. Headers on the request are signed and must be sent by whoever uses the
 * URL. Fails as signRequest() does, and for an expiry outside 1 s..7 days.
 */
Result<SigningResult> presignRequest(HttpRequest &request, const Credentials &credentials,
				     const SigningOptions &options);

/*
 * kSigning = HMAC chain over "AWS4" + secret, @date (YYYYMMDD), @region,
 * @service and "aws4_request". It only changes daily, so it may be cached
 * per (credentials, date, region, service).
 */
Sha256Digest deriveSigningKey(std::string_view secretAccessKey, std::string_view date,
			      std::string_view region, std::string_view service);

/* @time as YYYYMMDD'T'HHMMSS'Z' in UTC. */
std::string formatAmzDate(std::chrono::system_clock::time_point time);

} /* namespace vfs::s3 */
