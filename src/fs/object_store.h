// ObjectStore: the narrow seam between the filesystem and a bucket; errors arrive as errno.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"

namespace vfs::fs {

using Timestamp = std::chrono::system_clock::time_point;

/* x-amz-meta-* user metadata: names without the prefix, lower case. */
using Metadata = std::map<std::string, std::string>;

/* S3's limits that the filesystem plans around. */
inline constexpr std::size_t kMaxKeyBytes = 1024;
inline constexpr std::size_t kMaxMetadataBytes = 2048;
inline constexpr std::uint64_t kMinPartSize = std::uint64_t(5) << 20;
inline constexpr std::uint64_t kMaxPartSize = std::uint64_t(5) << 30;
inline constexpr std::uint64_t kMaxPutSize = std::uint64_t(5) << 30;
inline constexpr unsigned kMaxParts = 10000;
inline constexpr std::size_t kMaxDeleteBatch = 1000;

struct ListRequest {
	/* "" for the bucket root, else a directory prefix such as "a/b/". */
	std::string prefix;
	/* "/" lists one directory level; "" lists every key under the prefix. */
	std::string delimiter = "/";
	/* From the previous page's nextToken; empty for the first page. */
	std::string continuationToken;
	/* Start after this key (first page only). */
	std::string startAfter;
	unsigned maxKeys = 1000;
};

struct ListedObject {
	std::string key;
	std::uint64_t size = 0;
	std::string etag; /* quoted, as S3 sends it */
	Timestamp lastModified;
};

/* One page of a listing: keys and common prefixes, each in lexicographic (byte) order. */
struct ListPage {
	std::vector<ListedObject> objects;
	std::vector<std::string> commonPrefixes; /* full prefixes, ending in the delimiter */
	/* Non-empty while more pages follow: pass it as the next request's continuationToken. */
	std::string nextToken;
};

struct ObjectHead {
	std::uint64_t size = 0;
	std::string etag;
	Timestamp lastModified; /* from Last-Modified: whole seconds */
	std::string contentType;
	Metadata metadata;
};

struct GetResult {
	std::size_t bytes = 0;       /* bytes written into the caller's buffer */
	std::string etag;            /* of the object the bytes came from */
	std::uint64_t objectSize = 0;
};

struct PutOptions {
	Metadata metadata;
	std::string contentType;
	/*
	 * put() only: succeed only if the object's ETag is still this (ESTALE
	 * otherwise, ENOENT if it is gone). Ignored by copy() and createUpload().
	 */
	std::string ifMatch;
};

/* What copy() does with the user metadata: keep the source's or replace it with the options'. */
enum class MetadataMode { Keep, Replace };

struct KeyError {
	std::string key;
	int errnum = 0;
	std::string message;
};

struct UploadedPart {
	unsigned partNumber = 0;
	std::string etag;
};

struct PendingUpload {
	std::string key;
	std::string uploadId;
};

/*
 * The object operations the filesystem needs, one call per S3 request (a few
 * gather pages or batches, as documented). Implementations are thread-safe.
 * Every failure is a vfs::Error carrying an errno with one meaning
 * everywhere, so fs/ can act on it without knowing S3:
 *
 *  - ENOENT      the key (or the copy source) does not exist
 *  - ESTALE      what the caller knew is out of date: an If-Match/source
 *                ETag no longer matches, a range past the object's end, an
 *                upload id that is no longer valid
 *  - EOPNOTSUPP  the server does not implement the request
 *                (UploadPartCopy on s3rver: fall back to uploading bytes)
 *  - EINVAL      a request S3 refuses as malformed: a part under the 5 MiB
 *                minimum (EntityTooSmall), parts out of order, a bad range
 *  - EACCES, EAGAIN, ETIMEDOUT, ENAMETOOLONG, E2BIG, EFBIG, ENODEV, EIO:
 *                as mapped by s3::toErrno() (see s3/errors.cpp)
 */
class ObjectStore
{
public:
	virtual ~ObjectStore() = default;

	/* Whether the bucket is reachable with our credentials (HeadBucket). */
	virtual Result<void> checkBucket() = 0;

	/* One page of ListObjectsV2. */
	virtual Result<ListPage> list(const ListRequest &request) = 0;

	virtual Result<ObjectHead> head(const std::string &key) = 0;

	/*
	 * Reads up to into.size() bytes (which must not be 0) from @offset into
	 * @into: fewer at the end of the object. With @ifMatch non-empty, ESTALE
	 * if the object's ETag changed. An @offset at or past the end of a
	 * non-empty object is ESTALE: callers never read past the size they know.
	 */
	virtual Result<GetResult> get(const std::string &key, std::uint64_t offset, std::span<std::byte> into,
				      const std::string &ifMatch) = 0;

	/* Stores @body (sent from the caller's memory) as @key; returns the new ETag. */
	virtual Result<std::string> put(const std::string &key, std::span<const std::byte> body,
					const PutOptions &options) = 0;

	/*
	 * Server-side copy of a whole object (at most 5 GiB); returns the new
	 * ETag. Copying an object onto itself needs MetadataMode::Replace.
	 */
	virtual Result<std::string> copy(const std::string &sourceKey, const std::string &key, MetadataMode mode,
					 const PutOptions &options) = 0;

	/* Deleting a key that does not exist succeeds, as in S3. */
	virtual Result<void> remove(const std::string &key) = 0;

	/*
	 * Deletes any number of keys (batched by kMaxDeleteBatch); returns the
	 * keys that could not be deleted. An error means a whole batch failed.
	 */
	virtual Result<std::vector<KeyError>> removeMany(const std::vector<std::string> &keys) = 0;

	/* Starts a multipart upload whose object gets @options' metadata; returns its id. */
	virtual Result<std::string> createUpload(const std::string &key, const PutOptions &options) = 0;

	/* Uploads part @partNumber (1..10000) from the caller's memory; returns its ETag. */
	virtual Result<std::string> uploadPart(const std::string &key, const std::string &uploadId,
					       unsigned partNumber, std::span<const std::byte> body) = 0;

	/*
	 * Makes part @partNumber from @length bytes of @sourceKey at @offset,
	 * server-side, if the source's ETag is still @sourceEtag (when given).
	 * EOPNOTSUPP when the server lacks UploadPartCopy.
	 */
	virtual Result<std::string> uploadPartCopy(const std::string &key, const std::string &uploadId,
						   unsigned partNumber, const std::string &sourceKey,
						   std::uint64_t offset, std::uint64_t length,
						   const std::string &sourceEtag) = 0;

	/*
	 * Assembles the parts (ascending part numbers) into the object; returns
	 * its ETag. Every part but the last must be at least 5 MiB (EINVAL).
	 */
	virtual Result<std::string> completeUpload(const std::string &key, const std::string &uploadId,
						   const std::vector<UploadedPart> &parts) = 0;

	virtual Result<void> abortUpload(const std::string &key, const std::string &uploadId) = 0;

	/* Every multipart upload in progress under @prefix (all pages). */
	virtual Result<std::vector<PendingUpload>> listUploads(const std::string &prefix) = 0;
};

} /* namespace vfs::fs */
