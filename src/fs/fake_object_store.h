// FakeObjectStore: an in-memory bucket with S3's semantics, fault injection and byte counters, for tests.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fs/object_store.h"

namespace vfs::fs {

/*
 * A thread-safe bucket in memory that behaves like S3 where the filesystem
 * can tell the difference:
 *  - listing in byte order, with delimiter, common prefixes, opaque
 *    continuation tokens and a page size (the smaller of setPageSize() and
 *    the request's maxKeys);
 *  - ETags: quoted MD5 hex for PUT and CopyObject, "md5-of-part-md5s-N" for
 *    a multipart object, as S3 computes them;
 *  - user metadata with lower-case names, at most kMaxMetadataBytes;
 *  - If-Match on get/put (ESTALE, ENOENT on put of a missing key), source
 *    ETag on UploadPartCopy (ESTALE), a range past the end (ESTALE);
 *  - multipart: part numbers 1..10000, every part but the last at least
 *    setMinPartSize() (5 MiB, EINVAL like EntityTooSmall), parts in
 *    ascending order with matching ETags (EINVAL like InvalidPart), unknown
 *    upload ids (ESTALE like NoSuchUpload);
 *  - keys of 1..1024 bytes (EINVAL, ENAMETOOLONG), copies to self only with
 *    MetadataMode::Replace (EINVAL), Last-Modified in whole seconds.
 * Tests can switch UploadPartCopy off (EOPNOTSUPP, as on s3rver), inject
 * failures, and read per-operation counters of calls and bytes. Not
 * modelled: versioning, per-key failures in removeMany(), request retries.
 */
class FakeObjectStore : public ObjectStore
{
public:
	enum class Op {
		CheckBucket,
		List,
		Head,
		Get,
		Put,
		Copy,
		Remove,
		RemoveMany,
		CreateUpload,
		UploadPart,
		UploadPartCopy,
		CompleteUpload,
		AbortUpload,
		ListUploads,
	};
	static constexpr std::size_t kOpCount = static_cast<std::size_t>(Op::ListUploads) + 1;

	struct OpStats {
		std::uint64_t calls = 0;    /* failed ones included */
		std::uint64_t failures = 0; /* injected or not */
		/* Bytes of request bodies stored: put(), uploadPart(). */
		std::uint64_t bytesUploaded = 0;
		/* Bytes copied server-side: copy(), uploadPartCopy(). */
		std::uint64_t bytesCopied = 0;
		/* Bytes returned by get(). */
		std::uint64_t bytesDownloaded = 0;
	};

	struct Stats {
		std::array<OpStats, kOpCount> ops{};

		const OpStats &operator[](Op op) const { return ops[static_cast<std::size_t>(op)]; }
		OpStats &operator[](Op op) { return ops[static_cast<std::size_t>(op)]; }
		std::uint64_t bytesUploaded() const;
		std::uint64_t bytesCopied() const;
		std::uint64_t bytesDownloaded() const;
		/* The most get() calls that were running at once. */
		unsigned maxConcurrentGets = 0;
	};

	/* Returns 0 to let a call through, or the errno it fails with. */
	using FaultHook = std::function<int(Op op, const std::string &key)>;
	using Clock = std::function<Timestamp()>;

	FakeObjectStore();
	~FakeObjectStore() override;

	/* Configuration; each takes effect for the calls that follow. */
	void setPageSize(unsigned keys);
	void setMinPartSize(std::uint64_t bytes);
	void setUploadPartCopySupported(bool supported);
	/* The next @count calls of @op fail with @errnum, doing nothing. */
	void failNext(Op op, int errnum, unsigned count = 1);
	/*
	 * Asked before every call (after failNext() entries are used up), with
	 * the call's key ("" or the prefix where there is none). Runs without
	 * the store's lock, so it may call into the store.
	 */
	void setFaultHook(FaultHook hook);
	/* Every get() that returns bytes takes at least this long (so that GETs overlap in tests). */
	void setGetDelay(std::chrono::milliseconds delay);
	/* Last-Modified of new objects; rounded down to whole seconds. Default: the system clock. */
	void setClock(Clock clock);

