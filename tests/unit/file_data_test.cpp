// FileData: writes into the pool, merged reads, truncate, and the flush planner against the fake store.
#include "fs/file_data.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <iostream>
#include <random>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "fs/fake_object_store.h"

using namespace vfs;
using namespace vfs::fs;
using Op = FakeObjectStore::Op;
using Bytes = std::vector<std::byte>;

namespace {

constexpr std::uint64_t KiB = 1 << 10;
constexpr std::uint64_t MiB = 1 << 20;

Bytes pattern(std::size_t n, std::uint32_t seed)
{
	Bytes out(n);
	std::uint32_t x = seed * 2654435761u + 12345;
	for (std::size_t i = 0; i < n; ++i) {
		x = x * 1103515245u + 12345;
		out[i] = std::byte(x >> 24);
	}
	return out;
}

Bytes readAll(FileData &file)
{
	Bytes out(static_cast<std::size_t>(file.size()));
	auto n = file.read(0, out);
	EXPECT_TRUE(n.ok()) << (n.ok() ? "" : n.error().toString());
	if (n.ok()) {
		EXPECT_EQ(*n, out.size());
	}
	return out;
}

/* Applies a write to the reference model. */
void modelWrite(Bytes &model, std::uint64_t offset, const Bytes &data)
{
	if (model.size() < offset + data.size())
		model.resize(offset + data.size());
	std::copy(data.begin(), data.end(), model.begin() + static_cast<std::ptrdiff_t>(offset));
}

class FileDataTest : public ::testing::Test
{
protected:
	void makePool(std::size_t chunkSize, std::size_t limit = 512 * MiB)
	{
		pool_ = std::make_unique<pool::BlockPool>(pool::PoolConfig{ chunkSize, limit });
	}

	FileDataConfig config(std::uint64_t blockSize, std::uint64_t partSize, std::uint64_t minPart = kMinPartSize)
	{
		FileDataConfig c;
		c.bucket = "bucket";
		c.blockSize = blockSize;
		c.partSize = partSize;
		c.minPartSize = minPart;
		c.capabilities = caps_;
		return c;
	}

	/* Stores @data as @key and returns a FileData based on it. */
	std::unique_ptr<FileData> open(const std::string &key, const FileDataConfig &c, pool::InodeId inode = 1)
	{
		std::optional<BaseObject> base;
		if (auto head = store_.object(key))
			base = BaseObject{ head->size, head->etag };
		return std::make_unique<FileData>(*pool_, store_, inode, key, base, c);
	}

	void putObject(const std::string &key, const Bytes &data)
	{
		ASSERT_TRUE(store_.put(key, data, {}).ok());
		store_.resetStats();
	}

	FakeObjectStore store_;
	std::unique_ptr<pool::BlockPool> pool_;
	std::shared_ptr<StoreCapabilities> caps_ = std::make_shared<StoreCapabilities>();
};

} /* namespace */

TEST(RangeSetTest, MergesAdjacentAndOverlapping)
{
	RangeSet s;
	s.add(10, 20);
	s.add(30, 40);
	EXPECT_EQ(s.count(), 2u);
	s.add(20, 25); /* adjacent */
	EXPECT_EQ(s.count(), 2u);
	EXPECT_TRUE(s.covers(10, 25));
	EXPECT_FALSE(s.covers(10, 26));
	s.add(24, 31); /* bridges */
	EXPECT_EQ(s.count(), 1u);
	EXPECT_TRUE(s.covers(10, 40));
	s.add(0, 5);
	auto o = s.overlapping(3, 12);
	ASSERT_EQ(o.size(), 2u);
	EXPECT_EQ(o[0], std::make_pair(std::uint64_t(3), std::uint64_t(5)));
	EXPECT_EQ(o[1], std::make_pair(std::uint64_t(10), std::uint64_t(12)));
	s.clip(15);
	EXPECT_TRUE(s.covers(10, 15));
	EXPECT_FALSE(s.covers(14, 16));
	s.clip(0);
	EXPECT_TRUE(s.empty());
}

TEST_F(FileDataTest, NewFileRoundTripIsOnePut)
{
	makePool(64 * KiB);
	auto file = open("new", config(16 * KiB, 8 * MiB));
	EXPECT_TRUE(file->dirty());
	Bytes model;
	std::mt19937 rng(7);
	for (int i = 0; i < 200; ++i) {
		std::uint64_t off = rng() % (300 * KiB);
		Bytes data = pattern(1 + rng() % (9 * KiB), static_cast<std::uint32_t>(i));
		ASSERT_TRUE(file->write(off, data).ok());
		modelWrite(model, off, data);
	}
	EXPECT_EQ(file->size(), model.size());
	EXPECT_EQ(readAll(*file), model);

	auto stats = file->flush({ { "mode", "33188" } });
	ASSERT_TRUE(stats.ok()) << stats.error().toString();
	EXPECT_EQ(stats->puts, 1u);
	EXPECT_EQ(store_.stats()[Op::Put].calls, 1u);
	EXPECT_EQ(store_.stats()[Op::CreateUpload].calls, 0u);
	EXPECT_EQ(store_.stats()[Op::Get].calls, 0u);
	EXPECT_EQ(store_.contents("new"), model);
	EXPECT_EQ(store_.object("new")->metadata.at("mode"), "33188");
	EXPECT_FALSE(file->dirty());
	EXPECT_EQ(file->base()->etag, store_.object("new")->etag);

	/* Nothing changed: no request. */
	store_.resetStats();
	auto again = file->flush({});
	ASSERT_TRUE(again.ok());
	EXPECT_FALSE(again->uploaded);
	EXPECT_EQ(store_.stats()[Op::Put].calls, 0u);

	/* Read back through clean blocks of the new ETag. */
	EXPECT_EQ(readAll(*file), model);
	EXPECT_GT(store_.stats()[Op::Get].calls, 0u);
}

