// The seed's write scenario: 100 MiB as 25,600 writes of 4 KiB, in place vs the old copy-on-write pool.
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include <benchmark/benchmark.h>

#include "pool/block_pool.h"

using namespace vfs::pool;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::size_t KiB = 1 << 10;
constexpr std::size_t MiB = 1 << 20;
constexpr std::size_t kWrite = 4 * KiB;
constexpr std::size_t kFile = 100 * MiB;
constexpr std::size_t kWrites = kFile / kWrite; /* 25,600 */
constexpr std::size_t kWindow = 256;            /* writes averaged for "start" and "end" */

const std::vector<std::byte> &writeBytes()
{
	static const std::vector<std::byte> bytes(kWrite, std::byte{ 0x42 });
	return bytes;
}

/*
 * The seed's old scheme, reproduced as the baseline: blocks are immutable
 * shared vectors, so every write clones the chunk, patches the clone and
 * swaps in a new block: O(chunk size) per write.
 */
class CopyOnWritePool
{
public:
	void insert(InodeId inode, ChunkIndex chunk, std::vector<std::byte> bytes)
	{
		std::lock_guard lock(mutex_);
		blocks_[{ inode, chunk }] = std::make_shared<const std::vector<std::byte>>(std::move(bytes));
	}

	void write(InodeId inode, ChunkIndex chunk, std::size_t offset, std::span<const std::byte> src)
	{
		std::lock_guard lock(mutex_);
		auto &slot = blocks_[{ inode, chunk }];
		std::vector<std::byte> copy = *slot; /* the clone the seed measured */
		if (copy.size() < offset + src.size())
			copy.resize(offset + src.size());
		std::copy(src.begin(), src.end(), copy.begin() + static_cast<std::ptrdiff_t>(offset));
		slot = std::make_shared<const std::vector<std::byte>>(std::move(copy));
	}

	std::size_t size(InodeId inode, ChunkIndex chunk)
	{
		std::lock_guard lock(mutex_);
		return blocks_[{ inode, chunk }]->size();
	}

private:
	std::mutex mutex_;
	std::map<std::pair<InodeId, ChunkIndex>, std::shared_ptr<const std::vector<std::byte>>> blocks_;
};

double seconds(Clock::duration d)
{
	return std::chrono::duration<double>(d).count();
}

void appendInPlace(BlockPool &pool, std::size_t offset)
{
	auto r = pool.modifyDirtyInPlace(1, 0, [&](ChunkBuffer &buf) { return buf.write(offset, writeBytes()); });
	if (!r)
		std::abort();
}

/* (a) The whole scenario through modifyDirtyInPlace, timing every write. */
void BM_SeedScenarioInPlace(benchmark::State &state)
{
	double startSum = 0, endSum = 0, total = 0;
	for (auto _ : state) {
		BlockPool pool(PoolConfig{ kDefaultChunkSize, 1024 * MiB });
		if (!pool.insertDirty(1, 0, {}).ok())
			std::abort();
		auto begin = Clock::now();
		for (std::size_t i = 0; i < kWrites; ++i) {
			auto t0 = Clock::now();
			appendInPlace(pool, i * kWrite);
			double dt = seconds(Clock::now() - t0);
			if (i < kWindow)
				startSum += dt;
			else if (i >= kWrites - kWindow)
				endSum += dt;
		}
		total += seconds(Clock::now() - begin);
		benchmark::DoNotOptimize(pool.getDirty(1, 0)->size());
	}
	double n = static_cast<double>(state.iterations());
	state.counters["us_per_write_start"] = startSum / n / kWindow * 1e6;
	state.counters["us_per_write_end"] = endSum / n / kWindow * 1e6;
	state.counters["scenario_s"] = total / n;
	state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * kFile));
}
BENCHMARK(BM_SeedScenarioInPlace)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(5);

