// Endpoint resolution: AWS regions, custom endpoints, virtual-hosted and path-style requests.
#include "s3/endpoint.h"

#include <gtest/gtest.h>

using namespace vfs::s3;

namespace {

TEST(Endpoint, AwsRegionVirtualHosted)
{
	auto e = Endpoint::resolve({ "photos", "eu-west-1", "", false });
	ASSERT_TRUE(e.ok()) << e.error().message();
	EXPECT_EQ(e->scheme(), "https");
	EXPECT_EQ(e->host(), "photos.s3.eu-west-1.amazonaws.com");
	auto r = e->request("GET", "dir/a b+c.txt");
	EXPECT_EQ(r.url(), "https://photos.s3.eu-west-1.amazonaws.com/dir/a%20b%2Bc.txt");
}

TEST(Endpoint, AwsPathStyleAndDottedBuckets)
{
	auto e = Endpoint::resolve({ "photos", "us-east-1", "", true });
	ASSERT_TRUE(e.ok());
	EXPECT_EQ(e->request("GET", "k").url(), "https://s3.us-east-1.amazonaws.com/photos/k");
	/* A dotted bucket would not match the TLS wildcard as a host name. */
	auto dotted = Endpoint::resolve({ "my.photos", "us-east-1", "", false });
	ASSERT_TRUE(dotted.ok());
	EXPECT_TRUE(dotted->pathStyle());
	EXPECT_EQ(dotted->request("GET", "k").url(), "https://s3.us-east-1.amazonaws.com/my.photos/k");
}

TEST(Endpoint, CustomEndpoints)
{
	auto local = Endpoint::resolve({ "bkt", "us-east-1", "http://127.0.0.1:7480/", true });
	ASSERT_TRUE(local.ok()) << local.error().message();
	EXPECT_EQ(local->host(), "127.0.0.1:7480");
	auto list = local->request("GET", "", { { "list-type", "2" }, { "prefix", "a b/" } });
	EXPECT_EQ(list.url(), "http://127.0.0.1:7480/bkt/?list-type=2&prefix=a%20b%2F");

	auto vhost = Endpoint::resolve({ "bkt", "us-east-1", "https://minio.example:443", false });
	ASSERT_TRUE(vhost.ok());
	EXPECT_EQ(vhost->host(), "bkt.minio.example"); /* default port dropped: curl sends none */
	EXPECT_EQ(vhost->request("HEAD", "").url(), "https://bkt.minio.example/");

	EXPECT_EQ(Endpoint::resolve({ "bkt", "us-east-1", "http://h:80", true })->host(), "h");
}

TEST(Endpoint, BadInputIsRefused)
{
	EXPECT_FALSE(Endpoint::resolve({ "Bad_Bucket", "us-east-1", "", false }).ok());
	EXPECT_FALSE(Endpoint::resolve({ "ab", "us-east-1", "", false }).ok());
	EXPECT_FALSE(Endpoint::resolve({ "a..b", "us-east-1", "", false }).ok());
	EXPECT_FALSE(Endpoint::resolve({ "bkt", "US EAST", "", false }).ok());
	EXPECT_FALSE(Endpoint::resolve({ "bkt", "us-east-1", "127.0.0.1:9000", true }).ok());
	EXPECT_FALSE(Endpoint::resolve({ "bkt", "us-east-1", "ftp://h", true }).ok());
	EXPECT_FALSE(Endpoint::resolve({ "bkt", "us-east-1", "http://h/path", true }).ok());
	EXPECT_FALSE(Endpoint::resolve({ "bkt", "us-east-1", "http://user@h", true }).ok());
	EXPECT_TRUE(isValidBucketName("a-b.c1"));
	EXPECT_FALSE(isValidBucketName("-ab"));
}

} /* namespace */
