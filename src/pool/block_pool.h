// The block pool: the only owner of file data in memory (DESIGN.md §4).
#pragma once

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <span>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "common/result.h"
#include "common/rw_lock.h"
#include "pool/block_bytes.h"
#include "pool/chunk_buffer.h"
#include "pool/content_key.h"
#include "pool/memory_budget.h"

namespace vfs::pool {

using InodeId = std::uint64_t;
using ChunkIndex = std::uint32_t;

inline constexpr std::size_t kDefaultChunkSize = std::size_t(256) << 20;

struct PoolConfig {
	/* Capacity reserved (not touched) for each dirty chunk. */
	std::size_t chunkSize = kDefaultChunkSize;
	/* Bytes that clean plus dirty blocks may hold. */
	std::size_t memoryLimit = std::size_t(1) << 30;
};

/*
 * The two kinds of block data. Immutable data came from S3 and never changes:
 * readers share it without a lock. Mutable data is a dirty chunk being
 * written: a reader-writer lock guards its buffer, which is modified in place.
 */
struct ImmutableBlockData {
	BlockBytes bytes;
};

struct MutableBlockData {
	/* Writer-preferring: readers of a hot block never starve its writers. */
	mutable RwLock mutex;
	ChunkBuffer buffer;   /* guarded by mutex */
	bool removed = false; /* guarded by mutex; set once the pool dropped the block */
};

/* A shared reference to an immutable block: reads need no lock. */
class BlockHandle
{
public:
	explicit BlockHandle(std::shared_ptr<const ImmutableBlockData> block)
		: block_(std::move(block)) {}

	std::span<const std::byte> data() const { return block_->bytes; }
	std::size_t size() const { return block_->bytes.size(); }
	bool empty() const { return block_->bytes.empty(); }

private:
	std::shared_ptr<const ImmutableBlockData> block_;
};

/* A shared reference to a dirty block; every access takes the block's lock. */
class MutableBlockHandle
{
public:
	explicit MutableBlockHandle(std::shared_ptr<MutableBlockData> block)
		: block_(std::move(block)) {}

	/* Calls @fn with a read-only view of the bytes, under the shared lock, without copying. */
	template<typename Fn>
	decltype(auto) withData(Fn &&fn) const
	{
		std::shared_lock lock(block_->mutex);
		return std::forward<Fn>(fn)(block_->buffer.bytes());
	}

	/* A copy of the bytes. */
	std::vector<std::byte> data() const;
	std::size_t size() const;
	std::size_t capacity() const;
	bool empty() const { return size() == 0; }

private:
	std::shared_ptr<MutableBlockData> block_;
};

struct PoolMetrics {
	std::size_t limitBytes = 0;
	std::size_t usedBytes = 0;     /* dirty + clean */
	std::size_t dirtyBytes = 0;
	std::size_t cleanBytes = 0;
	std::size_t reservedBytes = 0; /* address space reserved by dirty blocks */
	std::size_t dirtyBlocks = 0;
	std::size_t cleanBlocks = 0;
	std::uint64_t dirtyWrites = 0;      /* modifyDirtyInPlace calls */
	std::uint64_t evictions = 0;        /* clean blocks evicted to make room */
	std::uint64_t evictedBytes = 0;
	std::uint64_t budgetRejections = 0; /* charges refused: the pool was full of dirty data */
	std::uint64_t shrinks = 0;
	std::uint64_t shrunkBytes = 0;      /* reserved bytes given back by shrinkDirtyBlock */
};

/* What BlockPool::shrink() gave back. */
struct ShrinkResult {
	std::size_t cleanBytes = 0;    /* clean blocks dropped (resident memory) */
	std::size_t cleanBlocks = 0;
	std::size_t reservedBytes = 0; /* address space past dirty blocks' last pages */
	std::size_t total() const { return cleanBytes + reservedBytes; }
};

/*
 * Thread safety: every method may be called from any thread at once. Dirty
 * blocks are found through sharded maps; a block's own lock serialises its
 * writers and lets its readers share. Clean blocks are shared immutably.
 *
 * Lock order (outer first): a dirty shard's mutex, then a block's mutex, then
 * cleanMutex_. The budget's reclaimer takes cleanMutex_ and may run while a
 * block lock is held; nothing takes a block lock under cleanMutex_.
 */
class BlockPool
{
public:
	explicit BlockPool(PoolConfig config);
	~BlockPool();

	BlockPool(const BlockPool &) = delete;
	BlockPool &operator=(const BlockPool &) = delete;

	const PoolConfig &config() const { return config_; }

	/*
	 * Creates the dirty block (@inode, @chunk) holding a copy of @bytes, with
	 * the chunk size reserved. EEXIST if it exists (dirty data is never
	 * silently replaced), ENOBUFS if the budget is full of dirty data.
	 */
	Result<MutableBlockHandle> insertDirty(InodeId inode, ChunkIndex chunk,
					       std::span<const std::byte> bytes);
	/* As insertDirty() with @capacity reserved instead (e.g. a small file's only chunk). */
	Result<MutableBlockHandle> insertDirtyWithCapacity(InodeId inode, ChunkIndex chunk,
							   std::span<const std::byte> bytes,
							   std::size_t capacity);

	/*
	 * Calls @fn(ChunkBuffer &) under the block's exclusive lock: the buffer is
	 * modified in place, so a write costs O(its size). @fn returns void or
	 * Result<void>. Returns the block's size afterwards; ENOENT if there is no
	 * such block, or @fn's error.
	 */
	template<typename Fn>
	Result<std::size_t> modifyDirtyInPlace(InodeId inode, ChunkIndex chunk, Fn &&fn);

