// FileData: an open regular file's bytes: writes into the pool, merged reads, and the flush planner.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <deque>
#include <functional>
#include <list>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/result.h"
#include "common/rw_lock.h"
#include "fs/object_store.h"
#include "pool/block_pool.h"

namespace vfs::fs {

/* A set of byte ranges [start, end); adjacent and overlapping ranges merge. */
class RangeSet
{
public:
	void add(std::uint64_t start, std::uint64_t end);
	/* Drops every byte at or past @limit. */
	void clip(std::uint64_t limit);
	/* Drops the bytes of [start, end). */
	void remove(std::uint64_t start, std::uint64_t end);
	/* Whether every byte of [start, end) is in the set. */
	bool covers(std::uint64_t start, std::uint64_t end) const;
	/* The parts of the set inside [start, end), in order. */
	std::vector<std::pair<std::uint64_t, std::uint64_t>> overlapping(std::uint64_t start,
									std::uint64_t end) const;
	bool empty() const { return ranges_.empty(); }
	std::size_t count() const { return ranges_.size(); }

private:
	std::map<std::uint64_t, std::uint64_t> ranges_; /* start -> end, disjoint, not adjacent */
};

/* What the server can do, learnt once for every file of a store. */
struct StoreCapabilities {
	/* Cleared the first time UploadPartCopy answers EOPNOTSUPP (s3rver). */
	std::atomic<bool> uploadPartCopy{ true };
};

/* The object a file's contents are based on: what S3 held when we last looked or flushed. */
struct BaseObject {
	std::uint64_t size = 0;
	std::string etag;
};

struct FileDataConfig {
	/* Part of the clean blocks' content identity. */
	std::string bucket;
	/* Aligned ranged GETs of the read path, cached as clean blocks. */
	std::uint64_t blockSize = std::uint64_t(4) << 20;
	/* Multipart part size; smaller files are one PUT. Raised to minPartSize and to fit kMaxParts. */
	std::uint64_t partSize = std::uint64_t(8) << 20;
	/* S3's minimum part; only tests against a fake store lower it. */
	std::uint64_t minPartSize = kMinPartSize;
	/* Parts in flight at once. */
	unsigned uploadThreads = 4;
	/* Readahead window ceiling on sequential reads; 0 turns readahead off. */
	std::uint64_t readaheadMax = std::uint64_t(64) << 20;
	/* Readahead GETs in flight at once, per file. */
	unsigned readThreads = 4;
	/*
	 * Upload each whole part of a new (or emptied) file in the background
	 * as soon as writes complete it, instead of all of them at close.
	 */
	bool streamUploads = true;
	/*
	 * A file starts streaming once it is this large, or once unsaved data
	 * fills half of the pool: smaller files are sent at close in one go and
	 * their writers do not share the CPU with uploads.
	 */
	std::uint64_t streamAfter = std::uint64_t(128) << 20;
	/* Shared by the files of one store; FileData makes its own if null. */
	std::shared_ptr<StoreCapabilities> capabilities;
};

/* What one flush did. Request counts include failed attempts that were then handled (a copy fallback). */
struct FlushStats {
	unsigned puts = 0;
	unsigned createUploads = 0;
	unsigned uploadParts = 0;
	unsigned uploadPartCopies = 0;
	unsigned completeUploads = 0;
	unsigned gets = 0;
	/* Parts whose UploadPartCopy was refused and were uploaded as bytes instead. */
	unsigned copyFallbacks = 0;
	/* CopyObject onto itself: metadata rewritten after a streaming upload. */
	unsigned metadataCopies = 0;
	/* Every body byte sent by PUT and UploadPart. */
	std::uint64_t bytesUploaded = 0;
	/* Of those, bytes sent straight from pool memory (no assembling copy). */
	std::uint64_t bytesFromMemory = 0;
	/* Bytes made server-side by UploadPartCopy. */
	std::uint64_t bytesCopied = 0;
	/* Base bytes fetched by GET to assemble a PUT or a part. */
	std::uint64_t bytesFetched = 0;
	/* False when there was nothing to flush (no request at all). */
	bool uploaded = false;
};

/*
 * The data of one open regular file (one per inode). Dirty bytes live only
 * in the pool, one dirty block per (inode, chunk); FileData keeps which
 * bytes of each chunk are valid. A byte at position p < size() is:
 *  - in a valid range of its chunk: the dirty block's byte;
 *  - else below baseLimit (the base object's size, lowered by a truncate
 *    since the last flush): the base object's byte, fetched by ranged GET
 *    with If-Match (ESTALE if the object changed) in aligned blocks cached
 *    as clean pool blocks;
 *  - else zero (a hole).
 *
 * Readahead: a read that starts where the previous one ended is
 * sequential; each block boundary it crosses doubles a window (from one
 * block up to readaheadMax, and at most half the memory not held by dirty
 * data), and the blocks inside the window are fetched ahead by up to
 * readThreads worker threads into the clean cache. Any other read resets
 * the window and drops the queued blocks. A block wanted by a reader while
 * it is being fetched is waited for, never fetched twice.
 *
 * A base object replaced by another client (ESTALE from If-Match): a file
 * without unsaved data takes the new object as its base (HEAD) and retries
 * the read once; one with unsaved data keeps failing with ESTALE.
 *
 * Streaming upload: while a file has no base bytes (new, or truncated to
 * 0), every part (partSize, aligned) that writes make whole is sent in
 * the background, from a copy, by up to uploadThreads threads, into one
 * multipart upload that startStream() opens (with the metadata known
 * then). A part written again after it was sent is sent again. flush()
 * sends only the parts still missing and completes the upload, then
 * rewrites the metadata server-side if it changed meanwhile (mtime does).
 * Under memory pressure releaseUploaded() gives back the memory of the
 * sent parts at the start of the file ("parked": held only by the open
 * upload). Touching a parked byte (read, write, truncate below it) first
 * completes the upload with the parked parts: S3 then holds the file's
 * beginning as an object that becomes the base.
 *
 * Thread-safe: reads and writes run in parallel (writes to one chunk are
 * serialised by its block's lock); truncate() and flush() run alone.
 * Destroying a FileData stops readahead (waiting for GETs in flight) and
 * discards its dirty blocks: flush first.
 *
 * Future work: staging to disk.
 */
class FileData
{
public:
	FileData(pool::BlockPool &pool, ObjectStore &store, pool::InodeId inode, std::string key,
		 std::optional<BaseObject> base, FileDataConfig config);
	~FileData();

