// ControlService on a private bus with a fake mount: name, properties, Flush/Shrink, errors, stop.
#include "control/control_service.h"

#include <chrono>
#include <future>
#include <thread>

#include <gtest/gtest.h>
#include <sdbus-c++/sdbus-c++.h>

#include "control/bus_name.h"
#include "fake_mount_control.h"
#include "private_bus.h"

using namespace vfs;
using namespace vfs::control;
using vfs::test::FakeMountControl;

namespace {

class ControlServiceTest : public ::testing::Test
{
protected:
	static void SetUpTestSuite() { bus_ = new vfs::test::PrivateBus; }
	static void TearDownTestSuite() { delete bus_; }

	void SetUp() override { ASSERT_TRUE(bus_->ok()) << "cannot start dbus-daemon"; }

	std::unique_ptr<ControlService> startService(const std::string &instance = "photos")
	{
		auto s = ControlService::start(fake_, BusType::Session, instance);
		EXPECT_TRUE(s.ok()) << (s ? "" : s.error().toString());
		return s ? std::move(*s) : nullptr;
	}

	/* A client on its own connection, as busctl or vfsctl would be. */
	struct Client {
		std::unique_ptr<sdbus::IConnection> connection = sdbus::createSessionBusConnection();
		std::unique_ptr<sdbus::IProxy> proxy;
		explicit Client(const std::string &name)
			: proxy(sdbus::createProxy(*connection, name, std::string(kObjectPath)))
		{
		}
		std::uint64_t call(const std::string &method)
		{
			std::uint64_t result = 0;
			proxy->callMethod(method).onInterface(std::string(kInterface)).storeResultsTo(result);
			return result;
		}
		sdbus::Variant get(const std::string &property)
		{
			return proxy->getProperty(property).onInterface(std::string(kInterface));
		}
	};

	static bool nameHasOwner(const std::string &name)
	{
		auto connection = sdbus::createSessionBusConnection();
		auto dbus = sdbus::createProxy(*connection, "org.freedesktop.DBus", "/org/freedesktop/DBus");
		bool owned = false;
		dbus->callMethod("NameHasOwner").onInterface("org.freedesktop.DBus").withArguments(name).storeResultsTo(owned);
		return owned;
	}

