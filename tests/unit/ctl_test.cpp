// vfsctl's commands against ControlService on a private bus with a fake mount.
#include "ctl/ctl.h"

#include <chrono>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "control/control_service.h"
#include "fake_mount_control.h"
#include "private_bus.h"

using namespace vfs;
using vfs::test::FakeMountControl;

namespace {

class CtlTest : public ::testing::Test
{
protected:
	static void SetUpTestSuite() { bus_ = new vfs::test::PrivateBus; }
	static void TearDownTestSuite() { delete bus_; }

	void SetUp() override { ASSERT_TRUE(bus_->ok()) << "cannot start dbus-daemon"; }

	std::unique_ptr<control::ControlService> serve(FakeMountControl &fake, const std::string &instance)
	{
		auto s = control::ControlService::start(fake, control::BusType::Session, instance);
		EXPECT_TRUE(s.ok()) << (s ? "" : s.error().toString());
		return s ? std::move(*s) : nullptr;
	}

	int vfsctl(std::vector<std::string> args)
	{
		out_.str({});
		err_.str({});
		ctl::Terminal terminal{ out_, err_, false };
		return ctl::run(args, terminal);
	}

	static vfs::test::PrivateBus *bus_;
	FakeMountControl fake_;
	std::ostringstream out_;
	std::ostringstream err_;
};

vfs::test::PrivateBus *CtlTest::bus_ = nullptr;

TEST_F(CtlTest, UsageErrorsExitTwo)
{
	EXPECT_EQ(vfsctl({}), ctl::kExitUsage);
	EXPECT_EQ(vfsctl({ "status" }), ctl::kExitUsage);
	EXPECT_EQ(vfsctl({ "status", "a", "b" }), ctl::kExitUsage);
	EXPECT_EQ(vfsctl({ "list", "a" }), ctl::kExitUsage);
	EXPECT_EQ(vfsctl({ "frobnicate", "a" }), ctl::kExitUsage);
	EXPECT_NE(err_.str().find("unknown command 'frobnicate'"), std::string::npos);
	EXPECT_EQ(vfsctl({ "--bogus", "list" }), ctl::kExitUsage);
	EXPECT_EQ(vfsctl({ "--help" }), ctl::kExitOk);
	EXPECT_NE(out_.str().find("Exit status"), std::string::npos);
}

TEST_F(CtlTest, ListShowsInstanceNamesDecoded)
{
	FakeMountControl other;
	auto a = serve(fake_, "photos");
	auto b = serve(other, "my-bucket");
	ASSERT_TRUE(a && b);
	EXPECT_EQ(vfsctl({ "--user", "list" }), ctl::kExitOk);
	EXPECT_EQ(out_.str(), "my-bucket\nphotos\n");
	b->stop();
	EXPECT_EQ(vfsctl({ "--user", "list" }), ctl::kExitOk);
	EXPECT_EQ(out_.str(), "photos\n");
}

TEST_F(CtlTest, StatusIsHumanReadable)
{
	control::MountMetrics m;
	m.poolUsedBytes = 3 << 20;
	m.dirtyBytes = 2 << 20;
	m.dirtyBlocks = 1;
	m.cleanBytes = 1 << 20;
	m.cleanBlocks = 4;
	m.uploadsInFlight = 2;
	m.requestsSent = 77;
	fake_.setMetrics(m);
	auto service = serve(fake_, "photos");
	ASSERT_TRUE(service);
	ASSERT_EQ(vfsctl({ "--user", "status", "photos" }), ctl::kExitOk) << err_.str();
	std::string s = out_.str();
	EXPECT_NE(s.find("photo-bucket at http://127.0.0.1:1"), std::string::npos) << s;
	EXPECT_NE(s.find("/mnt/photos"), std::string::npos) << s;
	EXPECT_NE(s.find("3.0 MiB used of 512.0 MiB (0.6%)"), std::string::npos) << s;
	EXPECT_NE(s.find("Dirty:         2.0 MiB in 1 blocks (0 B staged on disk)"), std::string::npos) << s;
	EXPECT_NE(s.find("1.0 MiB in 4 blocks"), std::string::npos) << s;
	EXPECT_NE(s.find("2 in flight"), std::string::npos) << s;
	EXPECT_NE(s.find("77 sent"), std::string::npos) << s;
	/* The bus name works as NAME too. */
	EXPECT_EQ(vfsctl({ "--user", "status", "org.vfs.Vfs1.photos" }), ctl::kExitOk);
}

TEST_F(CtlTest, AMissingInstanceExitsThree)
{
	EXPECT_EQ(vfsctl({ "--user", "status", "nobody" }), ctl::kExitUnreachable);
	EXPECT_NE(err_.str().find("no instance 'nobody'"), std::string::npos) << err_.str();
	EXPECT_EQ(vfsctl({ "--user", "flush", "nobody" }), ctl::kExitUnreachable);
	EXPECT_EQ(vfsctl({ "--user", "shrink", "nobody" }), ctl::kExitUnreachable);
}

TEST_F(CtlTest, FlushShowsProgressAndTheBytesSent)
{
	fake_.setDirty(8 << 20);
	fake_.holdFlush(true);
	auto service = serve(fake_, "photos");
	ASSERT_TRUE(service);
	std::thread uploader([&] {
		fake_.waitUntilFlushing();
		std::this_thread::sleep_for(std::chrono::milliseconds(500));
		fake_.setDirty(3 << 20);
		std::this_thread::sleep_for(std::chrono::milliseconds(500));
		fake_.setDirty(1 << 20);
		fake_.holdFlush(false);
	});
	int code = vfsctl({ "--user", "flush", "photos" });
	uploader.join();
	EXPECT_EQ(code, ctl::kExitOk) << err_.str();
	EXPECT_EQ(out_.str(), "flushed photos: uploaded 1.0 MiB (1048576 bytes)\n");
	std::string progress = err_.str();
	auto first = progress.find("flushing photos: 8.0 MiB dirty, 0 B sent, 0 files uploading\n");
	auto second = progress.find("flushing photos: 3.0 MiB dirty, 0 B sent");
	EXPECT_NE(first, std::string::npos) << progress;
	EXPECT_NE(second, std::string::npos) << progress;
	EXPECT_LT(first, second);
}

TEST_F(CtlTest, AFailedFlushExitsOneAndSaysWhy)
{
	fake_.setDirty(5000);
	fake_.failFlush(Error(ENOENT, "PUT big: NoSuchBucket"));
	auto service = serve(fake_, "photos");
	ASSERT_TRUE(service);
	EXPECT_EQ(vfsctl({ "--user", "flush", "photos" }), ctl::kExitFailed);
	EXPECT_NE(err_.str().find("org.vfs.Vfs1.Error.UploadFailed: PUT big: NoSuchBucket"), std::string::npos)
		<< err_.str();
	EXPECT_NE(err_.str().find("4.9 KiB still dirty"), std::string::npos) << err_.str();
}

TEST_F(CtlTest, ShrinkReportsTheBytesReleased)
{
	control::MountMetrics m;
	m.poolUsedBytes = 5 << 20;
	m.cleanBytes = 4 << 20;
	fake_.setMetrics(m);
	auto service = serve(fake_, "photos");
	ASSERT_TRUE(service);
	ASSERT_EQ(vfsctl({ "--user", "shrink", "photos" }), ctl::kExitOk) << err_.str();
	EXPECT_EQ(out_.str(), "shrunk photos: released 4.0 MiB (4194304 bytes); pool 5.0 MiB -> 1.0 MiB used\n");
	EXPECT_EQ(fake_.shrinks(), 1);
}

TEST(FormatBytes, PicksAUnit)
{
	EXPECT_EQ(ctl::formatBytes(0), "0 B");
	EXPECT_EQ(ctl::formatBytes(1023), "1023 B");
	EXPECT_EQ(ctl::formatBytes(1536), "1.5 KiB");
	EXPECT_EQ(ctl::formatBytes(std::uint64_t(5) << 30), "5.0 GiB");
}

} /* namespace */