	FileData(const FileData &) = delete;
	FileData &operator=(const FileData &) = delete;

	/*
	 * Writes @bytes at @offset, O(bytes.size()), one chunk at a time.
	 * Returns the bytes written: fewer than asked when a later chunk
	 * failed (the earlier ones stay written), the error only when nothing
	 * was written (ENOBUFS when the pool is full of dirty data).
	 */
	Result<std::size_t> write(std::uint64_t offset, std::span<const std::byte> bytes);

	/* Reads up to into.size() bytes at @offset; 0 at or past the end. */
	Result<std::size_t> read(std::uint64_t offset, std::span<std::byte> into);

	/* Sets the size: shrinking drops the data past it for good, extending adds zeros. */
	Result<void> truncate(std::uint64_t size);

	/*
	 * Makes the object hold exactly the file's contents, with @metadata as
	 * its user metadata; nothing is sent if nothing changed. On success the
	 * new object becomes the base and the dirty blocks are released; on
	 * failure the error is the store's and every dirty byte is kept.
	 */
	Result<FlushStats> flush(const Metadata &metadata);

	/* Drops every change since the last flush (e.g. the file was unlinked). */
	void discard();

	/* Whether whole parts wait for startStream() (no upload is open yet). */
	bool streamWanted() const;
	/*
	 * Opens the streaming upload with @metadata (the object's metadata as
	 * of now) and starts sending the waiting parts. Without effect if one
	 * is open or streaming does not apply. A failure turns streaming off
	 * for the file; its data stays dirty for flush().
	 */
	void startStream(const Metadata &metadata);
	/*
	 * Releases the memory of parts already in the open upload, in order
	 * from the start of the file, waiting for one in flight if none is
	 * ready. Returns the bytes released; 0 when nothing can be.
	 */
	Result<std::uint64_t> releaseUploaded();
	/*
	 * Ends streaming for good (the file is being unlinked): a parked
	 * beginning is completed into the object first, so that every byte is
	 * readable; otherwise the upload is aborted.
	 */
	Result<void> stopStreaming();
	/* Waits until the streaming upload has sent what is queued (tests, benchmarks). */
	void waitForStream();
	/* Bytes whose memory releaseUploaded() gave back (held by the open upload). */
	std::uint64_t parkedBytes() const;