	static vfs::test::PrivateBus *bus_;
	FakeMountControl fake_;
};

vfs::test::PrivateBus *ControlServiceTest::bus_ = nullptr;

TEST_F(ControlServiceTest, OwnsTheEscapedNameOnceStartReturns)
{
	auto service = startService("my-bucket.2");
	ASSERT_TRUE(service);
	EXPECT_EQ(service->busName(), "org.vfs.Vfs1.my_2dbucket_2e2");
	EXPECT_TRUE(nameHasOwner("org.vfs.Vfs1.my_2dbucket_2e2"));
	service->stop();
	EXPECT_FALSE(nameHasOwner("org.vfs.Vfs1.my_2dbucket_2e2"));
	service->stop(); /* idempotent */
}

TEST_F(ControlServiceTest, ASecondInstanceOfTheSameNameIsRefused)
{
	auto first = startService();
	ASSERT_TRUE(first);
	FakeMountControl other;
	auto second = ControlService::start(other, BusType::Session, "photos");
	ASSERT_FALSE(second.ok());
	EXPECT_EQ(second.error().code(), EEXIST);
	EXPECT_NE(second.error().message().find("org.vfs.Vfs1.photos"), std::string::npos);
	/* The first one still answers. */
	Client client("org.vfs.Vfs1.photos");
	EXPECT_EQ(client.get("Bucket").get<std::string>(), "photo-bucket");
}

TEST_F(ControlServiceTest, AnEmptyInstanceIsRefused)
{
	auto s = ControlService::start(fake_, BusType::Session, "");
	ASSERT_FALSE(s.ok());
	EXPECT_EQ(s.error().code(), EINVAL);
}

TEST_F(ControlServiceTest, PropertiesShowTheMountAndItsMetrics)
{
	MountMetrics m;
	m.poolUsedBytes = 1000;
	m.dirtyBytes = 600;
	m.cleanBytes = 400;
	m.reservedBytes = 1 << 20;
	m.dirtyBlocks = 2;
	m.cleanBlocks = 3;
	m.uploadsInFlight = 1;
	m.flushErrors = 4;
	m.bytesUploaded = 5;
	m.bytesDownloaded = 6;
	m.requestsSent = 7;
	m.requestErrors = 8;
	fake_.setMetrics(m);
	auto service = startService();
	ASSERT_TRUE(service);
	Client client(service->busName());

	EXPECT_EQ(client.get("Instance").get<std::string>(), "photos");
	EXPECT_EQ(client.get("Bucket").get<std::string>(), "photo-bucket");
	EXPECT_EQ(client.get("Endpoint").get<std::string>(), "http://127.0.0.1:1");
	EXPECT_EQ(client.get("MountPoint").get<std::string>(), "/mnt/photos");
	EXPECT_EQ(client.get("PoolLimitBytes").get<std::uint64_t>(), 512u << 20);
	EXPECT_EQ(client.get("PoolUsedBytes").get<std::uint64_t>(), 1000u);
	EXPECT_EQ(client.get("DirtyBytes").get<std::uint64_t>(), 600u);
	EXPECT_EQ(client.get("CleanBytes").get<std::uint64_t>(), 400u);
	EXPECT_EQ(client.get("ReservedBytes").get<std::uint64_t>(), 1u << 20);
	EXPECT_EQ(client.get("StagedBytes").get<std::uint64_t>(), 0u);
	EXPECT_EQ(client.get("DirtyBlocks").get<std::uint64_t>(), 2u);
	EXPECT_EQ(client.get("CleanBlocks").get<std::uint64_t>(), 3u);
	EXPECT_EQ(client.get("UploadsInFlight").get<std::uint64_t>(), 1u);
	EXPECT_EQ(client.get("FlushErrors").get<std::uint64_t>(), 4u);
	EXPECT_EQ(client.get("BytesUploaded").get<std::uint64_t>(), 5u);
	EXPECT_EQ(client.get("BytesDownloaded").get<std::uint64_t>(), 6u);
	EXPECT_EQ(client.get("RequestsSent").get<std::uint64_t>(), 7u);
	EXPECT_EQ(client.get("RequestErrors").get<std::uint64_t>(), 8u);

	/* Read live, not cached at start. */
	fake_.setDirty(12345);
	EXPECT_EQ(client.get("DirtyBytes").get<std::uint64_t>(), 12345u);
}

TEST_F(ControlServiceTest, FlushAndShrinkReturnTheirByteCounts)
{
	MountMetrics m;
	m.dirtyBytes = 700;
	m.cleanBytes = 300;
	m.poolUsedBytes = 1000;
	fake_.setMetrics(m);
	auto service = startService();
	ASSERT_TRUE(service);
	Client client(service->busName());

	EXPECT_EQ(client.call("Flush"), 700u);
	EXPECT_EQ(client.get("DirtyBytes").get<std::uint64_t>(), 0u);
	EXPECT_EQ(client.call("Shrink"), 300u);
	EXPECT_EQ(client.get("PoolUsedBytes").get<std::uint64_t>(), 700u);
	EXPECT_EQ(fake_.flushes(), 1);
	EXPECT_EQ(fake_.shrinks(), 1);
}

TEST_F(ControlServiceTest, AFailedFlushIsADBusErrorNamingTheCause)
{
	fake_.setDirty(42);
	fake_.failFlush(Error(ENOENT, "PUT a/b: NoSuchBucket: The specified bucket does not exist"));
	auto service = startService();
	ASSERT_TRUE(service);
	Client client(service->busName());
	try {
		client.call("Flush");
		FAIL() << "Flush succeeded";
	} catch (const sdbus::Error &e) {
		EXPECT_EQ(e.getName(), "org.vfs.Vfs1.Error.UploadFailed");
		EXPECT_NE(e.getMessage().find("NoSuchBucket"), std::string::npos) << e.getMessage();
		EXPECT_NE(e.getMessage().find("No such file or directory"), std::string::npos) << e.getMessage();
	}
	EXPECT_EQ(client.get("DirtyBytes").get<std::uint64_t>(), 42u);
}

TEST_F(ControlServiceTest, ASlowFlushNeverStallsPropertyReads)
{
	fake_.setDirty(99);
	fake_.holdFlush(true);
	auto service = startService();
	ASSERT_TRUE(service);
	std::string name = service->busName();

	auto flushed = std::async(std::launch::async, [&] { return Client(name).call("Flush"); });
	fake_.waitUntilFlushing();
	Client reader(name);
	auto start = std::chrono::steady_clock::now();
	for (int i = 0; i < 20; ++i)
		EXPECT_EQ(reader.get("DirtyBytes").get<std::uint64_t>(), 99u);
	EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
	EXPECT_EQ(flushed.wait_for(std::chrono::milliseconds(0)), std::future_status::timeout);

	fake_.holdFlush(false);
	EXPECT_EQ(flushed.get(), 99u);
}

TEST_F(ControlServiceTest, StopAnswersTheRunningFlushAndRefusesQueuedCalls)
{
	fake_.setDirty(10);
	fake_.holdFlush(true);
	auto service = startService();
	ASSERT_TRUE(service);
	std::string name = service->busName();

	auto running = std::async(std::launch::async, [&] { return Client(name).call("Flush"); });
	fake_.waitUntilFlushing();
	auto queued = std::async(std::launch::async, [&]() -> std::string {
		try {
			Client(name).call("Shrink");
			return "answered";
		} catch (const sdbus::Error &e) {
			return e.getName();
		}
	});
	/* The Shrink reaches the queue behind the held Flush. */
	std::this_thread::sleep_for(std::chrono::milliseconds(300));

	std::thread stopper([&] { service->stop(); });
	std::this_thread::sleep_for(std::chrono::milliseconds(100));
	fake_.holdFlush(false);
	stopper.join();

	EXPECT_EQ(running.get(), 10u);
	EXPECT_EQ(queued.get(), "org.vfs.Vfs1.Error.Stopping");
	EXPECT_EQ(fake_.shrinks(), 0);
	EXPECT_FALSE(nameHasOwner(name));
}

TEST_F(ControlServiceTest, IntrospectionListsTheInterface)
{
	auto service = startService();
	ASSERT_TRUE(service);
	auto connection = sdbus::createSessionBusConnection();
	auto proxy = sdbus::createProxy(*connection, service->busName(), std::string(kObjectPath));
	std::string xml;
	proxy->callMethod("Introspect").onInterface("org.freedesktop.DBus.Introspectable").storeResultsTo(xml);
	EXPECT_NE(xml.find("org.vfs.Vfs1.Mount"), std::string::npos);
	EXPECT_NE(xml.find("\"Flush\""), std::string::npos);
	EXPECT_NE(xml.find("\"StagedBytes\""), std::string::npos);
}

} /* namespace */
