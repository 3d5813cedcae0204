// The pool's byte budget: who holds how many bytes, and the refusal when it is full.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>

namespace vfs::pool {

enum class BlockKind { Clean, Dirty };

/*
 * Counts the bytes that blocks hold against a fixed limit. Charging is
 * lock-free; when a charge would cross the limit the reclaimer (the pool's
 * clean-block evictor) is asked for room first, and the charge fails only if
 * it cannot give enough. Thread-safe.
 */
class MemoryBudget
{
public:
	/* Returns how many bytes it released; called without budget locks held. */
	using Reclaimer = std::function<std::size_t(std::size_t needed)>;

	explicit MemoryBudget(std::size_t limit) : limit_(limit) {}

	MemoryBudget(const MemoryBudget &) = delete;
	MemoryBudget &operator=(const MemoryBudget &) = delete;

	void setReclaimer(Reclaimer reclaimer) { reclaimer_ = std::move(reclaimer); }

	/* True if @bytes of @kind now count against the limit. Dirty bytes may evict clean ones. */
	bool tryCharge(std::size_t bytes, BlockKind kind);
	void release(std::size_t bytes, BlockKind kind);

	/* Address space reserved for dirty chunks: informational, not limited. */
	void addReserved(std::size_t bytes) { reserved_.fetch_add(bytes, std::memory_order_relaxed); }
	void removeReserved(std::size_t bytes) { reserved_.fetch_sub(bytes, std::memory_order_relaxed); }

	std::size_t limit() const { return limit_; }
	std::size_t used() const { return used_.load(std::memory_order_relaxed); }
	std::size_t dirty() const { return dirty_.load(std::memory_order_relaxed); }
	std::size_t clean() const { return clean_.load(std::memory_order_relaxed); }
	std::size_t reserved() const { return reserved_.load(std::memory_order_relaxed); }
	std::uint64_t rejections() const { return rejections_.load(std::memory_order_relaxed); }

private:
	bool tryAdd(std::size_t bytes);

	const std::size_t limit_;
	Reclaimer reclaimer_;
	std::atomic<std::size_t> used_{ 0 };
	std::atomic<std::size_t> dirty_{ 0 };
	std::atomic<std::size_t> clean_{ 0 };
	std::atomic<std::size_t> reserved_{ 0 };
	std::atomic<std::uint64_t> rejections_{ 0 };
};

} /* namespace vfs::pool */