	std::uint64_t size() const;
	/* Whether flush() would send anything. */
	bool dirty() const;
	/* Bytes written since the last flush (valid dirty ranges), to pick what to upload first. */
	std::uint64_t dirtyBytes() const;
	std::optional<BaseObject> base() const;
	/* Waits until no readahead is queued or being fetched (tests, benchmarks). */
	void waitForReadahead();
	const std::string &key() const { return key_; }
	pool::InodeId inode() const { return inode_; }

private:
	struct Part {
		unsigned number;
		std::uint64_t start;
		std::uint64_t end;
		bool copy; /* made by UploadPartCopy from the base object */
	};

	/* One aligned block of the base object being fetched; readers of the same block wait on it. */
	struct Fetch {
		bool done = false;
		std::optional<pool::BlockHandle> block; /* set when done and it worked */
		std::optional<Error> error;             /* set when done and it failed */
	};
	/* A block queued for readahead, with the base it belongs to. */
	struct Prefetch {
		std::uint64_t block;
		std::string etag;
		std::uint64_t length;
	};

	std::uint64_t chunkSize() const { return chunkSize_; }
	/*
	 * Block @block (@length bytes) of the base object @etag: from the clean
	 * cache, from a fetch in flight, or by a GET of its own (cached when the
	 * pool has room, else handed back uncached).
	 */
	Result<pool::BlockHandle> blockOf(std::uint64_t block, const std::string &etag, std::uint64_t length,
					  bool *cached = nullptr);
	/* The most readahead may hold: readaheadMax, at most half the memory dirty data leaves. */
	std::uint64_t readaheadCeiling() const;
	/* Notes a read of [offset, offset + length) for sequential detection and queues readahead. */
	void noteRead(std::uint64_t offset, std::uint64_t length);
	/* A readahead worker: fetches queued blocks until the queue is empty or readahead stops. */
	void prefetchLoop();
	/* Drops the queued readahead (random access, a failure, a new base). Needs raMutex_. */
	void resetReadaheadLocked();
	/* Takes the object now at key_ as the base after ESTALE, if nothing is unsaved. */
	Result<void> refreshBase(const std::string &staleEtag);
	/* The pool's dirty block for @chunk, created empty if missing. Needs stateMutex_. */
	Result<void> ensureChunk(pool::ChunkIndex chunk);
	/* Fills @out with the contents at @offset (inside size()); base bytes through clean blocks. */
	Result<void> readRange(std::uint64_t offset, std::span<std::byte> out);
	/* Copies the base object's bytes [offset, offset + out.size()) through clean blocks. */
	Result<void> readBase(std::uint64_t offset, std::span<std::byte> out);
	/* Copies the valid dirty bytes of [offset, offset + out.size()) over @out. */
	Result<void> overlayDirty(std::uint64_t offset, std::span<std::byte> out) const;
	/* Whether [start, end) is all valid and inside one chunk (so a span of pool memory). */
	bool dirtyContiguous(std::uint64_t start, std::uint64_t end) const;
	bool anyDirty(std::uint64_t start, std::uint64_t end) const;
	/* The flush's view of [start, end) assembled in @out (zeroed by the caller), missing base bytes by GET. */
	Result<void> assemble(std::uint64_t start, std::span<std::byte> out, FlushStats &stats);
	/* Copies or sends one part; EOPNOTSUPP for a copy the server refused (send its bytes instead). */
	Result<std::string> uploadOne(const std::string &uploadId, const Part &part, FlushStats &stats);
	Result<std::string> flushMultipart(const Metadata &metadata, std::uint64_t partSize,
					   FlushStats &stats);
	/* Sends @queue into @uploadId with uploadThreads threads; etags land in @etags. */
	Result<void> sendParts(const std::string &uploadId, std::deque<Part> queue, std::uint64_t partSize,
			       std::map<unsigned, std::string> &etags, FlushStats &stats);
	/* flush() through the open streaming upload. Needs opMutex_ exclusive and the stream drained. */
	Result<std::string> flushStream(const Metadata &metadata, std::uint64_t partSize, FlushStats &stats);
	void dropDirty();

