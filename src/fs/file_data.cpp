// FileData: an open regular file's bytes: writes into the pool, merged reads, and the flush planner.
#include "fs/file_data.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <system_error>
#include <thread>

namespace vfs::fs {

namespace {

constexpr std::uint64_t kMiB = std::uint64_t(1) << 20;

/* A run of valid dirty bytes [start, end) (absolute offsets) inside one chunk. */
struct DirtySpan {
	std::uint64_t start;
	std::uint64_t end;
	pool::ChunkIndex chunk;
};

/* Reads [offset, offset + out.size()) of @key, which must lie inside the object. */
Result<void> getFully(ObjectStore &store, const std::string &key, std::uint64_t offset,
		      std::span<std::byte> out, const std::string &etag)
{
	std::size_t done = 0;
	while (done < out.size()) {
		auto r = store.get(key, offset + done, out.subspan(done), etag);
		if (!r)
			return r.error();
		if (r->bytes == 0)
			return Error(ESTALE, "object shorter than its known size");
		done += r->bytes;
	}
	return {};
}

} /* namespace */

void RangeSet::add(std::uint64_t start, std::uint64_t end)
{
	if (start >= end)
		return;
	auto it = ranges_.upper_bound(start);
	if (it != ranges_.begin()) {
		auto prev = std::prev(it);
		if (prev->second >= start)
			it = prev;
	}
	/* Swallow every range that overlaps or touches [start, end). */
	while (it != ranges_.end() && it->first <= end) {
		start = std::min(start, it->first);
		end = std::max(end, it->second);
		it = ranges_.erase(it);
	}
	ranges_.emplace(start, end);
}

void RangeSet::clip(std::uint64_t limit)
{
	auto it = ranges_.lower_bound(limit);
	ranges_.erase(it, ranges_.end());
	if (!ranges_.empty()) {
		auto last = std::prev(ranges_.end());
		if (last->second > limit)
			last->second = limit;
	}
}

bool RangeSet::covers(std::uint64_t start, std::uint64_t end) const
{
	if (start >= end)
		return true;
	auto it = ranges_.upper_bound(start);
	if (it == ranges_.begin())
		return false;
	--it;
	return it->first <= start && it->second >= end;
}

std::vector<std::pair<std::uint64_t, std::uint64_t>> RangeSet::overlapping(std::uint64_t start,
									   std::uint64_t end) const
{
	std::vector<std::pair<std::uint64_t, std::uint64_t>> out;
	if (start >= end)
		return out;
	auto it = ranges_.upper_bound(start);
	if (it != ranges_.begin())
		--it;
	for (; it != ranges_.end() && it->first < end; ++it) {
		std::uint64_t s = std::max(start, it->first);
		std::uint64_t e = std::min(end, it->second);
		if (s < e)
			out.emplace_back(s, e);
	}
	return out;
}

FileData::FileData(pool::BlockPool &pool, ObjectStore &store, pool::InodeId inode, std::string key,
		   std::optional<BaseObject> base, FileDataConfig config)
	: pool_(pool), store_(store), inode_(inode), key_(std::move(key)), config_(std::move(config)),
	  chunkSize_(pool.config().chunkSize), capabilities_(config_.capabilities),
	  base_(std::move(base))
{
	if (!capabilities_)
		capabilities_ = std::make_shared<StoreCapabilities>();
	size_ = base_ ? base_->size : 0;
	baseLimit_ = size_;
	/* A new file exists in S3 only once flushed, even when empty. */
	sizeChanged_ = !base_;
}

FileData::~FileData()
{
	/* Workers use this object: stop them and wait for their GETs before anything goes. */
	std::list<std::thread> workers;
	{
		std::lock_guard ra(raMutex_);
		stopping_ = true;
		queue_.clear();
		workers.swap(workers_);
	}
	for (std::thread &t : workers)
		t.join();
	dropDirty();
}

Result<void> FileData::ensureChunk(pool::ChunkIndex chunk)
{
	if (valid_.contains(chunk))
		return {};
	auto r = pool_.insertDirty(inode_, chunk, {});
	if (!r && r.error().code() != EEXIST)
		return r.error();
	valid_.emplace(chunk, RangeSet());
	return {};
}

Result<std::size_t> FileData::write(std::uint64_t offset, std::span<const std::byte> bytes)
{
	if (bytes.empty())
		return std::size_t(0);
	if (offset > std::numeric_limits<std::uint64_t>::max() - bytes.size() ||
	    (offset + bytes.size() - 1) / chunkSize_ > std::numeric_limits<pool::ChunkIndex>::max())
		return Error(EFBIG, "write past the largest file size");

	std::shared_lock op(opMutex_);
	std::uint64_t pos = offset;
	std::size_t done = 0;
	/* A chunk's piece is all or nothing; a failure after the first piece is a short write. */
	auto failed = [&](const Error &error) -> Result<std::size_t> {
		if (done > 0)
			return done;
		return error;
	};
	while (!bytes.empty()) {
		auto chunk = static_cast<pool::ChunkIndex>(pos / chunkSize_);
		std::uint64_t rel = pos % chunkSize_;
		std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(bytes.size(), chunkSize_ - rel));
		{
			std::lock_guard state(stateMutex_);
			auto r = ensureChunk(chunk);
			if (!r)
				return failed(r.error());
		}
		auto piece = bytes.first(n);
		auto written = pool_.modifyDirtyInPlace(inode_, chunk, [&](pool::ChunkBuffer &buffer) {
			return buffer.write(static_cast<std::size_t>(rel), piece);
		});
		if (!written)
			return failed(written.error());
		/* Published after the bytes are in place: a reader that sees the range sees them. */
		{
			std::lock_guard state(stateMutex_);
			valid_[chunk].add(rel, rel + n);
			size_ = std::max(size_, pos + n);
		}
		pos += n;
		done += n;
		bytes = bytes.subspan(n);
	}
	return done;
}