TEST_F(FileDataTest, ReadsMergeBaseDirtyAndHoles)
{
	makePool(64 * KiB);
	Bytes model = pattern(100 * KiB, 1);
	putObject("f", model);
	auto file = open("f", config(16 * KiB, 8 * MiB));

	Bytes patch = pattern(5000, 2);
	ASSERT_TRUE(file->write(30000, patch).ok()); /* inside the base, straddling blocks */
	modelWrite(model, 30000, patch);
	Bytes tail = pattern(3000, 3);
	ASSERT_TRUE(file->write(200 * KiB, tail).ok()); /* sparse: a hole from 100 KiB */
	modelWrite(model, 200 * KiB, tail);
	ASSERT_TRUE(file->truncate(250 * KiB).ok()); /* extend: zeros */
	model.resize(250 * KiB);

	EXPECT_EQ(readAll(*file), model);
	/* Reads at arbitrary offsets, incl. across the base end and at EOF. */
	for (std::uint64_t off : { std::uint64_t(0), std::uint64_t(29999), std::uint64_t(100 * KiB - 10),
				   std::uint64_t(200 * KiB - 1), std::uint64_t(250 * KiB - 1) }) {
		Bytes got(7000);
		auto n = file->read(off, got);
		ASSERT_TRUE(n.ok());
		std::size_t expect = std::min<std::size_t>(7000, model.size() - off);
		ASSERT_EQ(*n, expect);
		EXPECT_TRUE(std::equal(got.begin(), got.begin() + static_cast<std::ptrdiff_t>(expect),
				       model.begin() + static_cast<std::ptrdiff_t>(off)))
			<< off;
	}
	Bytes none(10);
	EXPECT_EQ(*file->read(250 * KiB, none), 0u);
	EXPECT_EQ(*file->read(1 * MiB, none), 0u);

	/* Base bytes came in aligned 16 KiB blocks with If-Match, and are cached. */
	auto gets = store_.stats()[Op::Get].calls;
	EXPECT_LE(gets, 7u);
	EXPECT_EQ(readAll(*file), model);
	EXPECT_EQ(store_.stats()[Op::Get].calls, gets);
}

TEST_F(FileDataTest, TruncateShrinkThenExtendShowsZeros)
{
	makePool(64 * KiB);
	Bytes base = pattern(100 * KiB, 4);
	putObject("t", base);
	auto file = open("t", config(16 * KiB, 8 * MiB));
	Bytes dirty = pattern(20 * KiB, 5);
	ASSERT_TRUE(file->write(70 * KiB, dirty).ok()); /* straddles the 64 KiB chunk boundary */

	ASSERT_TRUE(file->truncate(40 * KiB).ok());
	ASSERT_TRUE(file->truncate(120 * KiB).ok());
	Bytes model(base.begin(), base.begin() + 40 * KiB);
	model.resize(120 * KiB);
	EXPECT_EQ(readAll(*file), model);

	/* A write after the shrink point leaves zeros around it, not old bytes. */
	Bytes small = pattern(10, 6);
	ASSERT_TRUE(file->write(50 * KiB, small).ok());
	modelWrite(model, 50 * KiB, small);
	EXPECT_EQ(readAll(*file), model);

	ASSERT_TRUE(file->flush({}).ok());
	EXPECT_EQ(store_.contents("t"), model);
	EXPECT_EQ(readAll(*file), model);
}

TEST_F(FileDataTest, TruncateAloneIsFlushed)
{
	makePool(64 * KiB);
	putObject("s", pattern(50 * KiB, 7));
	auto file = open("s", config(16 * KiB, 8 * MiB));
	EXPECT_FALSE(file->dirty());
	ASSERT_TRUE(file->truncate(10 * KiB).ok());
	EXPECT_TRUE(file->dirty());
	ASSERT_TRUE(file->flush({}).ok());
	Bytes expect = pattern(50 * KiB, 7);
	expect.resize(10 * KiB);
	EXPECT_EQ(store_.contents("s"), expect);
	EXPECT_EQ(store_.stats()[Op::Put].calls, 1u);
}

namespace {

/* A 64 MiB object, 16 MiB chunks, 8 MiB parts, 1 MiB blocks; a 4 KiB patch in the middle. */
void patchLarge(FakeObjectStore &store, pool::BlockPool &pool, const FileDataConfig &c, Bytes &expect,
		FlushStats &stats)
{
	expect = pattern(64 * MiB, 8);
	ASSERT_TRUE(store.put("big", expect, {}).ok());
	store.resetStats();
	auto head = store.object("big");
	FileData file(pool, store, 9, "big", BaseObject{ head->size, head->etag }, c);
	Bytes patch = pattern(4 * KiB, 9);
	std::uint64_t off = 32 * MiB + 3 * KiB;
	ASSERT_TRUE(file.write(off, patch).ok());
	modelWrite(expect, off, patch);
	auto r = file.flush({});
	ASSERT_TRUE(r.ok()) << r.error().toString();
	stats = *r;
	Bytes got(4 * KiB);
	ASSERT_EQ(*file.read(off, got), got.size());
	EXPECT_EQ(got, patch);
}

} /* namespace */

TEST_F(FileDataTest, LargePatchCopiesUntouchedParts)
{
	makePool(16 * MiB);
	Bytes expect;
	FlushStats stats;
	patchLarge(store_, *pool_, config(1 * MiB, 8 * MiB), expect, stats);
	if (HasFatalFailure())
		return;
	EXPECT_LE(store_.stats().bytesUploaded(), 8 * MiB);
	EXPECT_EQ(store_.stats().bytesCopied(), 56 * MiB);
	EXPECT_EQ(stats.bytesCopied, 56 * MiB);
	/* The untouched ranges on either side of the patched part are one copy each. */
	EXPECT_EQ(stats.uploadPartCopies, 2u);
	EXPECT_EQ(store_.stats()[Op::UploadPartCopy].calls, 2u);
	EXPECT_EQ(stats.uploadParts, 1u);
	/* One GET for the patched part's missing bytes (the patch itself is overlaid). */
	EXPECT_EQ(stats.gets, 1u);
	EXPECT_LE(stats.bytesFetched, 8 * MiB);
	EXPECT_EQ(stats.bytesFromMemory, 0u);
	EXPECT_EQ(store_.uploadsInProgress(), 0u);
	EXPECT_EQ(store_.contents("big"), expect);
	EXPECT_EQ(pool_->metrics().dirtyBytes, 0u);
	EXPECT_EQ(pool_->metrics().dirtyBlocks, 0u);
}

TEST_F(FileDataTest, LargePatchFallsBackWithoutUploadPartCopy)
{
	makePool(16 * MiB);
	store_.setUploadPartCopySupported(false);
	Bytes expect;
	FlushStats stats;
	patchLarge(store_, *pool_, config(1 * MiB, 8 * MiB), expect, stats);
	if (HasFatalFailure())
		return;
	EXPECT_EQ(store_.contents("big"), expect);
	EXPECT_EQ(store_.stats().bytesCopied(), 0u);
	EXPECT_EQ(store_.stats().bytesUploaded(), 64 * MiB);
	EXPECT_FALSE(caps_->uploadPartCopy.load());
	/* Learnt once: at most the parts in flight when it was learnt tried the copy. */
	EXPECT_LE(store_.stats()[Op::UploadPartCopy].calls, 4u);
	EXPECT_EQ(stats.copyFallbacks, store_.stats()[Op::UploadPartCopy].calls);
	/* The refused merged copies went as 8 MiB parts: memory stays bounded by a part. */
	EXPECT_EQ(stats.uploadParts, 8u);
	EXPECT_EQ(store_.stats()[Op::UploadPart].calls, 8u);
	EXPECT_EQ(store_.uploadsInProgress(), 0u);
}

