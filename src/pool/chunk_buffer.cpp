// A dirty chunk's bytes over a private anonymous mapping.
#include "pool/chunk_buffer.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include <sys/mman.h>
#include <unistd.h>

#include "pool/memory_budget.h"

namespace vfs::pool {

namespace {

std::size_t roundUpToPage(std::size_t n)
{
	std::size_t page = ChunkBuffer::pageSize();
	return (n + page - 1) / page * page;
}

} /* namespace */

std::size_t ChunkBuffer::pageSize()
{
	static const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
	return page;
}

Result<ChunkBuffer> ChunkBuffer::reserve(std::size_t capacity, MemoryBudget *budget)
{
	capacity = roundUpToPage(capacity);
	if (capacity == 0)
		return ChunkBuffer(nullptr, 0, budget);

	/* NORESERVE: the kernel commits a page only when it is first written. */
	void *p = mmap(nullptr, capacity, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return Error(errno, "cannot reserve " + std::to_string(capacity) + " bytes");
	return ChunkBuffer(static_cast<std::byte *>(p), capacity, budget);
}

ChunkBuffer::ChunkBuffer(std::byte *data, std::size_t capacity, MemoryBudget *budget)
	: data_(data), capacity_(capacity), budget_(budget)
{
	if (budget_)
		budget_->addReserved(capacity_);
}

ChunkBuffer::ChunkBuffer(ChunkBuffer &&other) noexcept
	: data_(std::exchange(other.data_, nullptr)),
	  size_(std::exchange(other.size_, 0)),
	  capacity_(std::exchange(other.capacity_, 0)),
	  remaps_(std::exchange(other.remaps_, 0)),
	  punched_(std::exchange(other.punched_, {})),
	  punchedBytes_(std::exchange(other.punchedBytes_, 0)),
	  budget_(other.budget_)
{
}

ChunkBuffer &ChunkBuffer::operator=(ChunkBuffer &&other) noexcept
{
	if (this != &other) {
		release();
		data_ = std::exchange(other.data_, nullptr);
		size_ = std::exchange(other.size_, 0);
		capacity_ = std::exchange(other.capacity_, 0);
		remaps_ = std::exchange(other.remaps_, 0);
		punched_ = std::exchange(other.punched_, {});
		punchedBytes_ = std::exchange(other.punchedBytes_, 0);
		budget_ = other.budget_;
	}
	return *this;
}

ChunkBuffer::~ChunkBuffer()
{
	release();
}

void ChunkBuffer::release()
{
	if (budget_) {
		budget_->release(size_ - punchedBytes_, BlockKind::Dirty);
		budget_->removeReserved(capacity_);
	}
	if (data_)
		munmap(data_, capacity_);
	data_ = nullptr;
	size_ = 0;
	punched_.clear();
	punchedBytes_ = 0;
	capacity_ = 0;
	/* A released buffer may outlive its pool (through a handle): forget the budget. */
	budget_ = nullptr;
}

Result<void> ChunkBuffer::growCapacity(std::size_t minCapacity)
{
	/* Double so that a run of appends past a shrunk buffer remaps O(log n) times. */
	std::size_t newCapacity = roundUpToPage(std::max(minCapacity, capacity_ * 2));
	void *p;
	if (data_)
		p = mremap(data_, capacity_, newCapacity, MREMAP_MAYMOVE);
	else
		p = mmap(nullptr, newCapacity, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return Error(errno, "cannot grow chunk buffer to " + std::to_string(newCapacity) + " bytes");
	if (budget_)
		budget_->addReserved(newCapacity - capacity_);
	data_ = static_cast<std::byte *>(p);
	capacity_ = newCapacity;
	++remaps_;
	return {};
}

Result<void> ChunkBuffer::resize(std::size_t size)
{
	if (size > size_) {
		if (budget_ && !budget_->tryCharge(size - size_, BlockKind::Dirty))
			return Error(ENOBUFS, "memory pool full");
		if (size > capacity_) {
			auto r = growCapacity(size);
			if (!r) {
				if (budget_)
					budget_->release(size - size_, BlockKind::Dirty);
				return r;
			}
		}
		/* [size_, size) is already zero: see the class invariant. */
		size_ = size;
		return {};
	}

	if (size < size_) {
		/* Keep the invariant: zero the tail of the last partial page, give back whole pages. */
		std::size_t keep = roundUpToPage(size);
		std::memset(data_ + size, 0, std::min(keep, size_) - size);
		if (keep < size_)
			madvise(data_ + keep, roundUpToPage(size_) - keep, MADV_DONTNEED);
		std::size_t wasPunched = clipPunched(size);
		if (budget_)
			budget_->release(size_ - size - wasPunched, BlockKind::Dirty);
		size_ = size;
	}
	return {};
}

Result<void> ChunkBuffer::write(std::size_t offset, std::span<const std::byte> src)
{
	if (src.empty())
		return {};
	std::size_t end = offset + src.size();
	if (end < offset)
		return Error(EFBIG, "write past the end of the address space");
	if (!punched_.empty()) {
		auto r = unpunch(offset, std::min(end, size_));
		if (!r)
			return r;
	}
	if (end > size_) {
		auto r = resize(end);
		if (!r)
			return r;
	}
	std::memcpy(data_ + offset, src.data(), src.size());
	return {};
}

std::size_t ChunkBuffer::punch(std::size_t offset, std::size_t length)
{
	std::size_t page = pageSize();
	std::size_t start = roundUpToPage(std::min(offset, size_));
	std::size_t end = std::min(offset + length, size_) / page * page;
	if (start >= end)
		return 0;
	/* Merge with the punched ranges it overlaps or touches; count only the new bytes. */
	std::size_t already = 0;
	auto it = punched_.upper_bound(start);
	if (it != punched_.begin() && std::prev(it)->second >= start)
		--it;
	std::size_t mergedStart = start, mergedEnd = end;
	while (it != punched_.end() && it->first <= end) {
		std::size_t s = std::max(start, it->first), e = std::min(end, it->second);
		if (s < e)
			already += e - s;
		mergedStart = std::min(mergedStart, it->first);
		mergedEnd = std::max(mergedEnd, it->second);
		it = punched_.erase(it);
	}
	punched_.emplace(mergedStart, mergedEnd);
	madvise(data_ + start, end - start, MADV_DONTNEED);
	std::size_t released = end - start - already;
	punchedBytes_ += released;
	if (budget_)
		budget_->release(released, BlockKind::Dirty);
	return released;
}

Result<void> ChunkBuffer::unpunch(std::size_t start, std::size_t end)
{
	std::size_t page = pageSize();
	/* Whole pages: a write into part of a punched page makes the whole page resident. */
	start = start / page * page;
	end = roundUpToPage(end);
	std::size_t overlap = 0;
	auto first = punched_.upper_bound(start);
	if (first != punched_.begin())
		--first;
	for (auto it = first; it != punched_.end() && it->first < end; ++it) {
		std::size_t s = std::max(start, it->first), e = std::min(end, it->second);
		if (s < e)
			overlap += e - s;
	}
	if (overlap == 0)
		return {};
	if (budget_ && !budget_->tryCharge(overlap, BlockKind::Dirty))
		return Error(ENOBUFS, "memory pool full");
	auto it = first;
	while (it != punched_.end() && it->first < end) {
		auto [s, e] = *it;
		if (e <= start) {
			++it;
			continue;
		}
		it = punched_.erase(it);
		if (s < start)
			punched_.emplace(s, start);
		if (e > end)
			it = punched_.emplace(end, e).first;
	}
	punchedBytes_ -= overlap;
	return {};
}

std::size_t ChunkBuffer::clipPunched(std::size_t limit)
{
	std::size_t dropped = 0;
	auto it = punched_.lower_bound(limit);
	if (it != punched_.begin() && std::prev(it)->second > limit) {
		--it;
		dropped += it->second - limit;
		it->second = limit;
		if (it->first == it->second)
			it = punched_.erase(it);
		else
			++it;
	}
	while (it != punched_.end()) {
		dropped += it->second - it->first;
		it = punched_.erase(it);
	}
	punchedBytes_ -= dropped;
	return dropped;
}

std::size_t ChunkBuffer::shrinkToFit()
{
	std::size_t keep = roundUpToPage(size_);
	if (keep >= capacity_)
		return 0;
	std::size_t released = capacity_ - keep;
	if (keep == 0) {
		munmap(data_, capacity_);
		data_ = nullptr;
	} else {
		munmap(data_ + keep, released);
	}
	capacity_ = keep;
	if (budget_)
		budget_->removeReserved(released);
	return released;
}

} /* namespace vfs::pool */