Result<std::size_t> FileData::read(std::uint64_t offset, std::span<std::byte> into)
{
	for (bool retried = false;; retried = true) {
		std::string staleEtag;
		{
			std::shared_lock op(opMutex_);
			std::uint64_t size;
			{
				std::lock_guard state(stateMutex_);
				size = size_;
				if (base_)
					staleEtag = base_->etag;
			}
			if (offset >= size || into.empty())
				return std::size_t(0);
			auto n = static_cast<std::size_t>(std::min<std::uint64_t>(into.size(), size - offset));
			noteRead(offset, n);
			auto r = readRange(offset, into.first(n));
			if (r)
				return n;
			/* Another client replaced the object: once, switch to it if nothing here is unsaved. */
			if (r.error().code() != ESTALE || retried || staleEtag.empty())
				return r.error();
			/* The shared lock goes first: refreshBase() needs it exclusive. */
			op.unlock();
			if (!refreshBase(staleEtag))
				return r.error();
		}
	}
}

Result<void> FileData::refreshBase(const std::string &staleEtag)
{
	std::unique_lock op(opMutex_);
	if (dirty())
		return Error(ESTALE, "the object changed while this file has unsaved data");
	BaseObject old;
	{
		std::lock_guard state(stateMutex_);
		if (!base_)
			return Error(ESTALE, "no base object");
		/* Another reader switched already. */
		if (base_->etag != staleEtag)
			return {};
		old = *base_;
	}
	auto head = store_.head(key_);
	if (!head)
		return head.error();
	if (head->etag == old.etag)
		return Error(ESTALE, "the object is shorter than its size");
	{
		std::lock_guard state(stateMutex_);
		base_ = BaseObject{ head->size, head->etag };
		size_ = baseLimit_ = head->size;
		sizeChanged_ = false;
	}
	{
		std::lock_guard ra(raMutex_);
		resetReadaheadLocked();
	}
	/* The old version's blocks can never be asked for again (their key has its ETag): free them now. */
	for (std::uint64_t b = 0; b * config_.blockSize < old.size; ++b)
		pool_.removeClean(pool::ContentKey::forObjectBlock(config_.bucket, key_, old.etag, b));
	return {};
}

