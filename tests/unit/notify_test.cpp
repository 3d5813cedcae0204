// vfsd's systemd notifications: message text, watchdog pings only while the probe passes, stop progress.
#include "daemon/monitor.h"
#include "daemon/notify.h"

#include <atomic>
#include <cstdlib>
#include <memory>
#include <fcntl.h>
#include <mutex>
#include <thread>
#include <unistd.h>
#include <vector>

#include <gtest/gtest.h>

#include "fs/fake_object_store.h"
#include "fs/filesystem.h"
#include "pool/block_pool.h"

using namespace vfs::daemon;
using namespace std::chrono_literals;

namespace {

/* Records every message with the time it was sent. */
class RecordingSink : public NotifySink
{
public:
	void send(std::string_view message) override
	{
		std::lock_guard lock(mutex_);
		messages_.emplace_back(message);
	}
	std::vector<std::string> messages() const
	{
		std::lock_guard lock(mutex_);
		return messages_;
	}
	std::size_t count(std::string_view prefix) const
	{
		std::size_t n = 0;
		for (const std::string &m : messages())
			n += m.starts_with(prefix);
		return n;
	}

private:
	mutable std::mutex mutex_;
	std::vector<std::string> messages_;
};

StatusFacts facts(std::uint64_t dirty = 0, std::uint64_t uploads = 0)
{
	return StatusFacts{ "photos", "/run/vfs/photos", dirty, uploads, false };
}

} /* namespace */

TEST(NotifyMessages, Text)
{
	EXPECT_EQ(statusMessage(facts(4096, 2)), "STATUS=Mounted photos on /run/vfs/photos; 4096 dirty bytes, 2 uploads in flight");
	EXPECT_EQ(readyMessage(facts()), "READY=1\nSTATUS=Mounted photos on /run/vfs/photos; 0 dirty bytes, 0 uploads in flight");
	EXPECT_EQ(stoppingMessage(facts(10, 1)),
		  "STOPPING=1\nSTATUS=Stopping: uploading to photos before unmounting /run/vfs/photos; 10 dirty bytes, "
		  "1 uploads in flight");
	EXPECT_EQ(extendTimeoutMessage(15s), "EXTEND_TIMEOUT_USEC=15000000");
	EXPECT_EQ(kWatchdogMessage, "WATCHDOG=1");
}

TEST(NotifyMessages, WatchdogPeriodIsHalfTheTimeout)
{
	EXPECT_EQ(watchdogPingPeriod(std::chrono::microseconds(3000000)), std::chrono::microseconds(1500000));
	EXPECT_EQ(watchdogPingPeriod(std::chrono::microseconds(100)), std::chrono::microseconds(10000));
}

TEST(NotifyMessages, WatchdogTimeoutFromTheEnvironment)
{
	unsetenv("WATCHDOG_PID");
	setenv("WATCHDOG_USEC", "2000000", 1);
	EXPECT_EQ(watchdogTimeout(), std::chrono::microseconds(2000000));
	/* Meant for another process (a wrapper that did not exec): not ours to ping. */
	setenv("WATCHDOG_PID", std::to_string(getpid() + 1).c_str(), 1);
	EXPECT_FALSE(watchdogTimeout());
	setenv("WATCHDOG_PID", std::to_string(getpid()).c_str(), 1);
	EXPECT_TRUE(watchdogTimeout());
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	EXPECT_FALSE(watchdogTimeout());
}

TEST(LivenessProbe, PassesFailsAndTimesOut)
{
	std::atomic<bool> healthy = true;
	LivenessProbe probe([&] { return healthy.load(); });
	EXPECT_TRUE(probe.check(1s));
	healthy = false;
	EXPECT_FALSE(probe.check(1s));
}

TEST(LivenessProbe, AHungCheckIsNotStackedAndRecovers)
{
	std::atomic<int> started = 0;
	std::atomic<bool> release = false;
	LivenessProbe probe([&] {
		++started;
		while (!release)
			std::this_thread::sleep_for(1ms);
		return true;
	});
	auto t0 = std::chrono::steady_clock::now();
	EXPECT_FALSE(probe.check(50ms));
	EXPECT_FALSE(probe.check(50ms));
	EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s); /* the caller was never held up */
	EXPECT_EQ(started, 1);                                /* the second check waited for the first */
	release = true;
	EXPECT_TRUE(probe.check(1s)); /* the hung check finished: the loop is alive again */
}