	/* Inspection, not counted in the statistics. */
	Stats stats() const;
	void resetStats();
	std::optional<std::vector<std::byte>> contents(const std::string &key) const;
	std::optional<ObjectHead> object(const std::string &key) const;
	std::vector<std::string> keys() const;
	std::size_t uploadsInProgress() const;

	Result<void> checkBucket() override;
	Result<ListPage> list(const ListRequest &request) override;
	Result<ObjectHead> head(const std::string &key) override;
	Result<GetResult> get(const std::string &key, std::uint64_t offset, std::span<std::byte> into,
			      const std::string &ifMatch) override;
	Result<std::string> put(const std::string &key, std::span<const std::byte> body,
				const PutOptions &options) override;
	Result<std::string> copy(const std::string &sourceKey, const std::string &key, MetadataMode mode,
				 const PutOptions &options) override;
	Result<void> remove(const std::string &key) override;
	Result<std::vector<KeyError>> removeMany(const std::vector<std::string> &keys) override;
	Result<std::string> createUpload(const std::string &key, const PutOptions &options) override;
	Result<std::string> uploadPart(const std::string &key, const std::string &uploadId, unsigned partNumber,
				       std::span<const std::byte> body) override;
	Result<std::string> uploadPartCopy(const std::string &key, const std::string &uploadId,
					   unsigned partNumber, const std::string &sourceKey, std::uint64_t offset,
					   std::uint64_t length, const std::string &sourceEtag) override;
	Result<std::string> completeUpload(const std::string &key, const std::string &uploadId,
					   const std::vector<UploadedPart> &parts) override;
	Result<void> abortUpload(const std::string &key, const std::string &uploadId) override;
	Result<std::vector<PendingUpload>> listUploads(const std::string &prefix) override;

private:
	using Bytes = std::vector<std::byte>;

	struct Object {
		std::shared_ptr<const Bytes> data;
		std::string etag;
		Timestamp lastModified;
		std::string contentType;
		Metadata metadata;
	};

	/* A part refers to a slice of immutable bytes: a copied part costs no copy. */
	struct Part {
		std::shared_ptr<const Bytes> data;
		std::size_t offset = 0;
		std::size_t length = 0;
		std::string etag;
	};

	struct Upload {
		std::string key;
		PutOptions options;
		std::map<unsigned, Part> parts;
	};

	struct PendingFault {
		Op op;
		int errnum;
		unsigned remaining;
	};

	/* Counts the call and returns the injected error, if any. Takes mutex_ itself. */
	std::optional<Error> enter(Op op, const std::string &key);
	/* Counts a failure of @op. Needs mutex_. */
	Error fail(Op op, int errnum, std::string message);
	Timestamp now() const;

	mutable std::mutex mutex_;
	std::map<std::string, Object> objects_;   /* guarded by mutex_ */
	std::map<std::string, Upload> uploads_;   /* guarded by mutex_ */
	std::uint64_t nextUploadId_ = 1;          /* guarded by mutex_ */
	Stats stats_;                             /* guarded by mutex_ */
	std::deque<PendingFault> faults_;         /* guarded by mutex_ */
	FaultHook hook_;                          /* guarded by mutex_ */
	Clock clock_;                             /* guarded by mutex_ */
	unsigned pageSize_ = 1000;                /* guarded by mutex_ */
	std::uint64_t minPartSize_ = kMinPartSize; /* guarded by mutex_ */
	bool partCopySupported_ = true;           /* guarded by mutex_ */
	std::chrono::milliseconds getDelay_{ 0 }; /* guarded by mutex_ */
	unsigned getsRunning_ = 0;                /* guarded by mutex_ */
};

std::string_view toString(FakeObjectStore::Op op);

} /* namespace vfs::fs */