std::uint64_t FileData::readaheadCeiling() const
{
	/* Clean blocks share the pool with dirty ones: readahead takes at most half of what dirty data leaves. */
	auto m = pool_.metrics();
	std::uint64_t room = m.limitBytes > m.dirtyBytes ? (m.limitBytes - m.dirtyBytes) / 2 : 0;
	return std::min(config_.readaheadMax, room);
}

void FileData::resetReadaheadLocked()
{
	queue_.clear();
	window_ = 0;
	queuedUpTo_ = 0;
}

void FileData::noteRead(std::uint64_t offset, std::uint64_t length)
{
	if (config_.readaheadMax == 0 || config_.readThreads == 0 || length == 0)
		return;
	std::string etag;
	std::uint64_t baseSize, limit;
	{
		std::lock_guard state(stateMutex_);
		if (!base_)
			return;
		etag = base_->etag;
		baseSize = base_->size;
		limit = std::min(baseLimit_, baseSize);
	}
	const std::uint64_t blockSize = config_.blockSize;
	const std::uint64_t end = offset + length;
	const std::uint64_t ceiling = readaheadCeiling();

	std::lock_guard ra(raMutex_);
	/* Workers that returned are joined here, so threads never pile up. */
	for (std::thread::id id : exited_) {
		auto it = std::find_if(workers_.begin(), workers_.end(),
				       [&](const std::thread &t) { return t.get_id() == id; });
		if (it != workers_.end()) {
			it->join();
			workers_.erase(it);
		}
	}
	exited_.clear();
	/*
	 * Sequential: starts where the last read ended, give or take a block,
	 * because the kernel's own readahead sends several reads at once, so
	 * they may arrive slightly out of order.
	 */
	bool sequential = nextSequential_ != std::numeric_limits<std::uint64_t>::max() &&
			  offset + blockSize >= nextSequential_ && offset <= nextSequential_ + blockSize;
	nextSequential_ = sequential ? std::max(nextSequential_, end) : end;
	if (!sequential) {
		resetReadaheadLocked();
		return;
	}
	if (stopping_ || limit == 0)
		return;
	const std::uint64_t last = (end - 1) / blockSize;
	if (window_ == 0)
		window_ = blockSize;
	else if (last > lastBlockRead_)
		window_ = std::min(window_ * 2, config_.readaheadMax);
	lastBlockRead_ = std::max(lastBlockRead_, last);
	std::uint64_t ahead = std::min(window_, ceiling);
	if (ahead == 0)
		return;

	const std::uint64_t first = std::max(last + 1, queuedUpTo_);
	const std::uint64_t wanted = std::min((end + ahead - 1) / blockSize, (limit - 1) / blockSize);
	for (std::uint64_t b = first; b <= wanted; ++b)
		queue_.push_back({ b, etag, std::min(blockSize, baseSize - b * blockSize) });
	if (first <= wanted)
		queuedUpTo_ = wanted + 1;

	while (running_ < config_.readThreads && running_ < queue_.size()) {
		try {
			workers_.emplace_back(&FileData::prefetchLoop, this);
		} catch (const std::system_error &) {
			/* No thread to be had: the reader fetches on demand instead. */
			break;
		}
		++running_;
	}
}

void FileData::waitForReadahead()
{
	std::unique_lock ra(raMutex_);
	fetchDone_.wait(ra, [&] { return running_ == 0; });
}