TEST_F(FileDataTest, PatchesMergeUntouchedRangesIntoFewCopies)
{
	/* 100 MiB object, 8 MiB parts: patches in parts 1, 7 and 13 (the last, 4 MiB long). */
	makePool(16 * MiB);
	Bytes expect = pattern(100 * MiB, 11);
	putObject("p", expect);
	auto file = open("p", config(1 * MiB, 8 * MiB));
	for (std::uint64_t off : { 1 * MiB, 50 * MiB + 5, 99 * MiB }) {
		Bytes patch = pattern(4 * KiB, static_cast<std::uint32_t>(off));
		ASSERT_TRUE(file->write(off, patch).ok());
		modelWrite(expect, off, patch);
	}
	auto stats = file->flush({});
	ASSERT_TRUE(stats.ok()) << stats.error().toString();
	EXPECT_EQ(store_.contents("p"), expect);
	/* send [0,8), copy [8,48), send [48,56), copy [56,96), send [96,100). */
	EXPECT_EQ(store_.stats()[Op::UploadPartCopy].calls, 2u);
	EXPECT_EQ(store_.stats()[Op::UploadPart].calls, 3u);
	EXPECT_EQ(store_.stats().bytesCopied(), 80 * MiB);
	EXPECT_EQ(store_.stats().bytesUploaded(), 20 * MiB);
	EXPECT_EQ(store_.uploadsInProgress(), 0u);

	/* A second patch of the new object, in its first part: one send, one copy of the rest. */
	store_.resetStats();
	Bytes patch = pattern(4 * KiB, 99);
	ASSERT_TRUE(file->write(0, patch).ok());
	modelWrite(expect, 0, patch);
	stats = file->flush({});
	ASSERT_TRUE(stats.ok()) << stats.error().toString();
	EXPECT_EQ(store_.contents("p"), expect);
	EXPECT_EQ(store_.stats()[Op::UploadPartCopy].calls, 1u);
	EXPECT_EQ(store_.stats()[Op::UploadPart].calls, 1u);
	EXPECT_EQ(store_.stats().bytesUploaded(), 8 * MiB);
	EXPECT_EQ(store_.stats().bytesCopied(), 92 * MiB);
}

TEST_F(FileDataTest, ExtendedFileCopiesTheOldBytesOnce)
{
	/* Appending to a 40 MiB object: the old bytes are one copy, the new ones are sent. */
	makePool(16 * MiB);
	Bytes expect = pattern(40 * MiB, 12);
	putObject("a", expect);
	auto file = open("a", config(1 * MiB, 8 * MiB));
	Bytes tail = pattern(3 * MiB, 13);
	ASSERT_TRUE(file->write(40 * MiB, tail).ok());
	modelWrite(expect, 40 * MiB, tail);
	auto stats = file->flush({});
	ASSERT_TRUE(stats.ok()) << stats.error().toString();
	EXPECT_EQ(store_.contents("a"), expect);
	EXPECT_EQ(store_.stats()[Op::UploadPartCopy].calls, 1u);
	EXPECT_EQ(store_.stats()[Op::UploadPart].calls, 1u);
	EXPECT_EQ(store_.stats().bytesUploaded(), 3 * MiB);
	EXPECT_EQ(store_.stats()[Op::Get].calls, 0u);
}

TEST_F(FileDataTest, DirtyPartsGoStraightFromPoolMemory)
{
	makePool(64 * KiB);
	store_.setMinPartSize(32 * KiB);
	auto file = open("mem", config(16 * KiB, 32 * KiB, 32 * KiB));
	Bytes model = pattern(200 * KiB, 10);
	/* Many small sequential writes, as FUSE sends them. */
	for (std::size_t off = 0; off < model.size(); off += 4 * KiB)
		ASSERT_TRUE(file->write(off, std::span(model).subspan(off, 4 * KiB)).ok());
	auto stats = file->flush({});
	ASSERT_TRUE(stats.ok()) << stats.error().toString();
	EXPECT_EQ(store_.contents("mem"), model);
	EXPECT_EQ(stats->uploadParts, 7u);
	/* Every 32 KiB part lies inside one 64 KiB chunk and is all dirty. */
	EXPECT_EQ(stats->bytesFromMemory, 200 * KiB);
	EXPECT_EQ(stats->bytesFetched, 0u);
	EXPECT_EQ(store_.stats()[Op::Get].calls, 0u);
}

TEST_F(FileDataTest, FailedUploadKeepsDirtyDataAndRetries)
{
	makePool(64 * KiB);
	store_.setMinPartSize(32 * KiB);
	Bytes base = pattern(300 * KiB, 11);
	putObject("r", base);
	auto file = open("r", config(16 * KiB, 32 * KiB, 32 * KiB));
	Bytes model = base;
	Bytes patch = pattern(50 * KiB, 12);
	ASSERT_TRUE(file->write(100 * KiB, patch).ok());
	modelWrite(model, 100 * KiB, patch);
	ASSERT_TRUE(file->write(320 * KiB, patch).ok());
	modelWrite(model, 320 * KiB, patch);
	auto dirtyBefore = pool_->metrics().dirtyBytes;
	ASSERT_GT(dirtyBefore, 0u);

	store_.failNext(Op::UploadPart, EIO);
	auto failed = file->flush({});
	ASSERT_FALSE(failed.ok());
	EXPECT_EQ(failed.error().code(), EIO);
	EXPECT_TRUE(file->dirty());
	EXPECT_EQ(pool_->metrics().dirtyBytes, dirtyBefore);
	EXPECT_EQ(store_.uploadsInProgress(), 0u);
	EXPECT_EQ(store_.stats()[Op::AbortUpload].calls, 1u);
	EXPECT_EQ(store_.contents("r"), base);
	EXPECT_EQ(readAll(*file), model);

	store_.failNext(Op::CompleteUpload, EIO);
	ASSERT_FALSE(file->flush({}).ok());
	EXPECT_EQ(store_.uploadsInProgress(), 0u);
	EXPECT_EQ(store_.contents("r"), base);

	auto ok = file->flush({});
	ASSERT_TRUE(ok.ok()) << ok.error().toString();
	EXPECT_EQ(store_.contents("r"), model);
	EXPECT_EQ(store_.uploadsInProgress(), 0u);
	EXPECT_EQ(pool_->metrics().dirtyBytes, 0u);
	EXPECT_FALSE(file->dirty());
}

