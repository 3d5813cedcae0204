// vfsd's configuration: defaults, every value type, overrides, one-line errors, secret permissions.
#include "daemon/config.h"

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <sys/stat.h>

using namespace vfs::daemon;

namespace {

class ConfigTest : public ::testing::Test
{
protected:
	void SetUp() override
	{
		char tmpl[] = "/tmp/vfs-conf.XXXXXX";
		dir_ = mkdtemp(tmpl);
	}
	void TearDown() override { std::filesystem::remove_all(dir_); }

	std::string write(const std::string &text, mode_t mode = 0600, const std::string &name = "photos.conf")
	{
		std::string path = dir_ + "/" + name;
		std::ofstream(path) << text;
		chmod(path.c_str(), mode);
		return path;
	}

	std::string errorOf(const std::string &text, mode_t mode = 0600)
	{
		auto c = loadConfig(write(text, mode), {});
		return c.ok() ? std::string("(no error)") : c.error().message();
	}

	std::string dir_;
};

TEST_F(ConfigTest, DefaultsComeFromTheInstanceName)
{
	auto c = loadConfig(write("# nothing but a comment\n"), {});
	ASSERT_TRUE(c.ok()) << c.error().message();
	EXPECT_EQ(c->instance, "photos");
	EXPECT_EQ(c->bucket, "photos");
	EXPECT_EQ(c->mountpoint, "/run/vfs/photos");
	EXPECT_EQ(c->memoryLimit, 512u << 20);
	EXPECT_EQ(c->readahead, 64u << 20);
	EXPECT_EQ(c->readThreads, 4u);
	EXPECT_EQ(c->uploadThreads, 4u);
	EXPECT_TRUE(c->streamUploads);
	EXPECT_EQ(c->metadataRequests, 16u);
	EXPECT_EQ(c->bus, BusKind::System);
	EXPECT_FALSE(c->pathStyle);
}

TEST_F(ConfigTest, EveryKindOfValue)
{
	auto c = loadConfig(write("[vfs]\n"
				  "bucket = my-bucket\n"
				  "endpoint = http://127.0.0.1:7480\n"
				  "region=eu-west-1\n"
				  "path_style = yes\n"
				  "access_key_id = AK\n"
				  "secret_access_key = SK\n"
				  "mountpoint = /mnt/s3\n"
				  "memory_limit = 1G\n"
				  "allow_other = true\n"
				  "uid = 1000\n"
				  "gid = 100\n"
				  "umask = 027\n"
				  "bus = session\n"
				  "max_connections = 32\n"
				  "metadata_ttl_ms = 2500\n"
				  "readahead = 16M\n"
				  "read_threads = 8\n"
				  "upload_threads = 6\n"
				  "stream_uploads = false\n"
				  "metadata_requests = 24\n"),
			    {});
	ASSERT_TRUE(c.ok()) << c.error().message();
	EXPECT_EQ(c->bucket, "my-bucket");
	EXPECT_EQ(c->endpoint, "http://127.0.0.1:7480");
	EXPECT_EQ(c->region, "eu-west-1");
	EXPECT_TRUE(c->pathStyle);
	EXPECT_EQ(c->accessKeyId, "AK");
	EXPECT_EQ(c->secretAccessKey, "SK");
	EXPECT_EQ(c->mountpoint, "/mnt/s3");
	EXPECT_EQ(c->memoryLimit, 1u << 30);
	EXPECT_TRUE(c->allowOther);
	EXPECT_EQ(c->uid, 1000u);
	EXPECT_EQ(c->gid, 100u);
	EXPECT_EQ(c->umask, 027u);
	EXPECT_EQ(c->bus, BusKind::Session);
	EXPECT_EQ(c->maxConnections, 32u);
	EXPECT_EQ(c->metadataTtl.count(), 2500);
	EXPECT_EQ(c->readahead, 16u << 20);
	EXPECT_EQ(c->readThreads, 8u);
	EXPECT_EQ(c->uploadThreads, 6u);
	EXPECT_FALSE(c->streamUploads);
	EXPECT_EQ(c->metadataRequests, 24u);
}

TEST_F(ConfigTest, OverridesWin)
{
	auto c = loadConfig(write("bucket = a\nmemory_limit = 1G\n"), { { "bucket", "b" }, { "bus", "none" } });
	ASSERT_TRUE(c.ok());
	EXPECT_EQ(c->bucket, "b");
	EXPECT_EQ(c->bus, BusKind::None);
	auto bad = loadConfig(write("bucket = a\n"), { { "nosuchkey", "1" } });
	ASSERT_FALSE(bad.ok());
	EXPECT_NE(bad.error().message().find("nosuchkey: unknown key"), std::string::npos);
}

TEST_F(ConfigTest, ErrorsNameTheFileTheKeyAndWhy)
{
	std::string path = dir_ + "/photos.conf";
	EXPECT_EQ(errorOf("memory_limit = 12Q\n"), path + ": memory_limit: '12Q' is not a size (use 512M, 2G, ...)");
	EXPECT_EQ(errorOf("path_style = maybe\n"), path + ": path_style: 'maybe' is not a boolean (use true or false)");
	EXPECT_EQ(errorOf("bucket\n"), path + ": line 1: expected 'key = value'");
	EXPECT_EQ(errorOf("buckt = x\n"), path + ": buckt: unknown key");
	EXPECT_EQ(errorOf("bus = dbus\n"), path + ": bus: 'dbus' is not one of system, session, none");
	EXPECT_EQ(errorOf("mountpoint = relative/dir\n"), path + ": mountpoint: 'relative/dir' is not an absolute path");
	EXPECT_EQ(errorOf("endpoint = 127.0.0.1:80\n"), path + ": endpoint: '127.0.0.1:80' must start with http:// or https://");
	EXPECT_EQ(errorOf("umask = 999\n"), path + ": umask: '999' is not an octal umask like 022");
	EXPECT_EQ(errorOf("uid = -1\n"), path + ": uid: '-1' is not a numeric id");
	EXPECT_EQ(errorOf("memory_limit = 1M\n"), path + ": memory_limit: must be at least 64M");
	EXPECT_EQ(errorOf("part_size = 1M\n"), path + ": part_size: must be between 5M and 5G (S3's part size limits)");
	EXPECT_EQ(errorOf("endpoint = http://x\nunsigned_payload = true\n"),
		  path + ": unsigned_payload: only allowed over https (the payload hash protects plain http)");
	EXPECT_NE(errorOf("max_connections = 0\n").find("max_connections"), std::string::npos);
	EXPECT_EQ(errorOf("readahead = lots\n"), path + ": readahead: 'lots' is not a size (use 512M, 2G, ...)");
	EXPECT_EQ(errorOf("read_threads = 0\n"), path + ": read_threads: '0' is not a number from 1 to 64");
	EXPECT_EQ(errorOf("upload_threads = 65\n"), path + ": upload_threads: '65' is not a number from 1 to 64");
	EXPECT_EQ(errorOf("metadata_requests = 2000\n"),
		  path + ": metadata_requests: '2000' is not a number from 0 to 1024");
	auto missing = loadConfig(dir_ + "/absent.conf", {});
	ASSERT_FALSE(missing.ok());
	EXPECT_EQ(missing.error().message(), dir_ + "/absent.conf: cannot open the configuration file");
}

TEST_F(ConfigTest, SecretsInAWorldReadableFileAreRefusedWithoutEchoingThem)
{
	std::string err = errorOf("access_key_id = AK\nsecret_access_key = hunter2secret\n", 0644);
	EXPECT_NE(err.find("secret_access_key: the file holds a secret but is readable by other users"), std::string::npos);
	EXPECT_EQ(err.find("hunter2secret"), std::string::npos);
	/* Without a secret a world-readable file is fine. */
	EXPECT_TRUE(loadConfig(write("bucket = b\ncredentials_file = creds\n", 0644), {}).ok());
}

/* The packaged /etc/vfs/example.conf: valid as shipped, and every key it shows commented out is a real key with a valid value. */
TEST_F(ConfigTest, ThePackagedExampleParsesAsShippedAndWithEveryKeyUncommented)
{
	const char *example = std::getenv("VFS_EXAMPLE_CONF");
	ASSERT_NE(example, nullptr) << "VFS_EXAMPLE_CONF is not set (tests/meson.build sets it)";
	std::ifstream in(example);
	ASSERT_TRUE(in) << example;
	std::string shipped, uncommented, line;
	unsigned keys = 0;
	while (std::getline(in, line)) {
		shipped += line + "\n";
		/* "#key = value" is a setting; "# text" (with a space) is prose. */
		if (line.size() > 1 && line[0] == '#' && std::islower(static_cast<unsigned char>(line[1])) &&
		    line.find(" =") != std::string::npos) {
			line.erase(0, 1);
			++keys;
		}
		uncommented += line + "\n";
	}
	auto asShipped = loadConfig(write(shipped), {});
	ASSERT_TRUE(asShipped.ok()) << asShipped.error().message();
	EXPECT_EQ(asShipped->bucket, "photos");

	EXPECT_GE(keys, 25u);
	auto all = loadConfig(write(uncommented), {});
	ASSERT_TRUE(all.ok()) << all.error().message();
	EXPECT_EQ(all->bucket, "my-bucket");
	EXPECT_EQ(all->memoryLimit, Config{}.memoryLimit);
	EXPECT_EQ(all->partSize, Config{}.partSize);
	EXPECT_EQ(all->chunkSize, Config{}.chunkSize);
}

TEST(ParseSize, UnitsAndLimits)
{
	EXPECT_EQ(parseSize("4096"), 4096u);
	EXPECT_EQ(parseSize("512K"), 512u << 10);
	EXPECT_EQ(parseSize("512M"), 512u << 20);
	EXPECT_EQ(parseSize("2g"), 2ull << 30);
	EXPECT_EQ(parseSize("1T"), 1ull << 40);
	EXPECT_FALSE(parseSize(""));
	EXPECT_FALSE(parseSize("M"));
	EXPECT_FALSE(parseSize("-1M"));
	EXPECT_FALSE(parseSize("1.5G"));
	EXPECT_FALSE(parseSize("99999999999999T"));
}

} /* namespace */
