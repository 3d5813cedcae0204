// The pool's byte budget.
#include "pool/memory_budget.h"

namespace vfs::pool {

bool MemoryBudget::tryAdd(std::size_t bytes)
{
	std::size_t cur = used_.load(std::memory_order_relaxed);
	do {
		if (bytes > limit_ || cur > limit_ - bytes)
			return false;
	} while (!used_.compare_exchange_weak(cur, cur + bytes, std::memory_order_relaxed));
	return true;
}

bool MemoryBudget::tryCharge(std::size_t bytes, BlockKind kind)
{
	if (bytes == 0)
		return true;

	bool ok = tryAdd(bytes);
	/* Evict clean blocks until the charge fits or nothing more can go. */
	while (!ok && reclaimer_) {
		std::size_t cur = used_.load(std::memory_order_relaxed);
		std::size_t needed = cur + bytes > limit_ ? cur + bytes - limit_ : bytes;
		if (reclaimer_(needed) == 0) {
			ok = tryAdd(bytes);
			break;
		}
		ok = tryAdd(bytes);
	}
	if (!ok) {
		rejections_.fetch_add(1, std::memory_order_relaxed);
		return false;
	}
	(kind == BlockKind::Dirty ? dirty_ : clean_).fetch_add(bytes, std::memory_order_relaxed);
	return true;
}

void MemoryBudget::release(std::size_t bytes, BlockKind kind)
{
	if (bytes == 0)
		return;
	(kind == BlockKind::Dirty ? dirty_ : clean_).fetch_sub(bytes, std::memory_order_relaxed);
	used_.fetch_sub(bytes, std::memory_order_relaxed);
}

} /* namespace vfs::pool */