TEST_F(FileDataTest, FailedPutKeepsDirtyData)
{
	makePool(64 * KiB);
	auto file = open("p", config(16 * KiB, 8 * MiB));
	Bytes data = pattern(10 * KiB, 13);
	ASSERT_TRUE(file->write(0, data).ok());
	store_.failNext(Op::Put, EIO);
	auto failed = file->flush({});
	ASSERT_FALSE(failed.ok());
	EXPECT_EQ(failed.error().code(), EIO);
	EXPECT_FALSE(store_.contents("p"));
	EXPECT_EQ(readAll(*file), data);
	ASSERT_TRUE(file->flush({}).ok());
	EXPECT_EQ(store_.contents("p"), data);
}

TEST_F(FileDataTest, ChangedBaseObjectIsPickedUpWhenNothingIsUnsaved)
{
	makePool(64 * KiB);
	putObject("x", pattern(40 * KiB, 14));
	auto file = open("x", config(16 * KiB, 8 * MiB));
	Bytes got(100);
	ASSERT_TRUE(file->read(0, got).ok()); /* block 0 of the old version is cached now */
	Bytes replaced = pattern(50 * KiB, 15);
	ASSERT_TRUE(store_.put("x", replaced, {}).ok()); /* someone else */
	store_.resetStats();

	/* Block 1 is not cached: If-Match fails, the file re-reads HEAD and takes the new object. */
	auto r = file->read(20 * KiB, got);
	ASSERT_TRUE(r.ok()) << r.error().toString();
	EXPECT_EQ(*r, got.size());
	EXPECT_TRUE(std::equal(got.begin(), got.end(), replaced.begin() + 20 * KiB));
	EXPECT_EQ(store_.stats()[Op::Head].calls, 1u);
	EXPECT_EQ(file->size(), replaced.size());
	EXPECT_EQ(file->base()->etag, store_.object("x")->etag);
	/* The old version's cached block 0 is never served again. */
	EXPECT_EQ(readAll(*file), replaced);
	EXPECT_FALSE(file->dirty());
}

TEST_F(FileDataTest, ChangedBaseObjectWithUnsavedDataIsStale)
{
	makePool(64 * KiB);
	putObject("x", pattern(40 * KiB, 14));
	auto file = open("x", config(16 * KiB, 8 * MiB));
	ASSERT_TRUE(file->write(0, pattern(10, 16)).ok());
	ASSERT_TRUE(store_.put("x", pattern(40 * KiB, 15), {}).ok()); /* someone else */
	Bytes got(100);
	auto r = file->read(20 * KiB, got);
	ASSERT_FALSE(r.ok());
	EXPECT_EQ(r.error().code(), ESTALE);

	/* A flush that needs base bytes fails the same way and keeps the data. */
	auto f = file->flush({});
	ASSERT_FALSE(f.ok());
	EXPECT_EQ(f.error().code(), ESTALE);
	EXPECT_TRUE(file->dirty());
	EXPECT_EQ(file->size(), 40 * KiB);
}

TEST_F(FileDataTest, FlushReleasesPoolMemory)
{
	makePool(1 * MiB);
	auto file = open("m", config(256 * KiB, 8 * MiB));
	Bytes data = pattern(3 * MiB + 5, 17);
	ASSERT_TRUE(file->write(0, data).ok());
	auto before = pool_->metrics();
	EXPECT_GE(before.dirtyBytes, data.size());
	EXPECT_EQ(before.dirtyBlocks, 4u);
	ASSERT_TRUE(file->flush({}).ok());
	auto after = pool_->metrics();
	EXPECT_EQ(after.dirtyBytes, 0u);
	EXPECT_EQ(after.dirtyBlocks, 0u);
	EXPECT_EQ(after.reservedBytes, 0u);
	EXPECT_EQ(readAll(*file), data);
}

TEST_F(FileDataTest, PoolFullOfDirtyDataIsEnobufs)
{
	makePool(64 * KiB, 256 * KiB);
	auto file = open("full", config(16 * KiB, 8 * MiB));
	Bytes data = pattern(64 * KiB, 18);
	Result<std::size_t> r = std::size_t(0);
	std::uint64_t off = 0;
	for (int i = 0; i < 10 && r.ok(); ++i, off += data.size())
		r = file->write(off, data);
	ASSERT_FALSE(r.ok());
	EXPECT_EQ(r.error().code(), ENOBUFS);
	/* Flushing makes room again. */
	ASSERT_TRUE(file->flush({}).ok());
	EXPECT_TRUE(file->write(off, data).ok());
}

TEST_F(FileDataTest, WriteFailingInItsSecondChunkReturnsAShortCount)
{
	makePool(64 * KiB, 128 * KiB);
	auto file = open("short", config(16 * KiB, 8 * MiB));
	/* Chunk 0 fills most of the budget; chunk 1 gets the rest, then the pool says no. */
	ASSERT_TRUE(file->write(0, pattern(64 * KiB, 40)).ok());
	Bytes data = pattern(96 * KiB, 41);
	auto r = file->write(100 * KiB, data);
	ASSERT_TRUE(r.ok()) << r.error().toString();
	EXPECT_EQ(*r, 28 * KiB); /* chunk 1's part; chunk 2 did not fit */
	EXPECT_EQ(file->size(), 128 * KiB);
	/* The rest alone fails: nothing of it was written. */
	auto rest = file->write(128 * KiB, std::span(data).subspan(28 * KiB));
	ASSERT_FALSE(rest.ok());
	EXPECT_EQ(rest.error().code(), ENOBUFS);
	Bytes got(28 * KiB);
	ASSERT_TRUE(file->read(100 * KiB, got).ok());
	EXPECT_TRUE(std::equal(got.begin(), got.end(), data.begin()));
}

