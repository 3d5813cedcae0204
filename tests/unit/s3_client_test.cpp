// S3Client against a scripted transport: request shapes, signing, retries, typed errors.
#include "s3/client.h"

#include <gtest/gtest.h>

#include "s3/checksums.h"
#include "s3/fake_transport.h"
#include "s3/sha256.h"

using namespace vfs::s3;

namespace {

std::span<const std::byte> bytesOf(std::string_view s)
{
	return std::as_bytes(std::span(s.data(), s.size()));
}

class S3ClientUnitTest : public ::testing::Test
{
protected:
	S3ClientUnitTest()
		: chain_(CredentialsConfig{ "AKIDEXAMPLE", "secret", "", "", "", false, "" },
			 CredentialsEnvironment::process())
	{
		options_.sleep = [this](std::chrono::milliseconds d) { sleeps_.push_back(d); };
		options_.retry.seed = 1;
	}

	S3Client makeClient()
	{
		auto e = Endpoint::resolve({ "bkt", "us-east-1", "http://127.0.0.1:9000", true });
		return S3Client(*e, chain_, fake_, options_);
	}

	CredentialChain chain_;
	FakeTransport fake_;
	ClientOptions options_;
	std::vector<std::chrono::milliseconds> sleeps_;
};

TEST_F(S3ClientUnitTest, PutSendsBodyHashMd5MetadataAndSignature)
{
	fake_.setHandler([](const HttpRequest &, const TransferOptions &o) {
		return FakeTransport::respond(o, 200, "", { { "ETag", "\"abc\"" } });
	});
	auto client = makeClient();
	PutOptions opts;
	opts.metadata = { { "Mode", "33188" } };
	auto etag = client.putObject("dir/a b", bytesOf("hello"), opts);
	ASSERT_TRUE(etag.ok()) << etag.error().toString();
	EXPECT_EQ(*etag, "\"abc\"");

	auto reqs = fake_.requests();
	ASSERT_EQ(reqs.size(), 1u);
	const HttpRequest &r = reqs[0].request;
	EXPECT_EQ(r.method, "PUT");
	EXPECT_EQ(r.url(), "http://127.0.0.1:9000/bkt/dir/a%20b");
	EXPECT_EQ(r.header("x-amz-meta-mode"), "33188");
	/* The signed SHA-256 is the integrity check S3 verifies; MD5 would only cost time. */
	EXPECT_FALSE(r.header("Content-MD5").has_value());
	auto digest = sha256(bytesOf("hello"));
	EXPECT_EQ(r.header("x-amz-checksum-sha256"), base64(digest));
	EXPECT_EQ(r.header("x-amz-content-sha256"), toHex(sha256(bytesOf("hello"))));
	EXPECT_NE(r.header("Authorization")->find("Credential=AKIDEXAMPLE/"), std::string_view::npos);
	EXPECT_EQ(reqs[0].body.size(), 5u);
	/* The body went out from the caller's memory, not a copy. */
	EXPECT_EQ(r.body.size(), 5u);
}

TEST_F(S3ClientUnitTest, UnsignedPayloadOverHttpsCarriesContentMd5)
{
	fake_.setHandler([](const HttpRequest &, const TransferOptions &o) {
		return FakeTransport::respond(o, 200, "", { { "ETag", "\"abc\"" } });
	});
	options_.unsignedPayload = true;
	auto e = Endpoint::resolve({ "bkt", "us-east-1", "https://127.0.0.1:9443", true });
	S3Client client(*e, chain_, fake_, options_);
	ASSERT_TRUE(client.putObject("k", bytesOf("hello")).ok());
	auto reqs = fake_.requests();
	EXPECT_EQ(reqs[0].request.header("x-amz-content-sha256"), "UNSIGNED-PAYLOAD");
	/* PutObject: the stored checksum still guards the unsigned body. */
	EXPECT_EQ(reqs[0].request.header("x-amz-checksum-sha256"), base64(sha256(bytesOf("hello"))));
	fake_.clear();
	ASSERT_TRUE(client.uploadPart("k", "u", 1, bytesOf("hello")).ok());
	EXPECT_EQ(fake_.requests()[0].request.header("Content-MD5"), contentMd5(bytesOf("hello")));

	/* Over plain http the option is ignored: the payload stays signed. */
	S3Client plain = makeClient();
	fake_.clear();
	ASSERT_TRUE(plain.putObject("k", bytesOf("hello")).ok());
	EXPECT_EQ(fake_.requests()[0].request.header("x-amz-content-sha256"), toHex(sha256(bytesOf("hello"))));
}

TEST_F(S3ClientUnitTest, DeleteObjectsAlwaysCarriesContentMd5)
{
	fake_.setHandler([](const HttpRequest &, const TransferOptions &o) {
		return FakeTransport::respond(o, 200, "<DeleteResult><Deleted><Key>a</Key></Deleted></DeleteResult>");
	});
	auto client = makeClient();
	auto r = client.deleteObjects({ "a" });
	ASSERT_TRUE(r.ok()) << r.error().toString();
	auto reqs = fake_.requests();
	EXPECT_EQ(reqs[0].request.header("Content-MD5"), contentMd5(reqs[0].body));
	EXPECT_EQ(reqs[0].request.query, "delete=");
}

TEST_F(S3ClientUnitTest, TransientErrorsAreRetriedAndResigned)
{
	int calls = 0;
	fake_.setHandler([&](const HttpRequest &, const TransferOptions &o) {
		if (++calls < 3)
			return FakeTransport::respond(o, 503, "<Error><Code>SlowDown</Code><Message>m</Message></Error>");
		return FakeTransport::respond(o, 200, "", { { "ETag", "\"e\"" } });
	});
	auto client = makeClient();
	auto etag = client.uploadPart("k", "upload-1", 7, bytesOf("part bytes"));
	ASSERT_TRUE(etag.ok()) << etag.error().toString();
	auto reqs = fake_.requests();
	ASSERT_EQ(reqs.size(), 3u);
	for (const auto &r : reqs) {
		EXPECT_EQ(r.body, std::vector<std::byte>(bytesOf("part bytes").begin(), bytesOf("part bytes").end()));
		EXPECT_EQ(r.request.query, "partNumber=7&uploadId=upload-1");
		EXPECT_EQ(std::count_if(r.request.headers.begin(), r.request.headers.end(),
					[](const HttpHeader &h) { return h.name == "Authorization"; }),
			  1);
	}
	EXPECT_EQ(sleeps_.size(), 2u);
	ClientMetrics m = client.metrics();
	EXPECT_EQ(m.attempts, 3u);
	EXPECT_EQ(m.retries, 2u);
	EXPECT_EQ(m.errors, 0u);
}

TEST_F(S3ClientUnitTest, ClientErrorsFailAtOnceTyped)
{
	fake_.setHandler([](const HttpRequest &, const TransferOptions &o) {
		return FakeTransport::respond(o, 404,
					      "<Error><Code>NoSuchKey</Code><Message>gone</Message>"
					      "<RequestId>R1</RequestId></Error>");
	});
	auto client = makeClient();
	std::vector<std::byte> buf(10);
	auto r = client.getObject("k", ByteRange{ 0, 10 }, buf);
	ASSERT_FALSE(r.ok());
	EXPECT_EQ(r.error().code, "NoSuchKey");
	EXPECT_EQ(r.error().httpStatus, 404);
	EXPECT_EQ(r.error().requestId, "R1");
	EXPECT_EQ(toErrno(r.error()), ENOENT);
	EXPECT_EQ(fake_.requestCount(), 1u);
	EXPECT_EQ(fake_.requests()[0].request.header("Range"), "bytes=0-9");
	EXPECT_EQ(client.metrics().errors, 1u);
}

TEST_F(S3ClientUnitTest, ErrorInsideA200IsAnErrorAndRetriedWhenTransient)
{
	int calls = 0;
	fake_.setHandler([&](const HttpRequest &, const TransferOptions &o) {
		if (++calls == 1)
			return FakeTransport::respond(o, 200, "<Error><Code>InternalError</Code><Message>x</Message></Error>");
		return FakeTransport::respond(o, 200,
					      "<CompleteMultipartUploadResult><Bucket>bkt</Bucket><Key>k</Key>"
					      "<ETag>\"final-2\"</ETag></CompleteMultipartUploadResult>");
	});
	auto client = makeClient();
	auto etag = client.completeMultipartUpload("k", "u", { { 1, "\"a\"" }, { 2, "b" } });
	ASSERT_TRUE(etag.ok()) << etag.error().toString();
	EXPECT_EQ(*etag, "\"final-2\"");
	EXPECT_EQ(calls, 2);
	std::string body(reinterpret_cast<const char *>(fake_.requests()[0].body.data()), fake_.requests()[0].body.size());
	EXPECT_NE(body.find("<PartNumber>2</PartNumber>"), std::string::npos);
	EXPECT_NE(body.find("&quot;b&quot;"), std::string::npos); /* bare ETag sent quoted */

	fake_.setHandler([](const HttpRequest &, const TransferOptions &o) {
		return FakeTransport::respond(o, 200, "<Error><Code>AccessDenied</Code><Message>no</Message></Error>");
	});
	auto denied = client.copyObject("a", "b", MetadataDirective::Copy);
	ASSERT_FALSE(denied.ok());
	EXPECT_EQ(denied.error().code, "AccessDenied");
	EXPECT_EQ(denied.error().httpStatus, 200);
}

TEST_F(S3ClientUnitTest, EmptyCompleteEtagIsAskedFromHead)
{
	fake_.setHandler([](const HttpRequest &r, const TransferOptions &o) {
		if (r.method == "HEAD")
			return FakeTransport::respond(o, 200, "", { { "ETag", "\"from-head-3\"" }, { "Content-Length", "9" } });
		return FakeTransport::respond(o, 200,
					      "<CompleteMultipartUploadResult><Key>k</Key><ETag></ETag>"
					      "</CompleteMultipartUploadResult>");
	});
	auto client = makeClient();
	auto etag = client.completeMultipartUpload("k", "u", { { 1, "\"a\"" } });
	ASSERT_TRUE(etag.ok()) << etag.error().toString();
	EXPECT_EQ(*etag, "\"from-head-3\"");
}

TEST_F(S3ClientUnitTest, CopyRequestsNameTheirSourceAndRange)
{
	fake_.setHandler([](const HttpRequest &, const TransferOptions &o) {
		return FakeTransport::respond(o, 200, "<CopyPartResult><ETag>bare</ETag></CopyPartResult>");
	});
	auto client = makeClient();
	auto etag = client.uploadPartCopy("dst", "u", 2, "src key+", ByteRange{ 5, 10 }, "\"s\"");
	ASSERT_TRUE(etag.ok()) << etag.error().toString();
	EXPECT_EQ(*etag, "\"bare\"");
	auto reqs = fake_.requests();
	const HttpRequest &r = reqs[0].request;
	EXPECT_EQ(r.header("x-amz-copy-source"), "/bkt/src%20key%2B");
	EXPECT_EQ(r.header("x-amz-copy-source-range"), "bytes=5-14");
	EXPECT_EQ(r.header("x-amz-copy-source-if-match"), "\"s\"");
}

TEST_F(S3ClientUnitTest, ListRequestsUrlEncodingAndDecodesKeys)
{
	fake_.setHandler([](const HttpRequest &, const TransferOptions &o) {
		return FakeTransport::respond(o, 200,
					      "<ListBucketResult><Name>bkt</Name><EncodingType>url</EncodingType>"
					      "<IsTruncated>false</IsTruncated><Contents><Key>a%20b%2Bc</Key>"
					      "<LastModified>2026-01-01T00:00:00.000Z</LastModified><ETag>\"e\"</ETag>"
					      "<Size>3</Size></Contents></ListBucketResult>");
	});
	auto client = makeClient();
	ListRequest list;
	list.prefix = "p/";
	list.delimiter = "/";
	auto page = client.listObjects(list);
	ASSERT_TRUE(page.ok()) << page.error().toString();
	ASSERT_EQ(page->contents.size(), 1u);
	EXPECT_EQ(page->contents[0].key, "a b+c");
	EXPECT_EQ(fake_.requests()[0].request.query,
		  "delimiter=%2F&encoding-type=url&list-type=2&max-keys=1000&prefix=p%2F");
}

TEST_F(S3ClientUnitTest, NetworkFailureAfterRetriesIsTypedWithoutSecrets)
{
	fake_.setHandler([](const HttpRequest &, const TransferOptions &) {
		return vfs::Result<HttpResponse>(networkError(NetworkFailure::Connect, "connection refused"));
	});
	options_.retry.maxAttempts = 3;
	auto client = makeClient();
	auto r = client.headBucket();
	ASSERT_FALSE(r.ok());
	EXPECT_EQ(r.error().httpStatus, 0);
	EXPECT_NE(r.error().toString().find("connection refused"), std::string::npos);
	EXPECT_EQ(r.error().toString().find("secret"), std::string::npos);
	EXPECT_EQ(fake_.requestCount(), 3u);
}

TEST_F(S3ClientUnitTest, AnonymousRequestsAreUnsigned)
{
	CredentialChain anonymous(CredentialsConfig{}, CredentialsEnvironment{
		[](const std::string &) { return std::optional<std::string>(); }, {}, {} });
	fake_.setHandler([](const HttpRequest &, const TransferOptions &o) { return FakeTransport::respond(o, 200); });
	auto e = Endpoint::resolve({ "bkt", "us-east-1", "http://127.0.0.1:9000", true });
	S3Client client(*e, anonymous, fake_, options_);
	ASSERT_TRUE(client.headBucket().ok());
	EXPECT_FALSE(fake_.requests()[0].request.header("Authorization").has_value());
}

} /* namespace */