void FileData::prefetchLoop()
{
	for (;;) {
		Prefetch next;
		{
			std::lock_guard ra(raMutex_);
			if (stopping_ || queue_.empty()) {
				--running_;
				exited_.push_back(std::this_thread::get_id());
				fetchDone_.notify_all();
				return;
			}
			next = std::move(queue_.front());
			queue_.pop_front();
		}
		bool cached = true;
		auto r = blockOf(next.block, next.etag, next.length, &cached);
		if (!r || !cached) {
			/* The object changed or the pool has no room: stop until the next sequential read. */
			std::lock_guard ra(raMutex_);
			resetReadaheadLocked();
		}
	}
}

Result<pool::BlockHandle> FileData::blockOf(std::uint64_t block, const std::string &etag, std::uint64_t length,
					    bool *cached)
{
	auto ck = pool::ContentKey::forObjectBlock(config_.bucket, key_, etag, block);
	if (auto hit = pool_.getClean(ck))
		return *hit;
	const auto id = std::pair(etag, block);
	std::shared_ptr<Fetch> fetch;
	{
		std::unique_lock ra(raMutex_);
		auto it = inFlight_.find(id);
		if (it != inFlight_.end()) {
			/* Someone is fetching it: wait rather than GET the same bytes twice. */
			fetch = it->second;
			fetchDone_.wait(ra, [&] { return fetch->done; });
			if (fetch->error)
				return *fetch->error;
			return *fetch->block;
		}
		/* Again under raMutex_: a fetch caches its block before it leaves inFlight_. */
		if (auto hit = pool_.getClean(ck))
			return *hit;
		fetch = std::make_shared<Fetch>();
		inFlight_.emplace(id, fetch);
	}

	std::vector<std::byte> bytes(static_cast<std::size_t>(length));
	auto got = getFully(store_, key_, block * config_.blockSize, bytes, etag);
	std::optional<pool::BlockHandle> handle;
	std::optional<Error> error;
	if (!got) {
		error = got.error();
	} else if (auto inserted = pool_.adoptClean(ck, bytes)) {
		handle = std::move(*inserted);
	} else {
		/* The pool is full of dirty data: hand the bytes out uncached. */
		handle = pool::BlockHandle(
			std::make_shared<const pool::ImmutableBlockData>(pool::ImmutableBlockData{ std::move(bytes) }));
		if (cached)
			*cached = false;
	}
	{
		std::lock_guard ra(raMutex_);
		fetch->block = handle;
		fetch->error = error;
		fetch->done = true;
		inFlight_.erase(id);
	}
	fetchDone_.notify_all();
	if (error)
		return *error;
	return *handle;
}

static std::vector<DirtySpan> collectDirty(const std::map<pool::ChunkIndex, RangeSet> &valid,
					   std::uint64_t chunkSize, std::uint64_t start, std::uint64_t end)
{
	std::vector<DirtySpan> spans;
	for (auto it = valid.lower_bound(static_cast<pool::ChunkIndex>(start / chunkSize));
	     it != valid.end() && it->first * chunkSize < end; ++it) {
		std::uint64_t base = it->first * chunkSize;
		std::uint64_t s = std::max(start, base) - base;
		std::uint64_t e = std::min(end, base + chunkSize) - base;
		for (auto [rs, re] : it->second.overlapping(s, e))
			spans.push_back({ base + rs, base + re, it->first });
	}
	return spans;
}

Result<void> FileData::overlayDirty(std::uint64_t offset, std::span<std::byte> out) const
{
	std::vector<DirtySpan> spans;
	{
		std::lock_guard state(stateMutex_);
		spans = collectDirty(valid_, chunkSize_, offset, offset + out.size());
	}
	for (const DirtySpan &span : spans) {
		auto handle = pool_.getDirty(inode_, span.chunk);
		if (!handle)
			return Error(EIO, "dirty block missing from the pool");
		std::uint64_t rel = span.start - std::uint64_t(span.chunk) * chunkSize_;
		std::byte *dest = out.data() + (span.start - offset);
		std::size_t len = static_cast<std::size_t>(span.end - span.start);
		handle->withData([&](std::span<const std::byte> data) {
			/* Valid ranges never pass the buffer's end; be safe anyway: the rest stays zero. */
			if (rel >= data.size())
				return;
			std::memcpy(dest, data.data() + rel, std::min<std::size_t>(len, data.size() - rel));
		});
	}
	return {};
}

