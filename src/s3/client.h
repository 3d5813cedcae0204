// The S3 operations the filesystem needs, signed, retried and parsed: one method per operation.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "s3/credential_chain.h"
#include "s3/endpoint.h"
#include "s3/errors.h"
#include "s3/retry.h"
#include "s3/transport.h"
#include "s3/xml.h"

namespace vfs::s3 {

/* Every operation returns its value or the typed S3 error (see errors.h). */
template<typename T>
using S3Result = BasicResult<T, S3Error>;

/* x-amz-meta-* user metadata, names without the prefix, lower case. */
using Metadata = std::map<std::string, std::string>;

struct ObjectInfo {
	std::string key;
	std::uint64_t size = 0;
	std::string etag; /* quoted, as S3 sends it */
	std::chrono::system_clock::time_point lastModified;
	std::string contentType;
	Metadata metadata;
};

struct ByteRange {
	std::uint64_t offset = 0;
	std::uint64_t length = 0;
};

struct ListRequest {
	std::string prefix;
	std::string delimiter;
	std::string continuationToken;
	std::string startAfter;
	unsigned maxKeys = 1000;
};

struct GetResult {
	std::size_t bytes = 0;
	std::string etag;
	std::uint64_t objectSize = 0; /* from Content-Range, or Content-Length for a whole object */
};

struct PutOptions {
	Metadata metadata;
	std::string contentType;
	/* Only with a matching ETag (If-Match), e.g. to not clobber a concurrent writer. */
	std::string ifMatch;
};

enum class MetadataDirective { Copy, Replace };

struct ClientOptions {
	/* Send UNSIGNED-PAYLOAD instead of the body's SHA-256 (HTTPS only; Content-MD5 still guards it). */
	bool unsignedPayload = false;
	RetryConfig retry;
	/* Tests replace the real sleep between retries... */
	RetryPolicy::SleepFunction sleep;
	/* ...and the clock requests are signed with. */
	std::function<std::chrono::system_clock::time_point()> clock;
};

struct ClientMetrics {
	std::uint64_t requests = 0;      /* operations started */
	std::uint64_t attempts = 0;      /* HTTP requests sent, retries included */
	std::uint64_t retries = 0;
	std::uint64_t errors = 0;        /* operations that failed */
	std::uint64_t bytesUploaded = 0;
	std::uint64_t bytesDownloaded = 0;
};

/*
 * A client for one bucket. Thread-safe: any number of threads may run
 * operations at once (the transport bounds how many are on the wire). Bodies
 * are borrowed: uploads are sent from the caller's memory and downloads land
 * in the caller's buffer, never copied.
 */
class S3Client
{
public:
	S3Client(Endpoint endpoint, CredentialChain &credentials, HttpTransport &transport,
		 ClientOptions options = {});

	const Endpoint &endpoint() const { return endpoint_; }

	S3Result<void> headBucket();
	S3Result<ListObjectsV2Result> listObjects(const ListRequest &request);
	S3Result<ObjectInfo> headObject(const std::string &key);
	/* Reads @range (the whole object if length is 0) into @into, which must be large enough. */
	S3Result<GetResult> getObject(const std::string &key, std::optional<ByteRange> range,
				      std::span<std::byte> into, const std::string &ifMatch = {});
	/* Returns the new ETag. */
	S3Result<std::string> putObject(const std::string &key, std::span<const std::byte> body,
					const PutOptions &options = {});
	S3Result<std::string> copyObject(const std::string &sourceKey, const std::string &key,
					 MetadataDirective directive, const PutOptions &options = {});
	S3Result<void> deleteObject(const std::string &key);
	/* At most 1000 keys a call (S3's limit); returns the per-key outcome. */
	S3Result<DeleteResult> deleteObjects(const std::vector<std::string> &keys);

	S3Result<std::string> createMultipartUpload(const std::string &key, const PutOptions &options = {});
	/* Returns the part's ETag. Retries re-send exactly @body. */
	S3Result<std::string> uploadPart(const std::string &key, const std::string &uploadId, unsigned partNumber,
					 std::span<const std::byte> body);
	/* Copies @range of @sourceKey (if its ETag is still @sourceEtag, when given) as a part. */
	S3Result<std::string> uploadPartCopy(const std::string &key, const std::string &uploadId,
					     unsigned partNumber, const std::string &sourceKey, ByteRange range,
					     const std::string &sourceEtag = {});
	/* Returns the object's ETag (asked with HEAD when the server answers an empty one). */
	S3Result<std::string> completeMultipartUpload(const std::string &key, const std::string &uploadId,
						      const std::vector<CompletedPart> &parts);
	S3Result<void> abortMultipartUpload(const std::string &key, const std::string &uploadId);
	S3Result<ListMultipartUploadsResult> listMultipartUploads(const std::string &prefix,
								   const std::string &keyMarker = {},
								   const std::string &uploadIdMarker = {});

	ClientMetrics metrics() const;

private:
	/* Whether a 200 answer may carry an <Error> (CompleteMultipartUpload, copies). */
	enum class Embedded { No, Maybe };
	/*
	 * How the server checks a body. S3 verifies a signed payload hash itself,
	 * so every body is checked end to end; on top of that:
	 *  - Signed: Content-MD5 only where the payload is unsigned (HTTPS option);
	 *  - ContentMd5: always Content-MD5 (DeleteObjects, where S3 demands it);
	 *  - Sha256Checksum: x-amz-checksum-sha256, stored with the object (PutObject),
	 *    from the digest the signature needs anyway.
	 */
	enum class BodyCheck { Signed, ContentMd5, Sha256Checksum };

	/* Signs, sends and retries @request; any final non-2xx answer becomes the S3Error. */
	S3Result<HttpResponse> send(HttpRequest request, const TransferOptions &transfer,
				    Embedded embedded = Embedded::No, BodyCheck check = BodyCheck::Signed);
	void applyPutOptions(HttpRequest &request, const PutOptions &options) const;
	std::string copySource(const std::string &key) const;

	Endpoint endpoint_;
	CredentialChain &credentials_;
	HttpTransport &transport_;
	const ClientOptions options_;
	RetryPolicy retry_;

	std::atomic<std::uint64_t> requests_{ 0 };
	std::atomic<std::uint64_t> attempts_{ 0 };
	std::atomic<std::uint64_t> errors_{ 0 };
	std::atomic<std::uint64_t> bytesUploaded_{ 0 };
	std::atomic<std::uint64_t> bytesDownloaded_{ 0 };
};

/* Metadata from a HEAD/GET response's x-amz-meta-* headers. */
Metadata metadataFromHeaders(const std::vector<HttpHeader> &headers);

} /* namespace vfs::s3 */