TEST(ServiceMonitor, ReadyOnlyOnceTheProbePasses)
{
	RecordingSink sink;
	std::atomic<bool> mounted = false;
	LivenessProbe probe([&] { return mounted.load(); });
	ServiceMonitor monitor(sink, probe, [] { return facts(); }, MonitorOptions{});
	std::thread mounter([&] {
		std::this_thread::sleep_for(300ms);
		EXPECT_EQ(sink.count("READY=1"), 0u);
		mounted = true;
	});
	EXPECT_TRUE(monitor.announceReady());
	mounter.join();
	ASSERT_EQ(sink.messages().size(), 1u);
	EXPECT_EQ(sink.messages()[0], readyMessage(facts()));
}

TEST(ServiceMonitor, AStopBeforeReadyIsNotReady)
{
	RecordingSink sink;
	LivenessProbe probe([] { return false; });
	ServiceMonitor monitor(sink, probe, [] { return facts(); }, MonitorOptions{});
	monitor.requestStop();
	EXPECT_FALSE(monitor.announceReady());
	EXPECT_EQ(sink.count("READY=1"), 0u);
}

TEST(ServiceMonitor, AStopFdEndsServing)
{
	RecordingSink sink;
	LivenessProbe probe([] { return true; });
	int fds[2];
	ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0);
	MonitorOptions options;
	options.stopFd = fds[0];
	ServiceMonitor monitor(sink, probe, [] { return facts(); }, options);
	ASSERT_TRUE(monitor.announceReady());
	std::thread signaller([&] {
		std::this_thread::sleep_for(100ms);
		ASSERT_EQ(write(fds[1], "x", 1), 1);
	});
	monitor.serve(); /* returns: the test would hang otherwise */
	signaller.join();
	EXPECT_TRUE(monitor.stopRequested());
	close(fds[0]);
	close(fds[1]);
}

/* Serves for @window with a 200 ms watchdog timeout (pings every 100 ms); returns the pings sent. */
std::size_t pingsIn(std::chrono::milliseconds window, std::function<bool()> check)
{
	RecordingSink sink;
	LivenessProbe probe(std::move(check));
	MonitorOptions options;
	options.watchdogTimeout = 200ms;
	ServiceMonitor monitor(sink, probe, [] { return facts(); }, options);
	std::thread stopper([&] {
		std::this_thread::sleep_for(window);
		monitor.requestStop();
	});
	monitor.serve();
	stopper.join();
	return sink.count("WATCHDOG=1");
}

TEST(ServiceMonitor, WatchdogPingsAtHalfTheTimeout)
{
	/* ~10 in a second; loose bounds for a loaded machine. */
	std::size_t pings = pingsIn(1000ms, [] { return true; });
	EXPECT_GE(pings, 5u);
	EXPECT_LE(pings, 12u);
}

TEST(ServiceMonitor, NoPingsWhileTheLoopFailsOrHangs)
{
	EXPECT_EQ(pingsIn(500ms, [] { return false; }), 0u);
	/* Shared: the abandoned check outlives this test's frame on the probe's detached thread. */
	auto release = std::make_shared<std::atomic<bool>>(false);
	EXPECT_EQ(pingsIn(500ms, [release] {
			  while (!*release)
				  std::this_thread::sleep_for(1ms);
			  return true;
		  }),
		  0u);
	*release = true;
}

TEST(ServiceMonitor, NoPingsWithoutAWatchdog)
{
	RecordingSink sink;
	LivenessProbe probe([] { return true; });
	ServiceMonitor monitor(sink, probe, [] { return facts(); }, MonitorOptions{});
	std::thread stopper([&] {
		std::this_thread::sleep_for(300ms);
		monitor.requestStop();
	});
	monitor.serve();
	stopper.join();
	EXPECT_EQ(sink.count("WATCHDOG=1"), 0u);
}