Result<void> FileData::readBase(std::uint64_t offset, std::span<std::byte> out)
{
	const std::uint64_t blockSize = config_.blockSize;
	const std::uint64_t end = offset + out.size();
	for (std::uint64_t block = offset / blockSize; block * blockSize < end; ++block) {
		std::uint64_t blockStart = block * blockSize;
		/* The whole aligned block, so neighbouring reads hit the cache. */
		auto handle = blockOf(block, base_->etag, std::min(blockSize, base_->size - blockStart));
		if (!handle)
			return handle.error();
		/* The handle keeps the bytes alive even if the pool evicts the block meanwhile. */
		std::span<const std::byte> data = handle->data();
		std::uint64_t s = std::max(offset, blockStart);
		std::uint64_t e = std::min(end, blockStart + data.size());
		if (s < e)
			std::memcpy(out.data() + (s - offset), data.data() + (s - blockStart),
				    static_cast<std::size_t>(e - s));
	}
	return {};
}

Result<void> FileData::readRange(std::uint64_t offset, std::span<std::byte> out)
{
	std::fill(out.begin(), out.end(), std::byte{ 0 });
	const std::uint64_t end = offset + out.size();
	std::vector<DirtySpan> spans;
	{
		std::lock_guard state(stateMutex_);
		spans = collectDirty(valid_, chunkSize_, offset, end);
	}
	/* Base bytes for the gaps between dirty spans, below the base limit. */
	const std::uint64_t limit = std::min(end, baseLimit_);
	std::uint64_t pos = offset;
	auto fillGap = [&](std::uint64_t gapEnd) -> Result<void> {
		std::uint64_t e = std::min(gapEnd, limit);
		if (pos < e)
			return readBase(pos, out.subspan(static_cast<std::size_t>(pos - offset),
							 static_cast<std::size_t>(e - pos)));
		return {};
	};
	for (const DirtySpan &span : spans) {
		auto r = fillGap(span.start);
		if (!r)
			return r;
		pos = span.end;
	}
	auto r = fillGap(end);
	if (!r)
		return r;
	return overlayDirty(offset, out);
}

Result<void> FileData::truncate(std::uint64_t size)
{
	std::unique_lock op(opMutex_);
	std::lock_guard state(stateMutex_);
	if (size == size_)
		return {};
	if (size < size_) {
		for (auto it = valid_.begin(); it != valid_.end();) {
			std::uint64_t chunkStart = std::uint64_t(it->first) * chunkSize_;
			if (chunkStart >= size) {
				pool_.removeDirty(inode_, it->first);
				it = valid_.erase(it);
				continue;
			}
			if (chunkStart + chunkSize_ > size) {
				auto rel = static_cast<std::size_t>(size - chunkStart);
				it->second.clip(rel);
				auto r = pool_.modifyDirtyInPlace(inode_, it->first, [&](pool::ChunkBuffer &buffer) {
					if (buffer.size() > rel)
						return buffer.resize(rel);
					return Result<void>();
				});
				if (!r)
					return r.error();
			}
			++it;
		}
		/* The base's bytes past here are gone, even if the file grows again. */
		baseLimit_ = std::min(baseLimit_, size);
	}
	size_ = size;
	sizeChanged_ = true;
	return {};
}

bool FileData::anyDirty(std::uint64_t start, std::uint64_t end) const
{
	std::lock_guard state(stateMutex_);
	return !collectDirty(valid_, chunkSize_, start, end).empty();
}

