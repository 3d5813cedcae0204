// S3 XML: hardened parsing of response bodies, and request bodies built with proper escaping.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "s3/errors.h"

namespace vfs::s3 {

using Timestamp = std::chrono::system_clock::time_point;

/*
 * The largest response body we parse. The biggest S3 answer we ask for is a
 * 1000-entry listing page: a key is at most 1024 bytes, which XML escaping
 * (&amp; is 5 bytes) or URL encoding (%XX is 3) can grow to ~5 KiB, plus
 * ~400 bytes of ETag, dates, size, owner and class per entry: under 6 MiB
 * even for pathological keys. 16 MiB leaves room for server extensions while
 * bounding what a hostile or broken server can make us hold (libxml2's tree
 * costs several times the text).
 */
inline constexpr std::size_t kMaxXmlBytes = std::size_t(16) << 20;

/* S3 limits the request builders enforce. */
inline constexpr std::size_t kMaxDeleteKeys = 1000;
inline constexpr int kMaxPartNumber = 10000;

/* The namespace S3 puts on its documents; parsers match local names only. */
inline constexpr std::string_view kS3Namespace = "http://s3.amazonaws.com/doc/2006-03-01/";

/*
 * Parsing contract for every parseXxx() below:
 *  - the body is parsed from memory, never touching the network or the file
 *    system; a document with a DOCTYPE is refused (S3 never sends one), so
 *    entities cannot expand and external entities cannot be fetched;
 *  - libxml2 prints nothing: errors come back in the Error message;
 *  - errno: EMSGSIZE for a body over @maxBytes, EBADMSG for a body that is
 *    not well-formed XML (empty, truncated, invalid UTF-8, DOCTYPE, too deep),
 *    EPROTO for well-formed XML that is not the expected S3 document (wrong
 *    root, required element missing, bad number or date);
 *  - a document whose root is <Error> (S3 can embed one in a 200 answer)
 *    fails with toErrno() of that error and its toString() in the message;
 *  - elements are matched by local name, with or without the S3 namespace;
 *  - ETags are returned normalised (normalizeEtag).
 */

struct ListedObject {
	std::string key;
	Timestamp lastModified;
	std::string etag; /* normalised; empty when the server sent none */
	std::uint64_t size = 0;
	std::string storageClass;
};

/* A ListObjectsV2 page (<ListBucketResult>). */
struct ListObjectsV2Result {
	std::string bucket; /* <Name> */
	std::string prefix;
	std::string delimiter;
	std::string startAfter;
	std::string continuationToken;
	/* Set whenever isTruncated (the parser refuses a truncated page without it). */
	std::string nextContinuationToken;
	bool isTruncated = false;
	/* <KeyCount>, or contents + commonPrefixes when the server omits it. */
	std::uint64_t keyCount = 0;
	std::uint64_t maxKeys = 0;
	/*
	 * The server said <EncodingType>url</EncodingType>: keys, prefixes,
	 * delimiter and start-after were URL-encoded and are decoded here.
	 */
	bool urlEncoded = false;
	std::vector<ListedObject> contents;
	std::vector<std::string> commonPrefixes;
};

struct MultipartUploadEntry {
	std::string key;
	std::string uploadId;
	std::optional<Timestamp> initiated;
	std::string storageClass;
};

/* A ListMultipartUploads page (<ListMultipartUploadsResult>). */
struct ListMultipartUploadsResult {
	std::string bucket;
	std::string prefix;
	std::string delimiter;
	std::string keyMarker;
	std::string uploadIdMarker;
	/* Set whenever isTruncated (the parser refuses a truncated page without it). */
	std::string nextKeyMarker;
	std::string nextUploadIdMarker;
	bool isTruncated = false;
	std::uint64_t maxUploads = 0;
	bool urlEncoded = false; /* as in ListObjectsV2Result */
	std::vector<MultipartUploadEntry> uploads;
	std::vector<std::string> commonPrefixes;
};

struct InitiateMultipartUploadResult {
	std::string bucket;
	std::string key;
	std::string uploadId; /* never empty */
};

struct CompleteMultipartUploadResult {
	std::string location;
	std::string bucket;
	std::string key;
	/* Normalised; EMPTY on Ceph RGW 16.2, which omits it: HEAD the object for it. */
	std::string etag;
};

/* <CopyObjectResult> and <CopyPartResult>. */
struct CopyResult {
	std::string etag; /* normalised; never empty for a part copy */
	std::optional<Timestamp> lastModified;
};

struct DeleteFailure {
	std::string key;
	std::string versionId;
	std::string code;
	std::string message;

