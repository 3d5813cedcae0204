// WorkQueue: jobs run while more are pushed, threads started only as work arrives, the bound kept.
#include "fs/work_queue.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

#include <gtest/gtest.h>

using vfs::fs::WorkQueue;

namespace {

TEST(WorkQueue, RunsEveryJobOnceWithinTheBound)
{
	std::atomic<int> running{ 0 }, most{ 0 };
	std::mutex mutex;
	std::multiset<int> ran;
	WorkQueue<int> queue(4, [&](int &job) {
		int now = ++running;
		for (int seen = most.load(); now > seen && !most.compare_exchange_weak(seen, now);)
			;
		std::this_thread::sleep_for(std::chrono::milliseconds(2));
		--running;
		std::lock_guard lock(mutex);
		ran.insert(job);
	});
	for (int i = 0; i < 100; ++i)
		queue.push(i);
	queue.finish();
	ASSERT_EQ(ran.size(), 100u);
	for (int i = 0; i < 100; ++i)
		EXPECT_EQ(ran.count(i), 1u) << i;
	EXPECT_LE(most.load(), 4);
	EXPECT_GE(most.load(), 2) << "jobs ran one at a time";
	EXPECT_EQ(queue.threads(), 0u) << "finish() joins its threads";
}

TEST(WorkQueue, JobsRunWhileTheProducerIsStillPushing)
{
	std::mutex mutex;
	std::condition_variable cv;
	bool firstRan = false;
	WorkQueue<int> queue(2, [&](int &) {
		std::lock_guard lock(mutex);
		firstRan = true;
		cv.notify_all();
	});
	queue.push(1);
	{
		/* Nothing is finished yet: the job must start on its own. */
		std::unique_lock lock(mutex);
		EXPECT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return firstRan; }));
	}
	queue.finish();
}

TEST(WorkQueue, AHandfulOfJobsCostsAHandfulOfThreads)
{
	WorkQueue<int> queue(16, [](int &) { std::this_thread::sleep_for(std::chrono::milliseconds(5)); });
	for (int i = 0; i < 3; ++i)
		queue.push(i);
	EXPECT_GE(queue.threads(), 1u);
	EXPECT_LE(queue.threads(), 3u);
	queue.finish();
}

TEST(WorkQueue, WithoutThreadsTheCallerRunsTheJobsAtFinish)
{
	int ran = 0;
	std::thread::id caller = std::this_thread::get_id(), where;
	WorkQueue<int> queue(0, [&](int &) {
		++ran;
		where = std::this_thread::get_id();
	});
	for (int i = 0; i < 3; ++i)
		queue.push(i);
	EXPECT_EQ(ran, 0);
	queue.finish();
	EXPECT_EQ(ran, 3);
	EXPECT_EQ(where, caller);
}

TEST(WorkQueue, CancelDropsTheJobsNotStarted)
{
	std::mutex mutex;
	std::condition_variable cv;
	bool started = false, release = false;
	std::atomic<int> ran{ 0 };
	WorkQueue<int> queue(1, [&](int &) {
		++ran;
		std::unique_lock lock(mutex);
		started = true;
		cv.notify_all();
		cv.wait(lock, [&] { return release; });
	});
	for (int i = 0; i < 10; ++i)
		queue.push(i);
	{
		std::unique_lock lock(mutex);
		ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return started; }));
	}
	std::thread unblock([&] {
		std::this_thread::sleep_for(std::chrono::milliseconds(50));
		std::lock_guard lock(mutex);
		release = true;
		cv.notify_all();
	});
	queue.cancel();
	unblock.join();
	/* The one running finished; the other nine never started. */
	EXPECT_EQ(ran.load(), 1);
}

} /* namespace */
