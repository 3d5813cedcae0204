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

void addStats(FlushStats &to, const FlushStats &from)
{
	to.puts += from.puts;
	to.createUploads += from.createUploads;
	to.uploadParts += from.uploadParts;
	to.uploadPartCopies += from.uploadPartCopies;
	to.completeUploads += from.completeUploads;
	to.gets += from.gets;
	to.copyFallbacks += from.copyFallbacks;
	to.metadataCopies += from.metadataCopies;
	to.bytesUploaded += from.bytesUploaded;
	to.bytesFromMemory += from.bytesFromMemory;
	to.bytesCopied += from.bytesCopied;
	to.bytesFetched += from.bytesFetched;
}

/* Joins and forgets the threads of @threads that said they returned (listed in @exited). */
void joinExited(std::list<std::thread> &threads, std::vector<std::thread::id> &exited)
{
	for (std::thread::id id : exited) {
		auto it = std::find_if(threads.begin(), threads.end(),
				       [&](const std::thread &t) { return t.get_id() == id; });
		if (it != threads.end()) {
			it->join();
			threads.erase(it);
		}
	}
	exited.clear();
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

void RangeSet::remove(std::uint64_t start, std::uint64_t end)
{
	if (start >= end)
		return;
	auto it = ranges_.upper_bound(start);
	if (it != ranges_.begin())
		--it;
	while (it != ranges_.end() && it->first < end) {
		auto [s, e] = *it;
		if (e <= start) {
			++it;
			continue;
		}
		it = ranges_.erase(it);
		if (s < start)
			ranges_.emplace(s, start);
		if (e > end)
			it = ranges_.emplace(end, e).first;
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
	  base_(std::move(base)),
	  streamPartSize_(std::clamp(config_.partSize, config_.minPartSize, kMaxPartSize))
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
	std::string uploadId;
	{
		std::unique_lock state(stateMutex_);
		uploadersStopping_ = true;
		streamQueue_.clear();
		streamChanged_.wait(state, [&] { return uploadersRunning_ == 0; });
		workers.clear();
		workers.swap(uploaders_);
		uploadId = streamUploadId_;
	}
	for (std::thread &t : workers)
		t.join();
	/* Never completed: the parts would only cost storage until the bucket's lifecycle rules. */
	if (!uploadId.empty())
		(void)store_.abortUpload(key_, uploadId);
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

	/* A byte only the open upload holds must come back into reach before it changes. */
	std::shared_lock op(opMutex_);
	for (;;) {
		{
			std::lock_guard state(stateMutex_);
			if (offset >= parkedEnd_)
				break;
		}
		op.unlock();
		auto settled = settleIfParked(offset);
		if (!settled)
			return settled.error();
		/* Checked again: another writer's relief may have parked more meanwhile. */
		op.lock();
	}
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
			noteStreamWriteLocked(pos, pos + n);
		}
		pos += n;
		done += n;
		bytes = bytes.subspan(n);
	}
	return done;
}