	struct StreamPart {
		std::uint64_t generation = 0;     /* bumped by every change to the part's bytes */
		std::uint64_t sentGeneration = 0; /* the generation etag holds (when etag is set) */
		std::string etag;
		bool queued = false;
		bool inFlight = false;
	};
	/* Whether the file is large enough, or memory short enough, to open the stream. Needs stateMutex_. */
	bool streamDueLocked() const;
	/* Whether writes now feed the streaming upload. Needs stateMutex_. */
	bool streamingLocked() const;
	/* Notes a write of [start, end) for streaming: invalidates sent parts, queues whole ones. Needs stateMutex_. */
	void noteStreamWriteLocked(std::uint64_t start, std::uint64_t end);
	/* Starts uploader threads for the queue. Needs stateMutex_. */
	void spawnUploadersLocked();
	void uploadLoop();
	/* Stops the uploaders and waits for parts in flight; @lock holds stateMutex_. */
	void drainStreamLocked(std::unique_lock<std::mutex> &lock);
	/* Completes a parked beginning into the base object, else aborts the upload; ends the stream. Needs opMutex_ exclusive, drained. */
	Result<void> settleStream(FlushStats &stats);
	/* Settles the stream if @offset is still parked once opMutex_ is held exclusive; callers check first, under their shared lock. */
	Result<void> settleIfParked(std::uint64_t offset);
	/* Forgets the stream (after completion or abort). Needs stateMutex_. */
	void resetStreamLocked();

	pool::BlockPool &pool_;
	ObjectStore &store_;
	const pool::InodeId inode_;
	const std::string key_;
	const FileDataConfig config_;
	const std::uint64_t chunkSize_;
	std::shared_ptr<StoreCapabilities> capabilities_;

	/* Shared by read() and write(), exclusive for truncate(), flush(), discard(). */
	mutable RwLock opMutex_;
	/* Guards the fields below; held briefly, never across a request. */
	mutable std::mutex stateMutex_;
	std::optional<BaseObject> base_;
	std::uint64_t size_ = 0;
	std::uint64_t baseLimit_ = 0;
	/* A truncate or a new file: flush even without dirty bytes. */
	bool sizeChanged_ = false;
	std::map<pool::ChunkIndex, RangeSet> valid_; /* chunk-relative ranges */

	/*
	 * Readahead state. Lock order: opMutex_, then raMutex_, then the pool's
	 * locks; stateMutex_ and raMutex_ are never held together.
	 */
	std::mutex raMutex_;
	std::condition_variable fetchDone_;     /* a Fetch finished or a worker exited */
	std::map<std::pair<std::string, std::uint64_t>, std::shared_ptr<Fetch>> inFlight_; /* (etag, block) */
	std::uint64_t nextSequential_ = std::numeric_limits<std::uint64_t>::max();
	std::uint64_t window_ = 0;              /* bytes ahead of the reader; 0: not sequential */
	std::uint64_t lastBlockRead_ = 0;       /* the last block a sequential read touched */
	std::uint64_t queuedUpTo_ = 0;          /* blocks below this were queued already */
	std::deque<Prefetch> queue_;
	std::list<std::thread> workers_;        /* joined on spawn (the exited ones) and in the destructor */
	std::vector<std::thread::id> exited_;   /* workers that returned, not yet joined */
	unsigned running_ = 0;                  /* workers not yet exited */
	bool stopping_ = false;

	/* Streaming upload state, guarded by stateMutex_ (see the class comment). */
	const std::uint64_t streamPartSize_;
	bool streamDisabled_ = false;
	std::string streamUploadId_;
	bool streamCreating_ = false;
	Metadata streamMetadata_;
	std::map<std::uint64_t, StreamPart> streamParts_; /* by part index (number - 1) */
	std::deque<std::uint64_t> streamQueue_;
	std::uint64_t parkedEnd_ = 0;  /* [0, parkedEnd_) lives only in the open upload */
	unsigned streamInFlight_ = 0;
	bool streamPaused_ = false;    /* flush, truncate or settle own the stream */
	bool uploadersStopping_ = false;
	std::optional<Error> streamError_;
	FlushStats streamStats_;       /* requests sent by the stream since the last flush */
	std::condition_variable streamChanged_;
	std::list<std::thread> uploaders_;
	std::vector<std::thread::id> uploadersExited_;
	unsigned uploadersRunning_ = 0;
};

} /* namespace vfs::fs */
