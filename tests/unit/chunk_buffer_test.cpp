// ChunkBuffer: reservation without touching memory, zero-filled growth, release of pages.
#include "pool/chunk_buffer.h"

#include <algorithm>
#include <vector>

#include <gtest/gtest.h>

#include "pool/memory_budget.h"
#include "rss.h"

using vfs::pool::BlockKind;
using vfs::pool::ChunkBuffer;
using vfs::pool::MemoryBudget;

namespace {

constexpr std::size_t MiB = 1 << 20;

std::vector<std::byte> pattern(std::size_t n, unsigned char seed)
{
	std::vector<std::byte> v(n);
	for (std::size_t i = 0; i < n; ++i)
		v[i] = std::byte(static_cast<unsigned char>(seed + i * 31));
	return v;
}

bool allZero(std::span<const std::byte> s)
{
	return std::all_of(s.begin(), s.end(), [](std::byte b) { return b == std::byte{ 0 }; });
}

TEST(ChunkBuffer, ReservingDoesNotTouchMemory)
{
	std::size_t before = vfs::test::residentBytes();
	auto buf = ChunkBuffer::reserve(256 * MiB, nullptr);
	ASSERT_TRUE(buf.ok());
	auto data = pattern(4096, 1);
	ASSERT_TRUE(buf->write(0, data).ok());
	std::size_t after = vfs::test::residentBytes();
	EXPECT_EQ(buf->capacity(), 256 * MiB);
	EXPECT_LT(after - std::min(after, before), 1 * MiB);
}

TEST(ChunkBuffer, HolesAndGrowthReadAsZeros)
{
	auto buf = ChunkBuffer::reserve(1 * MiB, nullptr);
	ASSERT_TRUE(buf.ok());
	auto data = pattern(100, 7);
	ASSERT_TRUE(buf->write(5000, data).ok());
	EXPECT_EQ(buf->size(), 5100u);
	EXPECT_TRUE(allZero(buf->bytes().first(5000)));
	EXPECT_TRUE(std::equal(data.begin(), data.end(), buf->bytes().begin() + 5000));
}

TEST(ChunkBuffer, TruncateThenExtendReadsZeros)
{
	auto buf = ChunkBuffer::reserve(1 * MiB, nullptr);
	ASSERT_TRUE(buf.ok());
	auto data = pattern(3 * 4096 + 123, 9);
	ASSERT_TRUE(buf->write(0, data).ok());
	ASSERT_TRUE(buf->resize(100).ok());
	ASSERT_TRUE(buf->resize(data.size()).ok());
	EXPECT_TRUE(std::equal(data.begin(), data.begin() + 100, buf->bytes().begin()));
	EXPECT_TRUE(allZero(buf->bytes().subspan(100)));
}

TEST(ChunkBuffer, TruncateReturnsPagesToTheKernel)
{
	auto buf = ChunkBuffer::reserve(128 * MiB, nullptr);
	ASSERT_TRUE(buf.ok());
	ASSERT_TRUE(buf->write(0, pattern(64 * MiB, 3)).ok());
	std::size_t full = vfs::test::residentBytes();
	ASSERT_TRUE(buf->resize(4096).ok());
	std::size_t truncated = vfs::test::residentBytes();
	EXPECT_GT(full - std::min(full, truncated), 60 * MiB);
}

TEST(ChunkBuffer, ShrinkToFitDropsCapacityKeepsData)
{
	auto buf = ChunkBuffer::reserve(256 * MiB, nullptr);
	ASSERT_TRUE(buf.ok());
	auto data = pattern(10 * MiB + 5, 4);
	ASSERT_TRUE(buf->write(0, data).ok());
	std::size_t released = buf->shrinkToFit();
	EXPECT_EQ(buf->capacity(), 10 * MiB + 4096);
	EXPECT_EQ(released, 256 * MiB - buf->capacity());
	EXPECT_EQ(buf->shrinkToFit(), 0u);
	EXPECT_TRUE(std::equal(data.begin(), data.end(), buf->bytes().begin()));
}

TEST(ChunkBuffer, GrowingPastCapacityRemapsAndKeepsData)
{
	auto buf = ChunkBuffer::reserve(4096, nullptr);
	ASSERT_TRUE(buf.ok());
	auto data = pattern(4096, 5);
	ASSERT_TRUE(buf->write(0, data).ok());
	auto more = pattern(3 * MiB, 6);
	ASSERT_TRUE(buf->write(4096 + 10, more).ok());
	EXPECT_GE(buf->capacity(), 3 * MiB + 4106);
	EXPECT_EQ(buf->remaps(), 1u);
	EXPECT_TRUE(std::equal(data.begin(), data.end(), buf->bytes().begin()));
	EXPECT_TRUE(allZero(buf->bytes().subspan(4096, 10)));
	EXPECT_TRUE(std::equal(more.begin(), more.end(), buf->bytes().begin() + 4106));
}

TEST(ChunkBuffer, EmptyReservationGrowsOnFirstWrite)
{
	auto buf = ChunkBuffer::reserve(0, nullptr);
	ASSERT_TRUE(buf.ok());
	EXPECT_EQ(buf->capacity(), 0u);
	ASSERT_TRUE(buf->write(0, pattern(10, 1)).ok());
	EXPECT_EQ(buf->size(), 10u);
}

TEST(ChunkBuffer, ChargesSizeToTheBudgetAndRefusesOverflow)
{
	MemoryBudget budget(1 * MiB);
	{
		auto buf = ChunkBuffer::reserve(8 * MiB, &budget);
		ASSERT_TRUE(buf.ok());
		EXPECT_EQ(budget.reserved(), 8 * MiB);
		ASSERT_TRUE(buf->write(0, pattern(512 * 1024, 1)).ok());
		EXPECT_EQ(budget.dirty(), 512u * 1024);

		auto r = buf->write(512 * 1024, pattern(MiB, 2));
		ASSERT_FALSE(r.ok());
		EXPECT_EQ(r.error().code(), ENOBUFS);
		EXPECT_EQ(buf->size(), 512u * 1024);
		EXPECT_EQ(budget.dirty(), 512u * 1024);
		EXPECT_EQ(budget.rejections(), 1u);

		ASSERT_TRUE(buf->resize(1000).ok());
		EXPECT_EQ(budget.dirty(), 1000u);
	}
	EXPECT_EQ(budget.used(), 0u);
	EXPECT_EQ(budget.reserved(), 0u);
}

TEST(ChunkBuffer, MoveTransfersOwnership)
{
	MemoryBudget budget(1 * MiB);
	auto a = ChunkBuffer::reserve(1 * MiB, &budget);
	ASSERT_TRUE(a.ok());
	ASSERT_TRUE(a->write(0, pattern(100, 1)).ok());
	ChunkBuffer b = std::move(*a);
	EXPECT_EQ(a->size(), 0u);
	EXPECT_EQ(a->data(), nullptr);
	EXPECT_EQ(b.size(), 100u);
	EXPECT_EQ(budget.dirty(), 100u);
	b.release();
	EXPECT_EQ(budget.dirty(), 0u);
}

} /* namespace */