Result<std::size_t> FileData::read(std::uint64_t offset, std::span<std::byte> into)
{
	bool retried = false;
	for (;;) {
		std::string staleEtag;
		{
			std::shared_lock op(opMutex_);
			std::uint64_t size;
			bool parked;
			{
				std::lock_guard state(stateMutex_);
				size = size_;
				if (base_)
					staleEtag = base_->etag;
				parked = offset < parkedEnd_;
			}
			if (parked) {
				/* Only the open upload holds these bytes: make them the base, then look again. */
				op.unlock();
				auto settled = settleIfParked(offset);
				if (!settled)
					return settled.error();
				continue;
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
			retried = true;
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
	joinExited(workers_, exited_);
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

	pool::BlockBytes bytes(static_cast<std::size_t>(length));
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
	std::string abandoned;
	{
		std::unique_lock state(stateMutex_);
		if (size == size_)
			return {};
		drainStreamLocked(state);
		/* Emptied: nothing sent so far is wanted. */
		if (size == 0) {
			abandoned = streamUploadId_;
			resetStreamLocked();
		}
	}
	if (!abandoned.empty())
		(void)store_.abortUpload(key_, abandoned);
	/* Resumes streaming whatever happens below. */
	struct Resume {
		FileData &self;
		~Resume()
		{
			std::lock_guard state(self.stateMutex_);
			self.streamPaused_ = false;
			self.spawnUploadersLocked();
		}
	} resume{ *this };
	bool parked;
	{
		std::lock_guard state(stateMutex_);
		parked = size < parkedEnd_;
	}
	if (parked) {
		/* The cut lands in bytes only the upload holds: make them the base first. */
		FlushStats stats;
		auto settled = settleStream(stats);
		std::lock_guard state(stateMutex_);
		addStats(streamStats_, stats);
		if (!settled)
			return settled.error();
	}
	std::lock_guard state(stateMutex_);
	/* Parts the cut shortens hold bytes that are no longer the file's. */
	for (auto it = streamParts_.lower_bound(size / streamPartSize_); it != streamParts_.end(); ++it)
		it->second.generation++;
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

	std::map<unsigned, std::string> etags;
	auto sent = sendParts(uploadId, std::move(queue), partSize, etags, stats);
	Result<std::string> etag = Error(EIO, "not completed");
	if (sent) {
		std::vector<UploadedPart> uploaded;
		uploaded.reserve(etags.size());
		for (auto &[number, partEtag] : etags)
			uploaded.push_back({ number, std::move(partEtag) });
		stats.completeUploads++;
		etag = store_.completeUpload(key_, uploadId, uploaded);
		if (etag)
			return etag;
	} else {
		etag = sent.error();
	}
	/* Best effort: a failed abort leaves an upload for the bucket's lifecycle rules. */
	(void)store_.abortUpload(key_, uploadId);
	return etag;
}

Result<void> FileData::sendParts(const std::string &uploadId, std::deque<Part> queue, std::uint64_t partSize,
				 std::map<unsigned, std::string> &etags, FlushStats &stats)
{
	if (queue.empty())
		return {};
	std::mutex queueMutex;
	std::condition_variable queueChanged;
	unsigned busy = 0;
	std::optional<Error> firstError;
	const std::size_t pieces = queue.size();

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

	std::size_t threads = std::clamp<std::size_t>(config_.uploadThreads, 1, std::max<std::size_t>(pieces, 1));
	std::vector<std::thread> workers;
	for (std::size_t t = 1; t < threads; ++t)
		workers.emplace_back(worker);
	worker();
	for (std::thread &t : workers)
		t.join();
	if (firstError)
		return *firstError;
	return {};
}

Result<std::string> FileData::flushStream(const Metadata &metadata, std::uint64_t partSize, FlushStats &stats)
{
	/* Parts sent while writing and unchanged since are kept; the rest go now, from memory. */
	std::string uploadId;
	Metadata streamed;
	std::map<unsigned, std::string> etags;
	std::deque<Part> queue;
	{
		std::lock_guard state(stateMutex_);
		uploadId = streamUploadId_;
		streamed = streamMetadata_;
		for (std::uint64_t i = 0; i * partSize < size_; ++i) {
			std::uint64_t start = i * partSize, end = std::min(size_, start + partSize);
			auto number = static_cast<unsigned>(i + 1);
			auto it = streamParts_.find(i);
			if (it != streamParts_.end() && !it->second.etag.empty() &&
			    it->second.sentGeneration == it->second.generation && end - start == partSize) {
				etags[number] = it->second.etag;
				continue;
			}
			if (start < parkedEnd_)
				return Error(EIO, "a part held only by the open upload was changed");
			queue.push_back({ number, start, end, false });
		}
	}
	auto sent = sendParts(uploadId, std::move(queue), partSize, etags, stats);
	if (!sent)
		return sent.error();
	std::vector<UploadedPart> uploaded;
	uploaded.reserve(etags.size());
	for (auto &[number, partEtag] : etags)
		uploaded.push_back({ number, partEtag });
	stats.completeUploads++;
	auto etag = store_.completeUpload(key_, uploadId, uploaded);
	if (!etag)
		return etag.error();

	/* S3 holds the bytes now, whatever happens to the metadata below. */
	{
		std::lock_guard state(stateMutex_);
		resetStreamLocked();
		dropDirty();
		base_ = BaseObject{ size_, *etag };
		baseLimit_ = size_;
		sizeChanged_ = false;
	}
	if (streamed == metadata)
		return etag;
	/*
	 * The upload was opened with the metadata of its start (mtime has moved
	 * since, at least): rewrite it server-side. Up to 5 GiB one CopyObject
	 * does it; past that the planner copies every part into a new upload.
	 */
	Result<std::string> rewritten = Error(EIO, "metadata not rewritten");
	if (size_ <= kMaxPartSize) {
		PutOptions options;
		options.metadata = metadata;
		stats.metadataCopies++;
		rewritten = store_.copy(key_, key_, MetadataMode::Replace, options);
	} else {
		rewritten = flushMultipart(metadata, partSize, stats);
	}
	std::lock_guard state(stateMutex_);
	if (!rewritten) {
		/* The next flush stores the metadata again. */
		sizeChanged_ = true;
		return rewritten.error();
	}
	base_->etag = *rewritten;
	return rewritten;
}

Result<FlushStats> FileData::flush(const Metadata &metadata)
{
	std::unique_lock op(opMutex_);
	{
		std::unique_lock state(stateMutex_);
		drainStreamLocked(state);
	}
	/* A failed flush keeps streaming; a successful one has ended the stream. */
	struct Resume {
		FileData &self;
		~Resume()
		{
			std::lock_guard state(self.stateMutex_);
			self.streamPaused_ = false;
			self.spawnUploadersLocked();
		}
	} resume{ *this };
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

	bool streaming, usable;
	{
		std::lock_guard state(stateMutex_);
		streaming = !streamUploadId_.empty();
		usable = !streamError_ && partSize == streamPartSize_ && size_ >= partSize;
	}
	if (streaming && !usable) {
		/* The stream cannot make this file (a failed part, too many parts): back to the planner. */
		auto settled = settleStream(stats);
		if (!settled)
			return settled.error();
	}

	Result<std::string> etag = Error(EIO, "not uploaded");
	if (streaming && usable) {
		etag = flushStream(metadata, partSize, stats);
	} else if (size_ < partSize) {
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
	addStats(stats, streamStats_);
	streamStats_ = FlushStats();
	dropDirty();
	base_ = BaseObject{ size_, *etag };
	baseLimit_ = size_;
	sizeChanged_ = false;
	return stats;
}

bool FileData::streamingLocked() const
{
	return config_.streamUploads && !streamDisabled_ && !streamError_ && !uploadersStopping_ &&
	       baseLimit_ == 0 && chunkSize_ % streamPartSize_ == 0;
}

void FileData::noteStreamWriteLocked(std::uint64_t start, std::uint64_t end)
{
	if (!streamingLocked())
		return;
	const std::uint64_t partSize = streamPartSize_;
	for (std::uint64_t i = start / partSize; i * partSize < end && i < kMaxParts; ++i) {
		StreamPart &part = streamParts_[i];
		part.generation++;
		if (part.queued)
			continue;
		std::uint64_t partStart = i * partSize;
		auto chunk = static_cast<pool::ChunkIndex>(partStart / chunkSize_);
		std::uint64_t rel = partStart % chunkSize_;
		auto it = valid_.find(chunk);
		if (it == valid_.end() || !it->second.covers(rel, rel + partSize))
			continue;
		part.queued = true;
		streamQueue_.push_back(i);
	}
	spawnUploadersLocked();
}

void FileData::spawnUploadersLocked()
{
	if (streamPaused_ || uploadersStopping_ || streamUploadId_.empty() || streamQueue_.empty())
		return;
	joinExited(uploaders_, uploadersExited_);
	const unsigned threads = std::max(1u, config_.uploadThreads);
	while (uploadersRunning_ < threads && uploadersRunning_ < streamQueue_.size()) {
		try {
			uploaders_.emplace_back(&FileData::uploadLoop, this);
		} catch (const std::system_error &) {
			/* No thread to be had: flush() sends the parts instead. */
			break;
		}
		++uploadersRunning_;
	}
}

void FileData::uploadLoop()
{
	const std::uint64_t partSize = streamPartSize_;
	std::unique_lock state(stateMutex_);
	while (!uploadersStopping_ && !streamPaused_ && !streamError_ && !streamQueue_.empty()) {
		std::uint64_t i = streamQueue_.front();
		streamQueue_.pop_front();
		StreamPart &part = streamParts_[i];
		part.queued = false;
		std::uint64_t partStart = i * partSize;
		auto chunk = static_cast<pool::ChunkIndex>(partStart / chunkSize_);
		auto rel = static_cast<std::size_t>(partStart % chunkSize_);
		auto valid = valid_.find(chunk);
		if (valid == valid_.end() || !valid->second.covers(rel, rel + partSize) ||
		    (!part.etag.empty() && part.sentGeneration == part.generation))
			continue;
		const std::uint64_t generation = part.generation;
		const std::string uploadId = streamUploadId_;
		part.inFlight = true;
		streamInFlight_++;
		state.unlock();

		/*
		 * A copy, taken under the block's read lock, so that writers to the
		 * rest of the chunk need not wait for the request; the copy counts
		 * against memory_limit. When the pool has no room for it, the part
		 * is sent straight from the block under its read lock (the writers
		 * are waiting for room anyway). A write that lands meanwhile bumps
		 * the generation, and the part is sent again.
		 */
		Result<std::string> r = Error(EAGAIN, "part changed before it was sent");
		bool copied = false;
		auto handle = pool_.getDirty(inode_, chunk);
		const auto length = static_cast<std::size_t>(partSize);
		if (handle && pool_.chargeScratch(length)) {
			std::vector<std::byte> bytes;
			try {
				bytes.resize(length);
				copied = handle->withData([&](std::span<const std::byte> data) {
					if (data.size() < rel + length)
						return false;
					std::memcpy(bytes.data(), data.data() + rel, length);
					return true;
				});
			} catch (const std::bad_alloc &) {
				copied = false;
			}
			if (copied)
				r = store_.uploadPart(key_, uploadId, static_cast<unsigned>(i + 1), bytes);
			bytes = {};
			pool_.releaseScratch(length);
		} else if (handle) {
			r = handle->withData([&](std::span<const std::byte> data) -> Result<std::string> {
				if (data.size() < rel + length)
					return Error(EAGAIN, "part changed before it was sent");
				copied = true;
				return store_.uploadPart(key_, uploadId, static_cast<unsigned>(i + 1),
							 data.subspan(rel, length));
			});
		}

		state.lock();
		StreamPart &done = streamParts_[i];
		done.inFlight = false;
		streamInFlight_--;
		if (copied) {
			streamStats_.uploadParts++;
			if (r) {
				streamStats_.bytesUploaded += partSize;
				if (done.generation == generation) {
					done.etag = *r;
					done.sentGeneration = generation;
				}
			} else {
				/* Retries are the client's; what is left stops streaming, flush() sends the rest. */
				streamError_ = r.error();
			}
		}
		streamChanged_.notify_all();
	}
	uploadersRunning_--;
	uploadersExited_.push_back(std::this_thread::get_id());
	streamChanged_.notify_all();
}

void FileData::drainStreamLocked(std::unique_lock<std::mutex> &lock)
{
	streamPaused_ = true;
	streamChanged_.wait(lock, [&] { return streamInFlight_ == 0 && !streamCreating_; });
}

void FileData::resetStreamLocked()
{
	streamUploadId_.clear();
	streamMetadata_.clear();
	streamParts_.clear();
	streamQueue_.clear();
	parkedEnd_ = 0;
	streamError_.reset();
}

bool FileData::streamWanted() const
{
	std::lock_guard state(stateMutex_);
	return streamingLocked() && streamUploadId_.empty() && !streamCreating_ && !streamPaused_ &&
	       !streamQueue_.empty() && streamDueLocked();
}

bool FileData::streamDueLocked() const
{
	if (size_ >= config_.streamAfter)
		return true;
	return pool_.dirtyBytes() >= pool_.config().memoryLimit / 2;
}

void FileData::startStream(const Metadata &metadata)
{
	{
		std::lock_guard state(stateMutex_);
		if (!streamingLocked() || !streamUploadId_.empty() || streamCreating_ || streamPaused_ ||
		    streamQueue_.empty() || !streamDueLocked())
			return;
		streamCreating_ = true;
	}
	PutOptions options;
	options.metadata = metadata;
	auto upload = store_.createUpload(key_, options);
	std::lock_guard state(stateMutex_);
	streamCreating_ = false;
	streamStats_.createUploads++;
	if (upload) {
		streamUploadId_ = *upload;
		streamMetadata_ = metadata;
		spawnUploadersLocked();
	} else {
		streamError_ = upload.error();
	}
	streamChanged_.notify_all();
}

Result<std::uint64_t> FileData::releaseUploaded()
{
	/* Exclusive: no reader may be copying from the pages given back. */
	std::unique_lock op(opMutex_);
	std::unique_lock state(stateMutex_);
	const std::uint64_t partSize = streamPartSize_;
	std::uint64_t released = 0;
	for (;;) {
		for (;;) {
			auto it = streamParts_.find(parkedEnd_ / partSize);
			if (streamUploadId_.empty() || it == streamParts_.end() || it->second.inFlight ||
			    it->second.etag.empty() || it->second.sentGeneration != it->second.generation)
				break;
			auto chunk = static_cast<pool::ChunkIndex>(parkedEnd_ / chunkSize_);
			auto rel = static_cast<std::size_t>(parkedEnd_ % chunkSize_);
			auto punched = pool_.punchDirty(inode_, chunk, rel, static_cast<std::size_t>(partSize));
			if (!punched)
				return punched.error();
			valid_[chunk].remove(rel, rel + partSize);
			parkedEnd_ += partSize;
			released += *punched;
		}
		if (released > 0)
			return released;
		/* Nothing sent yet at the front: wait for it if it is on its way. */
		auto it = streamParts_.find(parkedEnd_ / partSize);
		bool coming = !streamUploadId_.empty() && !streamError_ && !streamPaused_ &&
			      it != streamParts_.end() &&
			      (it->second.inFlight || (it->second.queued && uploadersRunning_ > 0));
		if (!coming)
			return std::uint64_t(0);
		streamChanged_.wait(state);
	}
}

Result<void> FileData::settleStream(FlushStats &stats)
{
	std::string uploadId;
	std::uint64_t parked;
	std::vector<UploadedPart> parts;
	{
		std::lock_guard state(stateMutex_);
		uploadId = streamUploadId_;
		parked = parkedEnd_;
		if (uploadId.empty() || parked == 0) {
			resetStreamLocked();
		} else {
			for (std::uint64_t i = 0; i * streamPartSize_ < parked; ++i)
				parts.push_back({ static_cast<unsigned>(i + 1), streamParts_[i].etag });
		}
	}
	if (uploadId.empty())
		return {};
	if (parked == 0) {
		(void)store_.abortUpload(key_, uploadId);
		return {};
	}
	stats.completeUploads++;
	auto etag = store_.completeUpload(key_, uploadId, parts);
	if (!etag)
		return etag.error();
	std::lock_guard state(stateMutex_);
	base_ = BaseObject{ parked, *etag };
	baseLimit_ = parked;
	sizeChanged_ = true;
	resetStreamLocked();
	return {};
}

Result<void> FileData::settleIfParked(std::uint64_t offset)
{
	std::unique_lock op(opMutex_);
	{
		std::unique_lock state(stateMutex_);
		if (offset >= parkedEnd_)
			return {};
		drainStreamLocked(state);
	}
	FlushStats stats;
	auto settled = settleStream(stats);
	std::lock_guard state(stateMutex_);
	addStats(streamStats_, stats);
	streamPaused_ = false;
	spawnUploadersLocked();
	return settled;
}

Result<void> FileData::stopStreaming()
{
	std::unique_lock op(opMutex_);
	{
		std::unique_lock state(stateMutex_);
		streamDisabled_ = true;
		drainStreamLocked(state);
	}
	FlushStats stats;
	auto settled = settleStream(stats);
	std::lock_guard state(stateMutex_);
	addStats(streamStats_, stats);
	streamPaused_ = false;
	return settled;
}

void FileData::waitForStream()
{
	std::unique_lock state(stateMutex_);
	streamChanged_.wait(state, [&] {
		return streamInFlight_ == 0 && !streamCreating_ &&
		       (streamQueue_.empty() || uploadersRunning_ == 0 || streamError_ || streamPaused_);
	});
}

std::uint64_t FileData::parkedBytes() const
{
	std::lock_guard state(stateMutex_);
	return parkedEnd_;
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
	std::string abandoned;
	{
		std::unique_lock state(stateMutex_);
		drainStreamLocked(state);
		abandoned = streamUploadId_;
		resetStreamLocked();
		streamPaused_ = false;
		dropDirty();
		size_ = base_ ? base_->size : 0;
		baseLimit_ = size_;
		sizeChanged_ = !base_;
	}
	if (!abandoned.empty())
		(void)store_.abortUpload(key_, abandoned);
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
	if (sizeChanged_ || parkedEnd_ > 0)
		return true;
	return std::any_of(valid_.begin(), valid_.end(), [](const auto &entry) { return !entry.second.empty(); });
}

std::optional<BaseObject> FileData::base() const
{
	std::lock_guard state(stateMutex_);
	return base_;
}

} /* namespace vfs::fs */