TEST_F(FileDataTest, ConcurrentWritersAndReaders)
{
	makePool(64 * KiB);
	Bytes base = pattern(512 * KiB, 19);
	putObject("c", base);
	auto file = open("c", config(16 * KiB, 8 * MiB));
	constexpr int kWriters = 4;
	constexpr std::size_t kRegion = 128 * KiB;
	/* Writer w owns [w * kRegion, (w + 1) * kRegion) and writes final[] bytes there. */
	Bytes final = pattern(kWriters * kRegion, 20);
	std::atomic<bool> done{ false };
	std::atomic<int> bad{ 0 };

	std::vector<std::thread> threads;
	for (int w = 0; w < kWriters; ++w) {
		threads.emplace_back([&, w]() {
			std::mt19937 rng(static_cast<unsigned>(w));
			for (int i = 0; i < 400; ++i) {
				std::size_t len = 1 + rng() % (6 * KiB);
				std::size_t off = w * kRegion + rng() % (kRegion - len);
				if (!file->write(off, std::span(final).subspan(off, len)).ok())
					bad++;
			}
			/* Then the whole region, so the end state is known. */
			if (!file->write(w * kRegion, std::span(final).subspan(w * kRegion, kRegion)).ok())
				bad++;
		});
	}
	for (int r = 0; r < 2; ++r) {
		threads.emplace_back([&, r]() {
			std::mt19937 rng(100 + static_cast<unsigned>(r));
			Bytes got(8 * KiB);
			while (!done.load()) {
				std::size_t off = rng() % (final.size() - got.size());
				auto n = file->read(off, got);
				if (!n.ok() || *n != got.size()) {
					bad++;
					continue;
				}
				/* Each byte is the old one or the new one, never anything else. */
				for (std::size_t i = 0; i < got.size(); ++i)
					if (got[i] != base[off + i] && got[i] != final[off + i])
						bad++;
			}
		});
	}
	for (int w = 0; w < kWriters; ++w)
		threads[static_cast<std::size_t>(w)].join();
	done = true;
	for (std::size_t t = kWriters; t < threads.size(); ++t)
		threads[t].join();
	EXPECT_EQ(bad.load(), 0);
	EXPECT_EQ(readAll(*file), final);
	ASSERT_TRUE(file->flush({}).ok());
	EXPECT_EQ(store_.contents("c"), final);
}

TEST_F(FileDataTest, RandomizedAgainstModel)
{
	std::random_device rd;
	unsigned seed = rd();
	if (const char *env = std::getenv("FILE_DATA_SEED"))
		seed = static_cast<unsigned>(std::strtoul(env, nullptr, 10));
	std::cout << "FileDataTest.RandomizedAgainstModel seed " << seed << " (FILE_DATA_SEED)" << std::endl;
	SCOPED_TRACE("seed " + std::to_string(seed));
	std::mt19937 rng(seed);

	makePool(64 * KiB);
	store_.setMinPartSize(32 * KiB);
	const FileDataConfig c = config(8 * KiB, 48 * KiB, 32 * KiB);
	auto file = open("rnd", c);
	Bytes model;
	constexpr std::uint64_t kMaxSize = 400 * KiB;
	unsigned flushes = 0;
	FlushStats total;

	for (int op = 0; op < 2500; ++op) {
		SCOPED_TRACE("op " + std::to_string(op));
		unsigned kind = rng() % 100;
		if (kind < 50) {
			std::uint64_t off = rng() % kMaxSize;
			std::size_t len = 1 + rng() % (rng() % 4 == 0 ? 70 * KiB : 3 * KiB);
			Bytes data = pattern(len, rng());
			ASSERT_TRUE(file->write(off, data).ok());
			modelWrite(model, off, data);
		} else if (kind < 60) {
			/* Often small, so the file keeps crossing the PUT/multipart line. */
			std::uint64_t size = rng() % (rng() % 2 ? kMaxSize : 60 * KiB);
			ASSERT_TRUE(file->truncate(size).ok());
			model.resize(size);
		} else if (kind < 92) {
			std::uint64_t off = rng() % (kMaxSize + 10 * KiB);
			Bytes got(1 + rng() % (40 * KiB));
			auto n = file->read(off, got);
			ASSERT_TRUE(n.ok()) << n.error().toString();
			std::size_t expect = off >= model.size() ? 0 : std::min<std::size_t>(got.size(), model.size() - off);
			ASSERT_EQ(*n, expect);
			ASSERT_TRUE(std::equal(got.begin(), got.begin() + static_cast<std::ptrdiff_t>(expect),
					       model.begin() + static_cast<std::ptrdiff_t>(std::min<std::uint64_t>(off, model.size()))));
		} else {
			if (rng() % 5 == 0 && file->dirty()) {
				/* A failing request first: nothing may be lost. */
				store_.failNext(model.size() < 48 * KiB ? Op::Put : Op::CompleteUpload, EIO);
				auto f = file->flush({});
				ASSERT_FALSE(f.ok());
				ASSERT_EQ(store_.uploadsInProgress(), 0u);
				ASSERT_EQ(readAll(*file), model);
			}
			store_.setUploadPartCopySupported(rng() % 4 != 0);
			caps_->uploadPartCopy = true;
			auto f = file->flush({});
			ASSERT_TRUE(f.ok()) << f.error().toString();
			flushes++;
			total.puts += f->puts;
			total.createUploads += f->createUploads;
			total.uploadPartCopies += f->uploadPartCopies;
			total.copyFallbacks += f->copyFallbacks;
			total.bytesFromMemory += f->bytesFromMemory;
			total.bytesFetched += f->bytesFetched;
			ASSERT_EQ(store_.contents("rnd"), model);
			ASSERT_EQ(store_.uploadsInProgress(), 0u);
			ASSERT_EQ(pool_->metrics().dirtyBytes, 0u);
			if (rng() % 3 == 0) {
				/* Close and reopen from what S3 holds. */
				file.reset();
				file = open("rnd", c);
			}
			ASSERT_EQ(readAll(*file), model);
		}
	}
	ASSERT_TRUE(file->flush({}).ok());
	EXPECT_EQ(store_.contents("rnd"), model);
	EXPECT_GT(flushes, 50u);
	/* The run went through every path of the planner. */
	EXPECT_GT(total.puts, 0u);
	EXPECT_GT(total.createUploads, 0u);
	EXPECT_GT(total.uploadPartCopies, 0u);
	EXPECT_GT(total.copyFallbacks, 0u);
	EXPECT_GT(total.bytesFromMemory, 0u);
	EXPECT_GT(total.bytesFetched, 0u);
}

namespace {

class ReadaheadTest : public FileDataTest
{
protected:
	static constexpr std::uint64_t kBlock = 64 * KiB;

	FileDataConfig raConfig(std::uint64_t maxBlocks, unsigned threads = 4)
	{
		FileDataConfig c = config(kBlock, 8 * MiB);
		c.readaheadMax = maxBlocks * kBlock;
		c.readThreads = threads;
		return c;
	}

	/* Reads [offset, offset + length) and checks it against @expected. */
	void readAt(FileData &file, std::uint64_t offset, std::size_t length, const Bytes &expected)
	{
		Bytes got(length);
		auto r = file.read(offset, got);
		ASSERT_TRUE(r.ok()) << r.error().toString();
		ASSERT_EQ(*r, length);
		ASSERT_TRUE(std::equal(got.begin(), got.end(), expected.begin() + static_cast<std::ptrdiff_t>(offset)))
			<< "at " << offset;
	}
};

} /* namespace */