namespace {

TEST(ChunkBuffer, PunchGivesPagesBackAndAWriteTakesThemAgain)
{
	MemoryBudget budget(128 * MiB);
	auto buf = ChunkBuffer::reserve(64 * MiB, &budget);
	ASSERT_TRUE(buf.ok());
	auto data = pattern(48 * MiB, 5);
	ASSERT_TRUE(buf->write(0, data).ok());
	EXPECT_EQ(budget.dirty(), 48 * MiB);
	std::size_t full = vfs::test::residentBytes();

	/* Two neighbouring ranges merge; a second punch of the same bytes releases nothing. */
	EXPECT_EQ(buf->punch(8 * MiB, 16 * MiB), 16 * MiB);
	EXPECT_EQ(buf->punch(24 * MiB, 8 * MiB), 8 * MiB);
	EXPECT_EQ(buf->punch(10 * MiB, 4 * MiB), 0u);
	EXPECT_EQ(buf->punchedBytes(), 24 * MiB);
	EXPECT_EQ(budget.dirty(), 24 * MiB);
	EXPECT_GT(full - std::min(full, vfs::test::residentBytes()), 20 * MiB);
	EXPECT_TRUE(allZero(buf->bytes().subspan(8 * MiB, 24 * MiB)));
	EXPECT_TRUE(std::equal(data.begin(), data.begin() + 8 * MiB, buf->bytes().begin()));
	EXPECT_TRUE(std::equal(data.begin() + 32 * MiB, data.end(), buf->bytes().begin() + 32 * MiB));

	/* A write into the hole charges its pages again (whole pages). */
	ASSERT_TRUE(buf->write(20 * MiB + 100, pattern(10, 6)).ok());
	EXPECT_EQ(buf->punchedBytes(), 24 * MiB - ChunkBuffer::pageSize());
	EXPECT_EQ(budget.dirty(), 24 * MiB + ChunkBuffer::pageSize());

	/* Shrinking below the hole uncharges only what was still charged. */
	ASSERT_TRUE(buf->resize(16 * MiB).ok());
	EXPECT_EQ(buf->punchedBytes(), 8 * MiB);
	EXPECT_EQ(budget.dirty(), 8 * MiB);
	buf->release();
	EXPECT_EQ(budget.dirty(), 0u);
}

TEST(ChunkBuffer, PunchIntoAFullBudgetCannotBeWrittenBackWithoutRoom)
{
	MemoryBudget budget(8 * MiB);
	auto buf = ChunkBuffer::reserve(16 * MiB, &budget);
	ASSERT_TRUE(buf.ok());
	ASSERT_TRUE(buf->write(0, pattern(8 * MiB, 7)).ok());
	EXPECT_EQ(buf->punch(0, 4 * MiB), 4 * MiB);
	/* Room for 4 MiB elsewhere; the hole then cannot be charged again. */
	ASSERT_TRUE(buf->write(8 * MiB, pattern(4 * MiB, 8)).ok());
	auto r = buf->write(0, pattern(4096, 9));
	ASSERT_FALSE(r.ok());
	EXPECT_EQ(r.error().code(), ENOBUFS);
	EXPECT_EQ(budget.dirty(), 8 * MiB);
}

} /* namespace */