bool FileData::dirtyContiguous(std::uint64_t start, std::uint64_t end) const
{
	if (start >= end)
		return false;
	auto chunk = start / chunkSize_;
	if ((end - 1) / chunkSize_ != chunk)
		return false;
	std::lock_guard state(stateMutex_);
	auto it = valid_.find(static_cast<pool::ChunkIndex>(chunk));
	if (it == valid_.end())
		return false;
	std::uint64_t base = chunk * chunkSize_;
	return it->second.covers(start - base, end - base);
}

Result<void> FileData::assemble(std::uint64_t start, std::span<std::byte> out, FlushStats &stats)
{
	const std::uint64_t end = start + out.size();
	std::vector<DirtySpan> spans;
	{
		std::lock_guard state(stateMutex_);
		spans = collectDirty(valid_, chunkSize_, start, end);
	}
	/* One GET from the first missing base byte to the last: the dirty bytes between are overlaid after. */
	const std::uint64_t limit = std::min(end, baseLimit_);
	std::uint64_t gapStart = 0, gapEnd = 0;
	std::uint64_t pos = start;
	auto noteGap = [&](std::uint64_t until) {
		std::uint64_t e = std::min(until, limit);
		if (pos >= e)
			return;
		if (gapStart == gapEnd)
			gapStart = pos;
		gapEnd = e;
	};
	for (const DirtySpan &span : spans) {
		noteGap(span.start);
		pos = span.end;
	}
	noteGap(end);
	if (gapStart < gapEnd) {
		stats.gets++;
		auto r = getFully(store_, key_, gapStart,
				  out.subspan(static_cast<std::size_t>(gapStart - start),
					      static_cast<std::size_t>(gapEnd - gapStart)),
				  base_->etag);
		if (!r)
			return r;
		stats.bytesFetched += gapEnd - gapStart;
	}
	return overlayDirty(start, out);
}

Result<std::string> FileData::uploadOne(const std::string &uploadId, const Part &part, FlushStats &stats)
{
	const std::uint64_t length = part.end - part.start;
	if (part.copy) {
		/* Another part may have learnt meanwhile that the server lacks it. */
		if (!capabilities_->uploadPartCopy.load())
			return Error(EOPNOTSUPP, "UploadPartCopy not supported");
		stats.uploadPartCopies++;
		auto r = store_.uploadPartCopy(key_, uploadId, part.number, key_, part.start, length, base_->etag);
		if (r) {
			stats.bytesCopied += length;
			return r;
		}
		if (r.error().code() == EOPNOTSUPP) {
			/* The server lacks it (s3rver): remember for every file; the caller sends the bytes. */
			capabilities_->uploadPartCopy.store(false);
			stats.copyFallbacks++;
		}
		return r.error();
	}

	if (dirtyContiguous(part.start, part.end)) {
		auto chunk = static_cast<pool::ChunkIndex>(part.start / chunkSize_);
		auto handle = pool_.getDirty(inode_, chunk);
		if (handle) {
			auto rel = static_cast<std::size_t>(part.start - std::uint64_t(chunk) * chunkSize_);
			auto len = static_cast<std::size_t>(length);
			/* Straight from pool memory under the block's read lock: no copy. */
			auto r = handle->withData([&](std::span<const std::byte> data) -> Result<std::string> {
				if (data.size() < rel + len)
					return Error(EIO, "dirty block shorter than its valid range");
				return store_.uploadPart(key_, uploadId, part.number, data.subspan(rel, len));
			});
			stats.uploadParts++;
			if (r) {
				stats.bytesUploaded += length;
				stats.bytesFromMemory += length;
			}
			return r;
		}
	}

	std::vector<std::byte> buffer(static_cast<std::size_t>(length));
	auto assembled = assemble(part.start, buffer, stats);
	if (!assembled)
		return assembled.error();
	stats.uploadParts++;
	auto r = store_.uploadPart(key_, uploadId, part.number, buffer);
	if (r)
		stats.bytesUploaded += length;
	return r;
}

