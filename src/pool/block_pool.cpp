// The block pool: dirty chunks written in place, clean blocks shared and evicted LRU.
#include "pool/block_pool.h"

#include <algorithm>

#include <malloc.h>

namespace vfs::pool {

std::vector<std::byte> MutableBlockHandle::data() const
{
	std::shared_lock lock(block_->mutex);
	auto bytes = block_->buffer.bytes();
	return { bytes.begin(), bytes.end() };
}

std::size_t MutableBlockHandle::size() const
{
	std::shared_lock lock(block_->mutex);
	return block_->buffer.size();
}

std::size_t MutableBlockHandle::capacity() const
{
	std::shared_lock lock(block_->mutex);
	return block_->buffer.capacity();
}

BlockPool::BlockPool(PoolConfig config)
	: config_(config), budget_(config.memoryLimit)
{
	budget_.setReclaimer([this](std::size_t needed) { return evictClean(needed); });
}

BlockPool::~BlockPool()
{
	/* Blocks may outlive the pool through handles: detach their budget first. */
	for (DirtyShard &shard : shards_) {
		std::unique_lock lock(shard.mutex);
		for (auto &[key, block] : shard.blocks) {
			std::unique_lock blockLock(block->mutex);
			block->buffer.release();
			block->removed = true;
		}
		shard.blocks.clear();
	}
}

Result<MutableBlockHandle> BlockPool::insertDirty(InodeId inode, ChunkIndex chunk,
						  std::span<const std::byte> bytes)
{
	return insertDirtyWithCapacity(inode, chunk, bytes, config_.chunkSize);
}

Result<MutableBlockHandle> BlockPool::insertDirtyWithCapacity(InodeId inode, ChunkIndex chunk,
							      std::span<const std::byte> bytes,
							      std::size_t capacity)
{
	auto buffer = ChunkBuffer::reserve(std::max(capacity, bytes.size()), &budget_);
	if (!buffer)
		return buffer.error();
	auto written = buffer->write(0, bytes);
	if (!written)
		return written.error();

	auto block = std::make_shared<MutableBlockData>();
	block->buffer = std::move(*buffer);

	DirtyShard &shard = shardFor(inode);
	std::unique_lock lock(shard.mutex);
	auto [it, inserted] = shard.blocks.try_emplace(DirtyKey{ inode, chunk }, block);
	if (!inserted)
		return Error(EEXIST, "dirty block exists");
	dirtyBlocks_.fetch_add(1, std::memory_order_relaxed);
	return MutableBlockHandle(std::move(block));
}

std::shared_ptr<MutableBlockData> BlockPool::findDirty(InodeId inode, ChunkIndex chunk) const
{
	const DirtyShard &shard = shardFor(inode);
	std::shared_lock lock(shard.mutex);
	auto it = shard.blocks.find(DirtyKey{ inode, chunk });
	return it == shard.blocks.end() ? nullptr : it->second;
}

std::optional<MutableBlockHandle> BlockPool::getDirty(InodeId inode, ChunkIndex chunk) const
{
	auto block = findDirty(inode, chunk);
	if (!block)
		return std::nullopt;
	return MutableBlockHandle(std::move(block));
}

std::vector<ChunkIndex> BlockPool::dirtyChunks(InodeId inode) const
{
	std::vector<ChunkIndex> chunks;
	const DirtyShard &shard = shardFor(inode);
	{
		std::shared_lock lock(shard.mutex);
		for (const auto &[key, block] : shard.blocks)
			if (key.inode == inode)
				chunks.push_back(key.chunk);
	}
	std::sort(chunks.begin(), chunks.end());
	return chunks;
}

Result<std::size_t> BlockPool::shrinkDirtyBlock(InodeId inode, ChunkIndex chunk)
{
	auto block = findDirty(inode, chunk);
	if (!block)
		return Error(ENOENT, "no dirty block");
	std::unique_lock lock(block->mutex);
	if (block->removed)
		return Error(ENOENT, "dirty block was removed");
	std::size_t released = block->buffer.shrinkToFit();
	shrinks_.fetch_add(1, std::memory_order_relaxed);
	shrunkBytes_.fetch_add(released, std::memory_order_relaxed);
	return released;
}

Result<std::size_t> BlockPool::punchDirty(InodeId inode, ChunkIndex chunk, std::size_t offset,
					  std::size_t length)
{
	auto block = findDirty(inode, chunk);
	if (!block)
		return Error(ENOENT, "no dirty block");
	std::unique_lock lock(block->mutex);
	if (block->removed)
		return Error(ENOENT, "dirty block was removed");
	return block->buffer.punch(offset, length);
}

bool BlockPool::removeDirty(InodeId inode, ChunkIndex chunk)
{
	std::shared_ptr<MutableBlockData> block;
	{
		DirtyShard &shard = shardFor(inode);
		std::unique_lock lock(shard.mutex);
		auto it = shard.blocks.find(DirtyKey{ inode, chunk });
		if (it == shard.blocks.end())
			return false;
		block = std::move(it->second);
		shard.blocks.erase(it);
	}
	dirtyBlocks_.fetch_sub(1, std::memory_order_relaxed);

	/* Handles may still point at it: free the memory now, leave it empty. */
	std::unique_lock lock(block->mutex);
	block->buffer.release();
	block->removed = true;
	return true;
}

Result<BlockHandle> BlockPool::insertClean(const ContentKey &key, std::vector<std::byte> bytes)
{
	BlockBytes copy(bytes.begin(), bytes.end());
	return adoptClean(key, copy);
}

Result<BlockHandle> BlockPool::adoptClean(const ContentKey &key, BlockBytes &bytes)
{
	{
		std::lock_guard lock(cleanMutex_);
		auto it = clean_.find(key);
		if (it != clean_.end()) {
			lru_.splice(lru_.begin(), lru_, it->second.lru);
			return BlockHandle(it->second.block);
		}
	}

	/* Charge without cleanMutex_: the charge may call evictClean(). */
	std::size_t size = bytes.size();
	if (!budget_.tryCharge(size, BlockKind::Clean))
		return Error(ENOBUFS, "memory pool full of dirty data");

	auto block = std::make_shared<const ImmutableBlockData>(ImmutableBlockData{ std::move(bytes) });
	std::lock_guard lock(cleanMutex_);
	auto [it, inserted] = clean_.try_emplace(key);
	if (!inserted) {
		/* Another thread cached the same content meanwhile. */
		budget_.release(size, BlockKind::Clean);
		lru_.splice(lru_.begin(), lru_, it->second.lru);
		return BlockHandle(it->second.block);
	}
	lru_.push_front(key);
	it->second = CleanEntry{ block, lru_.begin() };
	return BlockHandle(std::move(block));
}

std::optional<BlockHandle> BlockPool::getClean(const ContentKey &key)
{
	std::lock_guard lock(cleanMutex_);
	auto it = clean_.find(key);
	if (it == clean_.end())
		return std::nullopt;
	lru_.splice(lru_.begin(), lru_, it->second.lru);
	return BlockHandle(it->second.block);
}

bool BlockPool::removeClean(const ContentKey &key)
{
	std::shared_ptr<const ImmutableBlockData> victim;
	std::lock_guard lock(cleanMutex_);
	auto it = clean_.find(key);
	if (it == clean_.end())
		return false;
	victim = std::move(it->second.block);
	lru_.erase(it->second.lru);
	clean_.erase(it);
	budget_.release(victim->bytes.size(), BlockKind::Clean);
	return true;
}

std::size_t BlockPool::evictClean(std::size_t needed)
{
	/* Freed after the lock is dropped; readers holding handles keep their copy alive. */
	std::vector<std::shared_ptr<const ImmutableBlockData>> victims;
	std::size_t released = 0;
	{
		std::lock_guard lock(cleanMutex_);
		while (released < needed && !lru_.empty()) {
			auto it = clean_.find(lru_.back());
			lru_.pop_back();
			std::size_t size = it->second.block->bytes.size();
			victims.push_back(std::move(it->second.block));
			clean_.erase(it);
			released += size;
			++evictions_;
			evictedBytes_ += size;
		}
		budget_.release(released, BlockKind::Clean);
	}
	return released;
}

std::size_t BlockPool::dropClean()
{
	return evictClean(SIZE_MAX);
}

ShrinkResult BlockPool::shrink()
{
	ShrinkResult result;
	{
		std::lock_guard lock(cleanMutex_);
		result.cleanBlocks = clean_.size();
	}
	result.cleanBytes = dropClean();

	/* Collected under the shard locks, shrunk under each block's own lock only. */
	std::vector<std::shared_ptr<MutableBlockData>> blocks;
	for (DirtyShard &shard : shards_) {
		std::shared_lock lock(shard.mutex);
		for (const auto &[key, block] : shard.blocks)
			blocks.push_back(block);
	}
	for (auto &block : blocks) {
		std::unique_lock lock(block->mutex);
		if (block->removed)
			continue;
		std::size_t released = block->buffer.shrinkToFit();
		if (released) {
			shrinks_.fetch_add(1, std::memory_order_relaxed);
			shrunkBytes_.fetch_add(released, std::memory_order_relaxed);
		}
		result.reservedBytes += released;
	}
	blocks.clear();

	/*
	 * Clean blocks are heap vectors: once glibc raised its mmap threshold
	 * they live in arenas that free() does not return to the kernel.
	 */
	malloc_trim(0);
	return result;
}

PoolMetrics BlockPool::metrics() const
{
	PoolMetrics m;
	m.limitBytes = budget_.limit();
	m.usedBytes = budget_.used();
	m.dirtyBytes = budget_.dirty();
	m.cleanBytes = budget_.clean();
	m.reservedBytes = budget_.reserved();
	m.dirtyBlocks = dirtyBlocks_.load(std::memory_order_relaxed);
	m.dirtyWrites = dirtyWrites_.load(std::memory_order_relaxed);
	m.budgetRejections = budget_.rejections();
	m.shrinks = shrinks_.load(std::memory_order_relaxed);
	m.shrunkBytes = shrunkBytes_.load(std::memory_order_relaxed);
	std::lock_guard lock(cleanMutex_);
	m.cleanBlocks = clean_.size();
	m.evictions = evictions_;
	m.evictedBytes = evictedBytes_;
	return m;
}

} /* namespace vfs::pool */
