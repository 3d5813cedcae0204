// BlockBytes: the byte vector of a clean block, in its own mapping and never zero-filled twice.
#pragma once

#include <cstddef>
#include <new>
#include <vector>

namespace vfs::pool {

/*
 * An allocator for block-sized byte buffers. Large ones (2 MiB and more)
 * are their own anonymous mapping, so their memory goes back to the
 * kernel when the block is dropped (malloc's heap could keep it). Elements
 * are default-initialised (not zeroed): the kernel's pages are zero
 * already, and every block is filled by a GET anyway.
 */
template<typename T>
class BlockAllocator
{
public:
	using value_type = T;

	BlockAllocator() noexcept = default;
	template<typename U>
	BlockAllocator(const BlockAllocator<U> &) noexcept {}

	T *allocate(std::size_t n);
	void deallocate(T *p, std::size_t n) noexcept;

	template<typename U, typename... Args>
	void construct(U *p, Args &&...args)
	{
		if constexpr (sizeof...(Args) == 0)
			::new (static_cast<void *>(p)) U;
		else
			::new (static_cast<void *>(p)) U(std::forward<Args>(args)...);
	}

	template<typename U>
	bool operator==(const BlockAllocator<U> &) const noexcept { return true; }
};

/* The mapping half of BlockAllocator, out of line. */
void *allocateBlockMemory(std::size_t bytes);
void freeBlockMemory(void *p, std::size_t bytes) noexcept;

template<typename T>
T *BlockAllocator<T>::allocate(std::size_t n)
{
	return static_cast<T *>(allocateBlockMemory(n * sizeof(T)));
}

template<typename T>
void BlockAllocator<T>::deallocate(T *p, std::size_t n) noexcept
{
	freeBlockMemory(p, n * sizeof(T));
}

using BlockBytes = std::vector<std::byte, BlockAllocator<std::byte>>;

} /* namespace vfs::pool */