TEST_F(ReadaheadTest, WindowDoublesPerBlockOnSequentialReads)
{
	makePool(1 * MiB);
	Bytes data = pattern(64 * kBlock, 50);
	putObject("seq", data);
	auto file = open("seq", raConfig(8));

	/* The first read is not sequential yet: its own block only. */
	readAt(*file, 0, 16 * KiB, data);
	file->waitForReadahead();
	EXPECT_EQ(store_.stats()[Op::Get].calls, 1u);

	/* 16 KiB reads: entering block k keeps min(2^k, 8) blocks fetched ahead of it. */
	for (std::uint64_t pos = 16 * KiB; pos < 20 * kBlock; pos += 16 * KiB) {
		readAt(*file, pos, 16 * KiB, data);
		file->waitForReadahead();
		std::uint64_t k = pos / kBlock;
		std::uint64_t ahead = std::min<std::uint64_t>(std::uint64_t(1) << std::min<std::uint64_t>(k, 10), 8);
		auto stats = store_.stats()[Op::Get];
		ASSERT_EQ(stats.calls, k + 1 + ahead) << "at block " << k << ", offset " << pos;
		/* Whole aligned blocks, each fetched once. */
		EXPECT_EQ(stats.bytesDownloaded, stats.calls * kBlock);
	}
	EXPECT_EQ(store_.stats()[Op::Get].failures, 0u);
}

TEST_F(ReadaheadTest, SeveralGetsInFlightAtOnce)
{
	makePool(4 * MiB, 64 * MiB);
	Bytes data = pattern(48 * kBlock, 51);
	putObject("par", data);
	store_.setGetDelay(std::chrono::milliseconds(20));
	auto file = open("par", raConfig(16, 4));
	for (std::uint64_t pos = 0; pos < data.size(); pos += 32 * KiB)
		readAt(*file, pos, 32 * KiB, data);
	auto stats = store_.stats();
	EXPECT_GE(stats.maxConcurrentGets, 3u);
	EXPECT_LE(stats.maxConcurrentGets, 5u); /* readThreads workers, plus the reader's own GET */
	EXPECT_EQ(stats[Op::Get].calls, 48u);
}

TEST_F(ReadaheadTest, RandomReadsDoNotPrefetch)
{
	makePool(1 * MiB, 64 * MiB);
	Bytes data = pattern(64 * kBlock, 52);
	putObject("rnd", data);
	auto file = open("rnd", raConfig(16));
	const std::uint64_t blocks[] = { 40, 3, 25, 60, 10, 33, 50, 17, 1, 57 };
	for (std::uint64_t b : blocks) {
		readAt(*file, b * kBlock + 1000, 4 * KiB, data);
		file->waitForReadahead();
	}
	auto stats = store_.stats()[Op::Get];
	EXPECT_EQ(stats.calls, std::size(blocks));
	EXPECT_EQ(stats.bytesDownloaded, std::size(blocks) * kBlock);

	/* A sequential run after them does prefetch, and a jump away resets the window. */
	readAt(*file, 20 * kBlock, 16 * KiB, data);
	readAt(*file, 20 * kBlock + 16 * KiB, 16 * KiB, data);
	file->waitForReadahead();
	EXPECT_EQ(store_.stats()[Op::Get].calls, std::size(blocks) + 2); /* block 20 and one ahead */
	readAt(*file, 45 * kBlock, 16 * KiB, data);
	file->waitForReadahead();
	EXPECT_EQ(store_.stats()[Op::Get].calls, std::size(blocks) + 3);
}

TEST_F(ReadaheadTest, ReadersAndPrefetchersFetchEachBlockOnce)
{
	makePool(1 * MiB, 64 * MiB);
	Bytes data = pattern(40 * kBlock + 123, 53);
	putObject("once", data);
	store_.setGetDelay(std::chrono::milliseconds(5));
	auto file = open("once", raConfig(16, 4));
	std::atomic<bool> ok{ true };
	std::vector<std::thread> readers;
	for (unsigned t = 0; t < 4; ++t) {
		readers.emplace_back([&, t]() {
			/* Each reader goes through the whole file, starting at a different place. */
			std::uint64_t start = t * 10 * kBlock;
			for (std::uint64_t i = 0; i < data.size(); i += 16 * KiB) {
				std::uint64_t pos = (start + i) % data.size();
				Bytes got(16 * KiB);
				auto r = file->read(pos, got);
				if (!r || !std::equal(got.begin(), got.begin() + static_cast<std::ptrdiff_t>(*r),
						      data.begin() + static_cast<std::ptrdiff_t>(pos)))
					ok = false;
			}
		});
	}
	for (std::thread &t : readers)
		t.join();
	file->waitForReadahead();
	EXPECT_TRUE(ok.load());
	auto stats = store_.stats()[Op::Get];
	EXPECT_EQ(stats.calls, 41u); /* every block once, nothing evicted */
	EXPECT_EQ(stats.bytesDownloaded, data.size());
}

TEST_F(ReadaheadTest, DestroyingTheFileDuringReadaheadIsClean)
{
	makePool(1 * MiB, 64 * MiB);
	Bytes data = pattern(64 * kBlock, 54);
	putObject("gone", data);
	store_.setGetDelay(std::chrono::milliseconds(30));
	for (int round = 0; round < 5; ++round) {
		auto file = open("gone", raConfig(32, 4));
		readAt(*file, 0, 16 * KiB, data);
		for (std::uint64_t pos = 16 * KiB; pos < 3 * kBlock; pos += 16 * KiB)
			readAt(*file, pos, 16 * KiB, data);
		/* Workers are fetching and more blocks are queued: the destructor drops the queue and waits. */
		file.reset();
		pool_->dropClean();
	}
	/* Far fewer than the 64 blocks each round would fetch if the queue were drained. */
	EXPECT_LT(store_.stats()[Op::Get].calls, 5u * 40);
	EXPECT_EQ(store_.stats().maxConcurrentGets > 1, true);
}

TEST_F(ReadaheadTest, ReadaheadStaysInsideTheMemoryBudget)
{
	/* 1 MiB of pool: readahead may take half, 8 blocks, although 64 are allowed. */
	makePool(256 * KiB, 1 * MiB);
	Bytes data = pattern(64 * kBlock, 55);
	putObject("small", data);
	auto file = open("small", raConfig(64));
	for (std::uint64_t pos = 0; pos < data.size(); pos += 16 * KiB) {
		readAt(*file, pos, 16 * KiB, data);
		file->waitForReadahead();
		std::uint64_t k = pos / kBlock;
		EXPECT_LE(store_.stats()[Op::Get].calls, k + 1 + 8);
		EXPECT_LE(pool_->metrics().cleanBytes, 1 * MiB);
	}
	/* Prefetched blocks were read before they were evicted: none fetched twice. */
	EXPECT_EQ(store_.stats()[Op::Get].calls, 64u);
}