	std::optional<MutableBlockHandle> getDirty(InodeId inode, ChunkIndex chunk) const;
	/* The dirty chunks of @inode, in increasing order. */
	std::vector<ChunkIndex> dirtyChunks(InodeId inode) const;

	/*
	 * Gives back the reserved capacity past the block's last page (after its
	 * bytes were flushed). Returns the bytes of address space released;
	 * ENOENT if there is no such block.
	 */
	Result<std::size_t> shrinkDirtyBlock(InodeId inode, ChunkIndex chunk);
	/* Drops a dirty block and its memory. False if there was none. */
	bool removeDirty(InodeId inode, ChunkIndex chunk);

	/*
	 * Gives back the memory of [offset, offset + length) of a dirty block
	 * (whole pages; see ChunkBuffer::punch) whose bytes are safe elsewhere.
	 * Returns the bytes released; ENOENT if there is no such block.
	 */
	Result<std::size_t> punchDirty(InodeId inode, ChunkIndex chunk, std::size_t offset, std::size_t length);

	/* Bytes held by dirty blocks and scratch: metrics().dirtyBytes without its lock, for hot paths. */
	std::size_t dirtyBytes() const { return budget_.dirty(); }

	/*
	 * Counts @bytes of scratch memory a caller holds outside any block (an
	 * upload's copy) against the limit, as dirty bytes; false when there is
	 * no room even after evicting clean blocks. Give back with releaseScratch().
	 */
	bool chargeScratch(std::size_t bytes) { return budget_.tryCharge(bytes, BlockKind::Dirty); }
	void releaseScratch(std::size_t bytes) { budget_.release(bytes, BlockKind::Dirty); }

	/*
	 * Caches @bytes as the clean block @key, evicting least recently used
	 * clean blocks for room. If @key is cached already the cached block is
	 * returned (same key, same content). ENOBUFS if dirty data leaves no room.
	 */
	Result<BlockHandle> insertClean(const ContentKey &key, std::vector<std::byte> bytes);
	/* As insertClean(), but @bytes is moved from only on success: on ENOBUFS the caller still has them. */
	Result<BlockHandle> adoptClean(const ContentKey &key, BlockBytes &bytes);
	/* The cached block @key, now the most recently used. */
	std::optional<BlockHandle> getClean(const ContentKey &key);
	bool removeClean(const ContentKey &key);
	/* Evicts every clean block; returns the bytes released. */
	std::size_t dropClean();

	/*
	 * Releases every byte the pool holds that no data needs (D-Bus Shrink):
	 * drops all clean blocks, gives back each dirty block's capacity past its
	 * last page (a later write past it remaps, never copies), then returns
	 * the allocator's free memory to the kernel so the RSS really drops.
	 * Flushed files hold no dirty blocks (flush releases them); a dirty
	 * block's bytes are never touched.
	 */
	ShrinkResult shrink();

	PoolMetrics metrics() const;

private:
	struct DirtyKey {
		InodeId inode;
		ChunkIndex chunk;
		bool operator==(const DirtyKey &) const = default;
	};
	struct DirtyKeyHash {
		std::size_t operator()(const DirtyKey &k) const
		{
			return std::hash<std::uint64_t>()(k.inode * 0x9e3779b97f4a7c15ull ^ k.chunk);
		}
	};
	struct DirtyShard {
		mutable std::shared_mutex mutex;
		std::unordered_map<DirtyKey, std::shared_ptr<MutableBlockData>, DirtyKeyHash> blocks;
	};
	struct CleanEntry {
		std::shared_ptr<const ImmutableBlockData> block;
		std::list<ContentKey>::iterator lru;
	};

	static constexpr std::size_t kShards = 16;

	DirtyShard &shardFor(InodeId inode) { return shards_[inode % kShards]; }
	const DirtyShard &shardFor(InodeId inode) const { return shards_[inode % kShards]; }
	std::shared_ptr<MutableBlockData> findDirty(InodeId inode, ChunkIndex chunk) const;
	/* Evicts LRU clean blocks until @needed bytes are released or none is left. */
	std::size_t evictClean(std::size_t needed);

	const PoolConfig config_;
	MemoryBudget budget_;

	DirtyShard shards_[kShards];
	std::atomic<std::size_t> dirtyBlocks_{ 0 };
	std::atomic<std::uint64_t> dirtyWrites_{ 0 };
	std::atomic<std::uint64_t> shrinks_{ 0 };
	std::atomic<std::uint64_t> shrunkBytes_{ 0 };

	mutable std::mutex cleanMutex_;
	std::unordered_map<ContentKey, CleanEntry, ContentKeyHash> clean_; /* guarded by cleanMutex_ */
	std::list<ContentKey> lru_;  /* guarded by cleanMutex_; most recent first */
	std::uint64_t evictions_ = 0;    /* guarded by cleanMutex_ */
	std::uint64_t evictedBytes_ = 0; /* guarded by cleanMutex_ */
};

template<typename Fn>
Result<std::size_t> BlockPool::modifyDirtyInPlace(InodeId inode, ChunkIndex chunk, Fn &&fn)
{
	std::shared_ptr<MutableBlockData> block = findDirty(inode, chunk);
	if (!block)
		return Error(ENOENT, "no dirty block");

	std::unique_lock lock(block->mutex);
	if (block->removed)
		return Error(ENOENT, "dirty block was removed");
	dirtyWrites_.fetch_add(1, std::memory_order_relaxed);

	using R = std::invoke_result_t<Fn, ChunkBuffer &>;
	if constexpr (std::is_void_v<R>) {
		std::forward<Fn>(fn)(block->buffer);
	} else {
		Result<void> r = std::forward<Fn>(fn)(block->buffer);
		if (!r)
			return r.error();
	}
	return block->buffer.size();
}

} /* namespace vfs::pool */