static void addStats(FlushStats &to, const FlushStats &from)
{
	to.puts += from.puts;
	to.createUploads += from.createUploads;
	to.uploadParts += from.uploadParts;
	to.uploadPartCopies += from.uploadPartCopies;
	to.completeUploads += from.completeUploads;
	to.gets += from.gets;
	to.copyFallbacks += from.copyFallbacks;
	to.bytesUploaded += from.bytesUploaded;
	to.bytesFromMemory += from.bytesFromMemory;
	to.bytesCopied += from.bytesCopied;
	to.bytesFetched += from.bytesFetched;
}

Result<std::string> FileData::flushMultipart(const Metadata &metadata, std::uint64_t partSize,
					     FlushStats &stats)
{
	/*
	 * The plan: the file cut at multiples of partSize, then each run of
	 * untouched base parts merged into one UploadPartCopy of up to 5 GiB
	 * (a patch in the middle: copy, send, copy). A run keeps the part
	 * number of its first piece, so that a refused copy can be sent as
	 * its pieces under their own numbers (S3 allows gaps between part
	 * numbers); every part but the last is a multiple of partSize, so at
	 * least the minimum.
	 */
	const bool canCopy = base_ && capabilities_->uploadPartCopy.load();
	std::deque<Part> queue;
	std::size_t pieces = 0;
	for (std::uint64_t start = 0; start < size_; start += partSize, ++pieces) {
		std::uint64_t end = std::min(size_, start + partSize);
		bool copy = canCopy && end <= baseLimit_ && !anyDirty(start, end);
		if (copy && !queue.empty() && queue.back().copy && end - queue.back().start <= kMaxPartSize) {
			queue.back().end = end;
			continue;
		}
		queue.push_back({ static_cast<unsigned>(pieces + 1), start, end, copy });
	}

	PutOptions options;
	options.metadata = metadata;
	stats.createUploads++;
	auto upload = store_.createUpload(key_, options);
	if (!upload)
		return upload.error();
	const std::string uploadId = *upload;

	std::mutex queueMutex;
	std::condition_variable queueChanged;
	unsigned busy = 0;
	std::map<unsigned, std::string> etags;
	std::optional<Error> firstError;

	auto worker = [&]() {
		std::unique_lock lock(queueMutex);
		for (;;) {
			/* An idle worker waits while a busy one may still split a refused copy into pieces. */
			queueChanged.wait(lock, [&] { return firstError || !queue.empty() || busy == 0; });
			if (firstError || queue.empty())
				return;
			Part part = queue.front();
			queue.pop_front();
			busy++;
			lock.unlock();
			FlushStats local;
			auto r = uploadOne(uploadId, part, local);
			lock.lock();
			busy--;
			addStats(stats, local);
			if (r) {
				etags[part.number] = *r;
			} else if (part.copy && r.error().code() == EOPNOTSUPP) {
				/* Send the run's bytes in partSize pieces, so that memory stays bounded. */
				std::vector<Part> split;
				unsigned number = part.number;
				for (std::uint64_t s = part.start; s < part.end; s += partSize)
					split.push_back({ number++, s, std::min(part.end, s + partSize), false });
				queue.insert(queue.begin(), split.begin(), split.end());
			} else if (!firstError) {
				firstError = r.error();
			}
			queueChanged.notify_all();
		}
	};

	std::size_t threads = std::clamp<std::size_t>(config_.uploadThreads, 1, pieces);
	std::vector<std::thread> workers;
	for (std::size_t t = 1; t < threads; ++t)
		workers.emplace_back(worker);
	worker();
	for (std::thread &t : workers)
		t.join();

	std::vector<UploadedPart> uploaded;
	uploaded.reserve(etags.size());
	for (auto &[number, etag] : etags)
		uploaded.push_back({ number, std::move(etag) });

	if (!firstError) {
		stats.completeUploads++;
		auto etag = store_.completeUpload(key_, uploadId, uploaded);
		if (etag)
			return etag;
		firstError = etag.error();
	}
	/* Best effort: a failed abort leaves an upload for the bucket's lifecycle rules. */
	(void)store_.abortUpload(key_, uploadId);
	return *firstError;
}