TEST_F(ReadaheadTest, ReadaheadOffReadsOnDemandOnly)
{
	makePool(1 * MiB, 64 * MiB);
	Bytes data = pattern(16 * kBlock, 56);
	putObject("off", data);
	auto file = open("off", raConfig(0));
	for (std::uint64_t pos = 0; pos < 4 * kBlock; pos += 16 * KiB)
		readAt(*file, pos, 16 * KiB, data);
	file->waitForReadahead();
	EXPECT_EQ(store_.stats()[Op::Get].calls, 4u);
}

/* Streaming upload: whole parts of a new file go while it is written. */
class StreamTest : public FileDataTest
{
protected:
	void SetUp() override { makePool(16 * MiB); }
	FileDataConfig streamConfig()
	{
		FileDataConfig c = config(1 * MiB, 8 * MiB);
		c.streamAfter = 0;
		return c;
	}
	/* Writes @data at @offset in 1 MiB writes, opening the stream as the filesystem does. */
	void writeAll(FileData &file, std::uint64_t offset, const Bytes &data, const Metadata &metadata = {})
	{
		for (std::size_t done = 0; done < data.size();) {
			std::size_t n = std::min<std::size_t>(MiB, data.size() - done);
			auto r = file.write(offset + done, std::span(data).subspan(done, n));
			ASSERT_TRUE(r.ok()) << r.error().toString();
			done += *r;
			if (file.streamWanted())
				file.startStream(metadata);
		}
	}
};

TEST_F(StreamTest, WholePartsGoWhileWritingAndFlushSendsTheRest)
{
	auto file = open("s", streamConfig());
	Bytes data = pattern(40 * MiB + 123, 31);
	Metadata meta{ { "mode", "33188" } };
	writeAll(*file, 0, data, meta);
	file->waitForStream();
	/* Five whole parts were sent before any flush. */
	EXPECT_EQ(store_.stats()[Op::CreateUpload].calls, 1u);
	EXPECT_EQ(store_.stats()[Op::UploadPart].calls, 5u);
	EXPECT_EQ(store_.uploadsInProgress(), 1u);
	EXPECT_FALSE(store_.object("s"));

	auto stats = file->flush(meta);
	ASSERT_TRUE(stats.ok()) << stats.error().toString();
	/* Only the partial last part at flush; same metadata, so no rewrite. */
	EXPECT_EQ(store_.stats()[Op::UploadPart].calls, 6u);
	EXPECT_EQ(stats->uploadParts, 6u);
	EXPECT_EQ(stats->createUploads, 1u);
	EXPECT_EQ(stats->metadataCopies, 0u);
	EXPECT_EQ(stats->bytesUploaded, data.size());
	EXPECT_EQ(store_.stats()[Op::Copy].calls, 0u);
	EXPECT_EQ(store_.contents("s"), data);
	EXPECT_EQ(store_.object("s")->metadata.at("mode"), "33188");
	EXPECT_EQ(store_.uploadsInProgress(), 0u);
	EXPECT_FALSE(file->dirty());
	EXPECT_EQ(pool_->metrics().dirtyBytes, 0u);
}

TEST_F(StreamTest, ChangedMetadataIsRewrittenServerSide)
{
	auto file = open("m", streamConfig());
	Bytes data = pattern(16 * MiB, 32);
	writeAll(*file, 0, data, { { "mtime", "1" } });
	auto stats = file->flush({ { "mtime", "2" } });
	ASSERT_TRUE(stats.ok()) << stats.error().toString();
	EXPECT_EQ(stats->metadataCopies, 1u);
	EXPECT_EQ(store_.stats()[Op::Copy].calls, 1u);
	EXPECT_EQ(store_.object("m")->metadata.at("mtime"), "2");
	EXPECT_EQ(store_.contents("m"), data);
	EXPECT_EQ(file->base()->etag, store_.object("m")->etag);
}

TEST_F(StreamTest, APartWrittenAgainIsSentAgain)
{
	auto file = open("r", streamConfig());
	Bytes data = pattern(24 * MiB, 33);
	writeAll(*file, 0, data);
	file->waitForStream();
	EXPECT_EQ(store_.stats()[Op::UploadPart].calls, 3u);
	Bytes patch = pattern(4 * KiB, 34);
	ASSERT_TRUE(file->write(9 * MiB, patch).ok());
	modelWrite(data, 9 * MiB, patch);
	file->waitForStream();
	/* The patched part went again on its own. */
	EXPECT_EQ(store_.stats()[Op::UploadPart].calls, 4u);
	ASSERT_TRUE(file->flush({}).ok());
	EXPECT_EQ(store_.stats()[Op::UploadPart].calls, 4u);
	EXPECT_EQ(store_.contents("r"), data);
}

TEST_F(StreamTest, ReleasedPartsComeBackThroughTheObject)
{
	auto file = open("p", streamConfig());
	Bytes data = pattern(32 * MiB, 35);
	writeAll(*file, 0, data);
	file->waitForStream();
	std::uint64_t dirtyBefore = pool_->metrics().dirtyBytes;
	auto released = file->releaseUploaded();
	ASSERT_TRUE(released.ok()) << released.error().toString();
	EXPECT_EQ(*released, 32 * MiB);
	EXPECT_EQ(file->parkedBytes(), 32 * MiB);
	EXPECT_EQ(pool_->metrics().dirtyBytes, dirtyBefore - 32 * MiB);
	EXPECT_TRUE(file->dirty());
	EXPECT_FALSE(store_.object("p"));

	/* More data past the parked parts stays in memory. */
	Bytes tail = pattern(3 * MiB, 36);
	writeAll(*file, 32 * MiB, tail);
	modelWrite(data, 32 * MiB, tail);

	/* Reading a parked byte completes the parked parts into the object first. */
	Bytes got(4 * KiB);
	ASSERT_EQ(*file->read(5 * MiB, got), got.size());
	EXPECT_TRUE(std::equal(got.begin(), got.end(), data.begin() + 5 * MiB));
	EXPECT_EQ(file->parkedBytes(), 0u);
	ASSERT_TRUE(store_.object("p"));
	EXPECT_EQ(store_.object("p")->size, 32 * MiB);
	EXPECT_EQ(readAll(*file), data);

	auto stats = file->flush({});
	ASSERT_TRUE(stats.ok()) << stats.error().toString();
	EXPECT_EQ(store_.contents("p"), data);
	/* The parked beginning is copied server-side, not sent again. */
	EXPECT_GE(stats->bytesCopied, 32 * MiB);
	EXPECT_EQ(store_.uploadsInProgress(), 0u);
}