	/* As an S3Error (status 0: the batch itself succeeded), for retryable() and toErrno(). */
	S3Error error() const;
};

/* <DeleteResult>: what a DeleteObjects batch did, key by key. */
struct DeleteResult {
	std::vector<std::string> deleted;
	std::vector<DeleteFailure> errors;
};

Result<ListObjectsV2Result> parseListObjectsV2(std::string_view body,
					       std::size_t maxBytes = kMaxXmlBytes);
Result<ListMultipartUploadsResult> parseListMultipartUploads(std::string_view body,
							     std::size_t maxBytes = kMaxXmlBytes);
Result<InitiateMultipartUploadResult> parseInitiateMultipartUpload(std::string_view body,
								   std::size_t maxBytes = kMaxXmlBytes);
Result<CompleteMultipartUploadResult> parseCompleteMultipartUpload(std::string_view body,
								   std::size_t maxBytes = kMaxXmlBytes);
Result<CopyResult> parseCopyObjectResult(std::string_view body, std::size_t maxBytes = kMaxXmlBytes);
Result<CopyResult> parseCopyPartResult(std::string_view body, std::size_t maxBytes = kMaxXmlBytes);
Result<DeleteResult> parseDeleteResult(std::string_view body, std::size_t maxBytes = kMaxXmlBytes);

/*
 * An S3 <Error> document, with @httpStatus recorded in it. Fails (as above)
 * when @body is not one; S3Error::fromResponse() never fails and is what
 * callers usually want.
 */
Result<S3Error> parseErrorDocument(std::string_view body, int httpStatus,
				   std::size_t maxBytes = kMaxXmlBytes);

/*
 * The error hidden in a 200 answer: CompleteMultipartUpload, CopyObject and
 * UploadPartCopy can fail after S3 has sent "200 OK", and then the body's
 * root is <Error>. Returns it (httpStatus 200) or nullopt when the body is
 * anything else, including unparsable (the result parser will say why).
 */
std::optional<S3Error> embeddedError(std::string_view body, std::size_t maxBytes = kMaxXmlBytes);

/*
 * The one ETag form vfs uses: surrounded by double quotes, as S3 sends it in
 * headers and most XML. RGW's UploadPartCopy sends it bare; both come out
 * as "\"abc\"". Surrounding blanks go; an empty or "" ETag stays "" (unknown).
 */
std::string normalizeEtag(std::string_view etag);

/* An ISO 8601 time as S3 writes it: "2009-10-12T17:50:30.000Z" (offsets accepted). */
std::optional<Timestamp> parseIso8601(std::string_view text);

/*
 * Whether @text can travel in an XML 1.0 body at all: valid UTF-8 without
 * control characters other than tab, LF and CR. Keys that cannot must be
 * deleted one by one with DeleteObject, not in a DeleteObjects batch.
 */
bool xmlRepresentable(std::string_view text);

struct CompletedPart {
	int partNumber = 0;
	std::string etag; /* either form; sent normalised */
};

/*
 * The CompleteMultipartUpload body. EINVAL for no parts, part numbers outside
 * 1..10000 or not strictly ascending (S3 requires ascending), or an empty ETag.
 */
Result<std::string> buildCompleteMultipartUpload(std::span<const CompletedPart> parts);

/*
 * The DeleteObjects body. EINVAL for no keys, more than kMaxDeleteKeys, an
 * empty key, or a key that !xmlRepresentable(). With @quiet, S3 reports only
 * the failures.
 */
Result<std::string> buildDeleteObjects(std::span<const std::string> keys, bool quiet);

} /* namespace vfs::s3 */
