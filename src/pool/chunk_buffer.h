// A dirty chunk's bytes: reserved up front as untouched anonymous memory, written in place.
#pragma once

#include <cstddef>
#include <map>
#include <span>

#include "common/result.h"

namespace vfs::pool {

class MemoryBudget;

/*
 * A growable byte buffer over a private anonymous mapping. Reserving capacity
 * costs address space only: a page becomes resident when first written. Bytes
 * in [size, capacity) are always zero, so growing never has to clear memory
 * and holes read as zeros. Size changes are charged to the budget (if any).
 *
 * The budget is charged for size() minus the punched pages.
 *
 * Not thread-safe: the pool guards each buffer with its block's lock.
 */
class ChunkBuffer
{
public:
	/* Reserves @capacity bytes (rounded up to pages) without touching them. */
	static Result<ChunkBuffer> reserve(std::size_t capacity, MemoryBudget *budget);

	ChunkBuffer() = default;
	ChunkBuffer(ChunkBuffer &&other) noexcept;
	ChunkBuffer &operator=(ChunkBuffer &&other) noexcept;
	ChunkBuffer(const ChunkBuffer &) = delete;
	ChunkBuffer &operator=(const ChunkBuffer &) = delete;
	~ChunkBuffer();

	std::byte *data() { return data_; }
	const std::byte *data() const { return data_; }
	std::size_t size() const { return size_; }
	std::size_t capacity() const { return capacity_; }
	bool empty() const { return size_ == 0; }
	std::span<std::byte> bytes() { return { data_, size_ }; }
	std::span<const std::byte> bytes() const { return { data_, size_ }; }

	/*
	 * Sets the size. Growing reads as zeros and, past the capacity, remaps
	 * (moves page tables, never copies bytes). Shrinking returns the whole
	 * pages past the new end to the kernel. Fails with ENOBUFS when the budget
	 * refuses the growth; the buffer is then unchanged.
	 */
	Result<void> resize(std::size_t size);

	/* Copies @src to @offset, growing the buffer as resize() does. O(src.size()). */
	Result<void> write(std::size_t offset, std::span<const std::byte> src);

	/*
	 * Gives the whole pages inside [offset, offset + length) back to the
	 * kernel and uncharges them: they read as zeros from now on, and a
	 * later write into them charges them again. For bytes that are safe
	 * elsewhere (already uploaded). Returns the bytes released.
	 */
	std::size_t punch(std::size_t offset, std::size_t length);
	/* Bytes inside [0, size()) given back by punch() and not written since. */
	std::size_t punchedBytes() const { return punchedBytes_; }

	/* Drops the capacity past the last page in use; returns the bytes of address space released. */
	std::size_t shrinkToFit();

	/* Unmaps everything and uncharges the size; the buffer becomes empty with no capacity. */
	void release();

	/* Times the buffer had to be remapped to grow past its capacity. */
	std::size_t remaps() const { return remaps_; }

	static std::size_t pageSize();

private:
	ChunkBuffer(std::byte *data, std::size_t capacity, MemoryBudget *budget);
	Result<void> growCapacity(std::size_t minCapacity);
	/* Charges the punched pages inside [start, end) again before they are written. */
	Result<void> unpunch(std::size_t start, std::size_t end);
	/* Forgets the punched pages at or past @limit; returns how many bytes those were. */
	std::size_t clipPunched(std::size_t limit);

	std::byte *data_ = nullptr;
	std::size_t size_ = 0;
	std::size_t capacity_ = 0;
	std::size_t remaps_ = 0;
	/* Page-aligned punched ranges start -> end, disjoint, inside [0, size_); not charged. */
	std::map<std::size_t, std::size_t> punched_;
	std::size_t punchedBytes_ = 0;
	MemoryBudget *budget_ = nullptr;
};

} /* namespace vfs::pool */