TEST_F(StreamTest, FlushAfterParkingUsesTheSentParts)
{
	auto file = open("q", streamConfig());
	Bytes data = pattern(30 * MiB, 37);
	writeAll(*file, 0, data);
	file->waitForStream();
	ASSERT_EQ(*file->releaseUploaded(), 24 * MiB);
	auto stats = file->flush({});
	ASSERT_TRUE(stats.ok()) << stats.error().toString();
	EXPECT_EQ(store_.stats()[Op::UploadPart].calls, 4u);
	EXPECT_EQ(store_.stats()[Op::UploadPartCopy].calls, 0u);
	EXPECT_EQ(store_.contents("q"), data);
	EXPECT_EQ(file->parkedBytes(), 0u);
	EXPECT_EQ(readAll(*file), data);
}

TEST_F(StreamTest, TruncateToZeroAbortsAndDiscardAborts)
{
	auto file = open("t", streamConfig());
	writeAll(*file, 0, pattern(20 * MiB, 38));
	file->waitForStream();
	EXPECT_EQ(store_.uploadsInProgress(), 1u);
	ASSERT_TRUE(file->truncate(0).ok());
	EXPECT_EQ(store_.uploadsInProgress(), 0u);
	Bytes small = pattern(100, 39);
	ASSERT_TRUE(file->write(0, small).ok());
	ASSERT_TRUE(file->flush({}).ok());
	EXPECT_EQ(store_.contents("t"), small);

	auto other = open("u", streamConfig(), 2);
	writeAll(*other, 0, pattern(20 * MiB, 40));
	other->waitForStream();
	EXPECT_EQ(store_.uploadsInProgress(), 1u);
	other->discard();
	EXPECT_EQ(store_.uploadsInProgress(), 0u);
	EXPECT_FALSE(store_.object("u"));
}

TEST_F(StreamTest, TruncateIntoParkedPartsKeepsTheBeginning)
{
	auto file = open("c", streamConfig());
	Bytes data = pattern(32 * MiB, 41);
	writeAll(*file, 0, data);
	file->waitForStream();
	ASSERT_EQ(*file->releaseUploaded(), 32 * MiB);
	ASSERT_TRUE(file->truncate(12 * MiB + 7).ok());
	data.resize(12 * MiB + 7);
	EXPECT_EQ(readAll(*file), data);
	ASSERT_TRUE(file->flush({}).ok());
	EXPECT_EQ(store_.contents("c"), data);
}

TEST_F(StreamTest, AFailedPartFallsBackToTheFlush)
{
	auto file = open("f", streamConfig());
	store_.failNext(Op::UploadPart, EIO, 1);
	Bytes data = pattern(33 * MiB, 42);
	writeAll(*file, 0, data);
	file->waitForStream();
	auto stats = file->flush({});
	ASSERT_TRUE(stats.ok()) << stats.error().toString();
	EXPECT_EQ(store_.contents("f"), data);
	EXPECT_EQ(store_.uploadsInProgress(), 0u);
}

TEST_F(StreamTest, StopStreamingMakesEveryByteReadable)
{
	auto file = open("o", streamConfig());
	Bytes data = pattern(20 * MiB, 43);
	writeAll(*file, 0, data);
	file->waitForStream();
	ASSERT_EQ(*file->releaseUploaded(), 16 * MiB);
	ASSERT_TRUE(file->stopStreaming().ok());
	EXPECT_EQ(store_.uploadsInProgress(), 0u);
	EXPECT_EQ(readAll(*file), data);
	/* No more parts go, however much is written. */
	store_.resetStats();
	writeAll(*file, 20 * MiB, pattern(16 * MiB, 44));
	file->waitForStream();
	EXPECT_EQ(store_.stats()[Op::UploadPart].calls, 0u);
	EXPECT_EQ(store_.stats()[Op::CreateUpload].calls, 0u);
}

TEST_F(StreamTest, SmallFilesWaitForCloseUnlessMemoryRunsShort)
{
	FileDataConfig c = streamConfig();
	c.streamAfter = 32 * MiB;
	auto file = open("later", c);
	Bytes data = pattern(24 * MiB, 46);
	writeAll(*file, 0, data);
	file->waitForStream();
	EXPECT_EQ(store_.stats()[Op::CreateUpload].calls, 0u);
	/* Past the threshold the parts written so far go too. */
	Bytes more = pattern(16 * MiB, 47);
	writeAll(*file, 24 * MiB, more);
	file->waitForStream();
	EXPECT_EQ(store_.stats()[Op::CreateUpload].calls, 1u);
	EXPECT_EQ(store_.stats()[Op::UploadPart].calls, 5u);

	/* A pool half full of unsaved data starts it below the threshold. */
	pool::BlockPool tightPool(pool::PoolConfig{ 16 * MiB, 32 * MiB });
	store_.resetStats();
	FileData tight(tightPool, store_, 3, "tight", std::nullopt, c);
	writeAll(tight, 0, pattern(20 * MiB, 48));
	tight.waitForStream();
	EXPECT_EQ(store_.stats()[Op::CreateUpload].calls, 1u);
	tight.discard();
	ASSERT_TRUE(file->flush({}).ok());
	modelWrite(data, 24 * MiB, more);
	EXPECT_EQ(store_.contents("later"), data);
}

TEST_F(StreamTest, ConcurrentWritersWhileStreaming)
{
	auto file = open("w", streamConfig());
	Bytes data = pattern(48 * MiB, 45);
	std::vector<std::thread> writers;
	for (int t = 0; t < 4; ++t)
		writers.emplace_back([&, t] {
			/* Each thread writes every fourth MiB, then rewrites some of it. */
			for (std::uint64_t m = static_cast<std::uint64_t>(t); m < 48; m += 4) {
				auto piece = std::span(data).subspan(m * MiB, MiB);
				ASSERT_TRUE(file->write(m * MiB, piece).ok());
				if (file->streamWanted())
					file->startStream({});
				if (m % 3 == 0) {
					ASSERT_TRUE(file->write(m * MiB, piece.first(64 * KiB)).ok());
				}
			}
		});
	for (auto &w : writers)
		w.join();
	(void)file->releaseUploaded();
	ASSERT_TRUE(file->flush({}).ok());
	EXPECT_EQ(store_.contents("w"), data);
	EXPECT_EQ(store_.uploadsInProgress(), 0u);
}