TEST(ServiceMonitor, StatusRefreshesOnlyWhenItChanges)
{
	RecordingSink sink;
	LivenessProbe probe([] { return true; });
	std::atomic<std::uint64_t> dirty = 0;
	MonitorOptions options;
	options.statusPeriod = 50ms;
	ServiceMonitor monitor(sink, probe, [&] { return facts(dirty); }, options);
	ASSERT_TRUE(monitor.announceReady());
	std::thread changer([&] {
		std::this_thread::sleep_for(300ms);
		dirty = 8192;
		std::this_thread::sleep_for(300ms);
		monitor.requestStop();
	});
	monitor.serve();
	changer.join();
	auto messages = sink.messages();
	ASSERT_EQ(messages.size(), 2u); /* READY with its status, then one refresh: 6 periods would be 12 */
	EXPECT_EQ(messages[1], statusMessage(facts(8192)));
}

TEST(ServiceMonitor, StoppingExtendsTheTimeoutWhileTheFlushRuns)
{
	RecordingSink sink;
	LivenessProbe probe([] { return true; });
	MonitorOptions options;
	options.extendPeriod = 100ms;
	ServiceMonitor monitor(sink, probe, [] { return facts(4096, 1); }, options);
	monitor.announceStopping();
	auto uploaded = monitor.whileStopping([]() -> vfs::Result<std::uint64_t> {
		std::this_thread::sleep_for(450ms);
		return std::uint64_t(4096);
	});
	ASSERT_TRUE(uploaded.ok());
	EXPECT_EQ(*uploaded, 4096u);
	auto messages = sink.messages();
	ASSERT_FALSE(messages.empty());
	EXPECT_EQ(messages[0], stoppingMessage(facts(4096, 1)));
	std::size_t extends = sink.count("EXTEND_TIMEOUT_USEC=300000");
	EXPECT_GE(extends, 3u); /* at 0, 100, 200, 300, 400 ms */
	EXPECT_LE(extends, 6u);
	EXPECT_EQ(extends, sink.count("EXTEND_TIMEOUT_USEC="));
}

TEST(ServiceMonitor, StoppingPassesTheFlushErrorOn)
{
	RecordingSink sink;
	LivenessProbe probe([] { return true; });
	ServiceMonitor monitor(sink, probe, [] { return facts(); }, MonitorOptions{});
	auto uploaded = monitor.whileStopping([]() -> vfs::Result<std::uint64_t> { return vfs::Error(EIO, "S3 said no"); });
	ASSERT_FALSE(uploaded.ok());
	EXPECT_EQ(uploaded.error().code(), EIO);
}

/* Stopping's refusal of new writers, in the filesystem. */
TEST(FilesystemStopping, RefusesNewWritersButNotReaders)
{
	vfs::fs::FakeObjectStore store;
	vfs::pool::BlockPool pool(vfs::pool::PoolConfig{ 16 << 20, 256 << 20 });
	vfs::fs::Filesystem fs(store, pool, vfs::fs::FilesystemOptions{});
	auto open = fs.create(vfs::fs::kRootIno, "open", 0644, O_WRONLY, vfs::fs::Caller{});
	ASSERT_TRUE(open.ok());
	std::string_view text = "kept";
	ASSERT_TRUE(fs.write(open->ino, 0, std::as_bytes(std::span(text.data(), text.size()))).ok());

	fs.refuseWrites();
	auto created = fs.create(vfs::fs::kRootIno, "new", 0644, O_WRONLY, vfs::fs::Caller{});
	ASSERT_FALSE(created.ok());
	EXPECT_EQ(created.error().code(), EROFS);
	for (int flags : { O_WRONLY, O_RDWR, O_RDONLY | O_TRUNC }) {
		auto r = fs.open(open->ino, flags);
		ASSERT_FALSE(r.ok()) << flags;
		EXPECT_EQ(r.error().code(), EROFS);
	}
	EXPECT_TRUE(fs.open(open->ino, O_RDONLY).ok());
	/* A writer that was already there finishes: its data still reaches the store. */
	auto flushed = fs.flushAll();
	ASSERT_TRUE(flushed.ok());
	EXPECT_EQ(*flushed, 4u);
}