/*
 * (b) The copy-on-write baseline over the same scenario. Run in full it copies
 * ~1.3 TB and takes many minutes, so each fill level in steps of 5 MiB is
 * timed (after warm-up writes, so the allocator is in the steady state a full
 * run would reach) and the scenario total is the trapezoid sum over the
 * 25,600 writes. scenario10_s_estimated is the same sum over the first 10 MiB:
 * compare it with BM_CopyOnWriteFull10MiB, which runs those writes for real.
 */
void BM_SeedScenarioCopyOnWrite(benchmark::State &state)
{
	constexpr std::size_t kStep = 5 * MiB, kWarmup = 4, kSamples = 8;
	std::vector<double> perWrite; /* seconds per write at fill 0, 5, ..., 100 MiB */
	for (auto _ : state) {
		perWrite.clear();
		for (std::size_t fill = 0; fill <= kFile; fill += kStep) {
			CopyOnWritePool pool;
			pool.insert(1, 0, std::vector<std::byte>(fill, std::byte{ 0x42 }));
			for (std::size_t w = 0; w < kWarmup; ++w)
				pool.write(1, 0, fill, writeBytes());
			auto t0 = Clock::now();
			for (std::size_t s = 0; s < kSamples; ++s)
				pool.write(1, 0, fill, writeBytes());
			perWrite.push_back(seconds(Clock::now() - t0) / kSamples);
		}
	}
	auto sumUpTo = [&](std::size_t levels) {
		double total = 0;
		for (std::size_t i = 0; i + 1 < levels; ++i)
			total += (perWrite[i] + perWrite[i + 1]) / 2 * static_cast<double>(kStep / kWrite);
		return total;
	};
	state.counters["us_per_write_start"] = perWrite.front() * 1e6;
	state.counters["us_per_write_end"] = perWrite.back() * 1e6;
	state.counters["scenario_s_estimated"] = sumUpTo(perWrite.size());
	state.counters["scenario10_s_estimated"] = sumUpTo(3);
}
BENCHMARK(BM_SeedScenarioCopyOnWrite)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(1);

/* Both schemes for real over a 10 MiB file (2,560 writes): a measured ratio, no estimate. */
void BM_InPlaceFull10MiB(benchmark::State &state)
{
	for (auto _ : state) {
		BlockPool pool(PoolConfig{ kDefaultChunkSize, 1024 * MiB });
		if (!pool.insertDirty(1, 0, {}).ok())
			std::abort();
		for (std::size_t i = 0; i < 10 * MiB / kWrite; ++i)
			appendInPlace(pool, i * kWrite);
		benchmark::DoNotOptimize(pool.getDirty(1, 0)->size());
	}
	state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * 10 * MiB));
}
BENCHMARK(BM_InPlaceFull10MiB)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_CopyOnWriteFull10MiB(benchmark::State &state)
{
	for (auto _ : state) {
		CopyOnWritePool pool;
		pool.insert(1, 0, {});
		for (std::size_t i = 0; i < 10 * MiB / kWrite; ++i)
			pool.write(1, 0, i * kWrite, writeBytes());
		benchmark::DoNotOptimize(pool.size(1, 0));
	}
	state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * 10 * MiB));
}
BENCHMARK(BM_CopyOnWriteFull10MiB)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(2);

/* A 4 KiB overwrite in a full 256 MiB chunk: the cost must not depend on the chunk size. */
void BM_OverwriteInFullChunk(benchmark::State &state)
{
	std::size_t fill = static_cast<std::size_t>(state.range(0)) * MiB;
	BlockPool pool(PoolConfig{ kDefaultChunkSize, 1024 * MiB });
	if (!pool.insertDirty(1, 0, std::vector<std::byte>(fill, std::byte{ 1 })).ok())
		std::abort();
	std::size_t slot = 0, slots = fill / kWrite;
	for (auto _ : state) {
		appendInPlace(pool, (slot++ % slots) * kWrite);
	}
	state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * kWrite));
}
BENCHMARK(BM_OverwriteInFullChunk)->Arg(1)->Arg(64)->Arg(256)->Unit(benchmark::kNanosecond);

} /* namespace */

BENCHMARK_MAIN();