Result<FlushStats> FileData::flush(const Metadata &metadata)
{
	std::unique_lock op(opMutex_);
	FlushStats stats;
	if (!dirty()) {
		/* Blocks a failed write left empty. */
		std::lock_guard state(stateMutex_);
		dropDirty();
		return stats;
	}
	stats.uploaded = true;

	std::uint64_t partSize = std::clamp(config_.partSize, config_.minPartSize, kMaxPartSize);
	if ((size_ + partSize - 1) / partSize > kMaxParts) {
		/* Fewer, larger parts, rounded to whole MiB. */
		partSize = (size_ + kMaxParts - 1) / kMaxParts;
		partSize = (partSize + kMiB - 1) / kMiB * kMiB;
	}

	Result<std::string> etag = Error(EIO, "not uploaded");
	if (size_ < partSize) {
		PutOptions options;
		options.metadata = metadata;
		stats.puts++;
		if (size_ > 0 && dirtyContiguous(0, size_)) {
			auto handle = pool_.getDirty(inode_, 0);
			if (handle) {
				auto len = static_cast<std::size_t>(size_);
				etag = handle->withData([&](std::span<const std::byte> data) -> Result<std::string> {
					if (data.size() < len)
						return Error(EIO, "dirty block shorter than its valid range");
					return store_.put(key_, data.first(len), options);
				});
				if (etag) {
					stats.bytesUploaded += size_;
					stats.bytesFromMemory += size_;
				}
			}
		} else {
			/* Small: assemble the whole file once. */
			std::vector<std::byte> body(static_cast<std::size_t>(size_));
			auto assembled = assemble(0, body, stats);
			if (!assembled)
				return assembled.error();
			etag = store_.put(key_, body, options);
			if (etag)
				stats.bytesUploaded += size_;
		}
	} else {
		etag = flushMultipart(metadata, partSize, stats);
	}
	if (!etag)
		return etag.error();

	/* S3 holds every byte now: the dirty blocks go, reads use clean blocks of the new ETag. */
	std::lock_guard state(stateMutex_);
	dropDirty();
	base_ = BaseObject{ size_, *etag };
	baseLimit_ = size_;
	sizeChanged_ = false;
	return stats;
}

void FileData::dropDirty()
{
	for (pool::ChunkIndex chunk : pool_.dirtyChunks(inode_))
		pool_.removeDirty(inode_, chunk);
	valid_.clear();
}

void FileData::discard()
{
	std::unique_lock op(opMutex_);
	std::lock_guard state(stateMutex_);
	dropDirty();
	size_ = base_ ? base_->size : 0;
	baseLimit_ = size_;
	sizeChanged_ = !base_;
}

std::uint64_t FileData::size() const
{
	std::lock_guard state(stateMutex_);
	return size_;
}

std::uint64_t FileData::dirtyBytes() const
{
	std::lock_guard state(stateMutex_);
	std::uint64_t total = 0;
	for (const auto &[chunk, ranges] : valid_)
		for (auto [s, e] : ranges.overlapping(0, chunkSize_))
			total += e - s;
	return total;
}

bool FileData::dirty() const
{
	std::lock_guard state(stateMutex_);
	if (sizeChanged_)
		return true;
	return std::any_of(valid_.begin(), valid_.end(), [](const auto &entry) { return !entry.second.empty(); });
}

std::optional<BaseObject> FileData::base() const
{
	std::lock_guard state(stateMutex_);
	return base_;
}

} /* namespace vfs::fs */
