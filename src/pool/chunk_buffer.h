// A dirty chunk's bytes: reserved up front as untouched anonymous memory, written in place.
#pragma once

#include <cstddef>
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

	std::byte *data_ = nullptr;
	std::size_t size_ = 0;
	std::size_t capacity_ = 0;
	std::size_t remaps_ = 0;
	MemoryBudget *budget_ = nullptr;
};

} /* namespace vfs::pool */
