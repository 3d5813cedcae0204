// S3ObjectStore: each seam call is the S3Client operation of the same name, errors as errno.
#include "fs/s3_object_store.h"

#include <algorithm>
#include <cerrno>
#include <utility>

#include "s3/client.h"

namespace vfs::fs {

namespace {

/* "HeadObject a/b": the operation and the key, safe for one log line. */
std::string what(std::string_view operation, const std::string &key)
{
	return std::string(operation) + " " + s3::logSafe(key);
}

s3::PutOptions toS3(const PutOptions &options, bool withIfMatch)
{
	s3::PutOptions o;
	o.metadata = options.metadata;
	o.contentType = options.contentType;
	if (withIfMatch)
		o.ifMatch = options.ifMatch;
	return o;
}

} /* namespace */

S3ObjectStore::S3ObjectStore(s3::S3Client &client)
	: client_(client)
{
}

Result<void> S3ObjectStore::checkBucket()
{
	auto r = client_.headBucket();
	if (!r)
		return s3::toError(r.error(), "HeadBucket " + s3::logSafe(client_.endpoint().bucket()));
	return {};
}

Result<ListPage> S3ObjectStore::list(const ListRequest &request)
{
	s3::ListRequest l;
	l.prefix = request.prefix;
	l.delimiter = request.delimiter;
	l.continuationToken = request.continuationToken;
	l.startAfter = request.startAfter;
	l.maxKeys = request.maxKeys;
	auto r = client_.listObjects(l);
	if (!r)
		return s3::toError(r.error(), what("ListObjectsV2", request.prefix));

	ListPage page;
	page.objects.reserve(r->contents.size());
	for (s3::ListedObject &o : r->contents)
		page.objects.push_back({ std::move(o.key), o.size, std::move(o.etag), o.lastModified });
	page.commonPrefixes = std::move(r->commonPrefixes);
	if (r->isTruncated)
		page.nextToken = std::move(r->nextContinuationToken);
	return page;
}

Result<ObjectHead> S3ObjectStore::head(const std::string &key)
{
	auto r = client_.headObject(key);
	if (!r)
		return s3::toError(r.error(), what("HeadObject", key));
	ObjectHead h;
	h.size = r->size;
	h.etag = std::move(r->etag);
	h.lastModified = r->lastModified;
	h.contentType = std::move(r->contentType);
	h.metadata = std::move(r->metadata);
	return h;
}

Result<GetResult> S3ObjectStore::get(const std::string &key, std::uint64_t offset, std::span<std::byte> into,
				     const std::string &ifMatch)
{
	if (into.empty())
		return Error(EINVAL, what("GetObject", key) + ": empty buffer");
	auto r = client_.getObject(key, s3::ByteRange{ offset, into.size() }, into, ifMatch);
	if (!r)
		return s3::toError(r.error(), what("GetObject", key));
	return GetResult{ r->bytes, std::move(r->etag), r->objectSize };
}

Result<std::string> S3ObjectStore::put(const std::string &key, std::span<const std::byte> body,
				       const PutOptions &options)
{
	auto r = client_.putObject(key, body, toS3(options, true));
	if (!r)
		return s3::toError(r.error(), what("PutObject", key));
	return std::move(*r);
}

Result<std::string> S3ObjectStore::copy(const std::string &sourceKey, const std::string &key, MetadataMode mode,
					const PutOptions &options)
{
	auto directive = mode == MetadataMode::Keep ? s3::MetadataDirective::Copy : s3::MetadataDirective::Replace;
	auto r = client_.copyObject(sourceKey, key, directive, toS3(options, false));
	if (!r)
		return s3::toError(r.error(), what("CopyObject", sourceKey) + " to " + s3::logSafe(key));
	return std::move(*r);
}

Result<void> S3ObjectStore::remove(const std::string &key)
{
	auto r = client_.deleteObject(key);
	if (!r)
		return s3::toError(r.error(), what("DeleteObject", key));
	return {};
}

Result<std::vector<KeyError>> S3ObjectStore::removeMany(const std::vector<std::string> &keys)
{
	std::vector<KeyError> failed;
	std::vector<std::string> batch;
	batch.reserve(std::min(keys.size(), kMaxDeleteBatch));

	auto flush = [&]() -> Result<void> {
		if (batch.empty())
			return {};
		auto r = client_.deleteObjects(batch);
		if (!r)
			return s3::toError(r.error(), "DeleteObjects (" + std::to_string(batch.size()) + " keys)");
		for (const s3::DeleteFailure &f : r->errors) {
			s3::S3Error e = f.error();
			failed.push_back({ f.key, s3::toErrno(e), e.toString() });
		}
		batch.clear();
		return {};
	};

	for (const std::string &key : keys) {
		/* A key XML cannot carry cannot be in a DeleteObjects body: delete it alone. */
		if (!s3::xmlRepresentable(key)) {
			auto r = client_.deleteObject(key);
			if (!r)
				failed.push_back({ key, s3::toErrno(r.error()), r.error().toString() });
			continue;
		}
		batch.push_back(key);
		if (batch.size() == kMaxDeleteBatch)
			if (auto r = flush(); !r)
				return r.error();
	}
	if (auto r = flush(); !r)
		return r.error();
	return failed;
}

Result<std::string> S3ObjectStore::createUpload(const std::string &key, const PutOptions &options)
{
	auto r = client_.createMultipartUpload(key, toS3(options, false));
	if (!r)
		return s3::toError(r.error(), what("CreateMultipartUpload", key));
	return std::move(*r);
}

Result<std::string> S3ObjectStore::uploadPart(const std::string &key, const std::string &uploadId,
					      unsigned partNumber, std::span<const std::byte> body)
{
	auto r = client_.uploadPart(key, uploadId, partNumber, body);
	if (!r)
		return s3::toError(r.error(), what("UploadPart", key) + " part " + std::to_string(partNumber));
	return std::move(*r);
}

Result<std::string> S3ObjectStore::uploadPartCopy(const std::string &key, const std::string &uploadId,
						  unsigned partNumber, const std::string &sourceKey,
						  std::uint64_t offset, std::uint64_t length,
						  const std::string &sourceEtag)
{
	if (length == 0)
		return Error(EINVAL, what("UploadPartCopy", key) + ": empty range");
	auto r = client_.uploadPartCopy(key, uploadId, partNumber, sourceKey, s3::ByteRange{ offset, length },
					sourceEtag);
	if (!r)
		return s3::toError(r.error(), what("UploadPartCopy", key) + " part " + std::to_string(partNumber));
	return std::move(*r);
}

Result<std::string> S3ObjectStore::completeUpload(const std::string &key, const std::string &uploadId,
						  const std::vector<UploadedPart> &parts)
{
	std::vector<s3::CompletedPart> completed;
	completed.reserve(parts.size());
	for (const UploadedPart &p : parts)
		completed.push_back({ static_cast<int>(p.partNumber), p.etag });
	auto r = client_.completeMultipartUpload(key, uploadId, completed);
	if (!r)
		return s3::toError(r.error(), what("CompleteMultipartUpload", key));
	return std::move(*r);
}

Result<void> S3ObjectStore::abortUpload(const std::string &key, const std::string &uploadId)
{
	auto r = client_.abortMultipartUpload(key, uploadId);
	if (!r)
		return s3::toError(r.error(), what("AbortMultipartUpload", key));
	return {};
}

Result<std::vector<PendingUpload>> S3ObjectStore::listUploads(const std::string &prefix)
{
	std::vector<PendingUpload> uploads;
	std::string keyMarker;
	std::string uploadIdMarker;
	for (;;) {
		auto r = client_.listMultipartUploads(prefix, keyMarker, uploadIdMarker);
		if (!r)
			return s3::toError(r.error(), what("ListMultipartUploads", prefix));
		for (s3::MultipartUploadEntry &u : r->uploads)
			uploads.push_back({ std::move(u.key), std::move(u.uploadId) });
		if (!r->isTruncated)
			return uploads;
		/* A server whose markers do not advance would have us loop forever. */
		if (r->nextKeyMarker == keyMarker && r->nextUploadIdMarker == uploadIdMarker)
			return Error(EIO, what("ListMultipartUploads", prefix) + ": the listing does not advance");
		keyMarker = std::move(r->nextKeyMarker);
		uploadIdMarker = std::move(r->nextUploadIdMarker);
	}
}

} /* namespace vfs::fs */
