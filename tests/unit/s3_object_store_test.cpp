// S3ObjectStore over a scripted transport: requests as S3 expects them, answers and errors as errno.
#include "fs/s3_object_store.h"

#include <algorithm>
#include <cerrno>
#include <memory>
#include <mutex>

#include <gtest/gtest.h>

#include "s3/client.h"
#include "s3/fake_transport.h"

using namespace vfs;
using namespace vfs::fs;
using s3::FakeTransport;
using s3::HttpRequest;
using s3::TransferOptions;

namespace {

std::span<const std::byte> bytesOf(std::string_view s)
{
	return std::as_bytes(std::span(s.data(), s.size()));
}

std::string bodyOf(const s3::RecordedRequest &r)
{
	return { reinterpret_cast<const char *>(r.body.data()), r.body.size() };
}

class S3ObjectStoreTest : public ::testing::Test
{
protected:
	S3ObjectStoreTest()
		: chain_(s3::CredentialsConfig{ "AKIDEXAMPLE", "secret", "", "", "", false, "" },
			 s3::CredentialsEnvironment::process())
	{
		options_.sleep = [](std::chrono::milliseconds) {};
		options_.retry.seed = 1;
		auto e = s3::Endpoint::resolve({ "bkt", "us-east-1", "http://127.0.0.1:9000", true });
		client_ = std::make_unique<s3::S3Client>(*e, chain_, fake_, options_);
		store_ = std::make_unique<S3ObjectStore>(*client_);
	}

	void answer(int status, std::string body = {}, std::vector<s3::HttpHeader> headers = {})
	{
		fake_.setHandler([=](const HttpRequest &, const TransferOptions &o) {
			return FakeTransport::respond(o, status, body, headers);
		});
	}

	s3::CredentialChain chain_;
	FakeTransport fake_;
	s3::ClientOptions options_;
	std::unique_ptr<s3::S3Client> client_;
	std::unique_ptr<S3ObjectStore> store_;
};

TEST_F(S3ObjectStoreTest, ListMapsAPageAndItsToken)
{
	answer(200, R"(<ListBucketResult><Name>bkt</Name><Prefix>d/</Prefix><IsTruncated>true</IsTruncated>
<NextContinuationToken>tok/2</NextContinuationToken>
<Contents><Key>d/a.txt</Key><LastModified>2024-03-01T12:34:56.000Z</LastModified>
<ETag>"abc"</ETag><Size>42</Size></Contents>
<CommonPrefixes><Prefix>d/sub/</Prefix></CommonPrefixes></ListBucketResult>)");
	ListRequest r;
	r.prefix = "d/";
	r.continuationToken = "tok/1";
	r.maxKeys = 5;
	auto page = store_->list(r);
	ASSERT_TRUE(page.ok()) << page.error().toString();
	ASSERT_EQ(page->objects.size(), 1u);
	EXPECT_EQ(page->objects[0].key, "d/a.txt");
	EXPECT_EQ(page->objects[0].size, 42u);
	EXPECT_EQ(page->objects[0].etag, "\"abc\"");
	EXPECT_EQ(page->objects[0].lastModified, Timestamp(std::chrono::seconds(1709296496)));
	EXPECT_EQ(page->commonPrefixes, std::vector<std::string>{ "d/sub/" });
	EXPECT_EQ(page->nextToken, "tok/2");

	auto q = fake_.requests().at(0).request.query;
	EXPECT_NE(q.find("prefix=d%2F"), std::string::npos) << q;
	EXPECT_NE(q.find("delimiter=%2F"), std::string::npos) << q;
	EXPECT_NE(q.find("continuation-token=tok%2F1"), std::string::npos) << q;
	EXPECT_NE(q.find("max-keys=5"), std::string::npos) << q;

	/* A last page has no token, whatever the server put in it. */
	answer(200, "<ListBucketResult><Name>bkt</Name><IsTruncated>false</IsTruncated>"
		    "<NextContinuationToken>junk</NextContinuationToken></ListBucketResult>");
	auto last = store_->list(ListRequest{});
	ASSERT_TRUE(last.ok());
	EXPECT_TRUE(last->nextToken.empty());
}

TEST_F(S3ObjectStoreTest, HeadMapsMetadataAndErrorsBecomeErrno)
{
	answer(200, {},
	       { { "Content-Length", "7" }, { "ETag", "\"e1\"" }, { "Content-Type", "text/plain" },
		 { "Last-Modified", "Tue, 24 Nov 2026 20:13:33 GMT" }, { "x-amz-meta-mode", "33188" },
		 { "X-Amz-Meta-Uid", "1000" } });
	auto h = store_->head("dir/f");
	ASSERT_TRUE(h.ok()) << h.error().toString();
	EXPECT_EQ(h->size, 7u);
	EXPECT_EQ(h->etag, "\"e1\"");
	EXPECT_EQ(h->contentType, "text/plain");
	EXPECT_EQ(h->metadata, (Metadata{ { "mode", "33188" }, { "uid", "1000" } }));

	answer(404);
	auto missing = store_->head("dir/missing");
	ASSERT_FALSE(missing.ok());
	EXPECT_EQ(missing.error().code(), ENOENT);
	EXPECT_NE(missing.error().message().find("HeadObject dir/missing"), std::string::npos);

	answer(403, "<Error><Code>AccessDenied</Code><Message>no</Message></Error>");
	EXPECT_EQ(store_->remove("k").error().code(), EACCES);
	answer(404, "<Error><Code>NoSuchBucket</Code><Message>gone</Message></Error>");
	EXPECT_EQ(store_->checkBucket().error().code(), ENODEV);
}

TEST_F(S3ObjectStoreTest, GetReadsARangeIntoTheBufferWithIfMatch)
{
	fake_.setHandler([](const HttpRequest &r, const TransferOptions &o) {
		if (r.header("If-Match") != "\"v2\"")
			return FakeTransport::respond(o, 412, "<Error><Code>PreconditionFailed</Code></Error>");
		return FakeTransport::respond(o, 206, "cdef",
					      { { "ETag", "\"v2\"" }, { "Content-Range", "bytes 2-5/10" } });
	});
	std::vector<std::byte> buf(4);
	auto got = store_->get("k", 2, buf, "\"v2\"");
	ASSERT_TRUE(got.ok()) << got.error().toString();
	EXPECT_EQ(got->bytes, 4u);
	EXPECT_EQ(got->objectSize, 10u);
	EXPECT_EQ(got->etag, "\"v2\"");
	EXPECT_EQ(std::string(reinterpret_cast<const char *>(buf.data()), 4), "cdef");
	EXPECT_EQ(fake_.requests().at(0).request.header("Range"), "bytes=2-5");

	auto stale = store_->get("k", 2, buf, "\"v1\"");
	ASSERT_FALSE(stale.ok());
	EXPECT_EQ(stale.error().code(), ESTALE);

	fake_.clear();
	EXPECT_EQ(store_->get("k", 0, std::span<std::byte>(), {}).error().code(), EINVAL);
	EXPECT_EQ(fake_.requestCount(), 0u);
}

TEST_F(S3ObjectStoreTest, PutAndCopySendMetadataAndDirectives)
{
	answer(200, {}, { { "ETag", "\"p\"" } });
	PutOptions o;
	o.metadata = { { "mode", "33188" } };
	o.contentType = "application/x-directory";
	o.ifMatch = "\"old\"";
	auto etag = store_->put("d/", {}, o);
	ASSERT_TRUE(etag.ok()) << etag.error().toString();
	EXPECT_EQ(*etag, "\"p\"");
	auto put = fake_.requests().at(0).request;
	EXPECT_EQ(put.header("x-amz-meta-mode"), "33188");
	EXPECT_EQ(put.header("Content-Type"), "application/x-directory");
	EXPECT_EQ(put.header("If-Match"), "\"old\"");

	fake_.clear();
	answer(200, "<CopyObjectResult><ETag>\"c\"</ETag></CopyObjectResult>");
	ASSERT_TRUE(store_->copy("a", "b", MetadataMode::Keep, o).ok());
	ASSERT_TRUE(store_->copy("a", "a", MetadataMode::Replace, o).ok());
	auto reqs = fake_.requests();
	ASSERT_EQ(reqs.size(), 2u);
	EXPECT_EQ(reqs[0].request.header("x-amz-metadata-directive"), "COPY");
	EXPECT_FALSE(reqs[0].request.header("x-amz-meta-mode"));
	EXPECT_EQ(reqs[1].request.header("x-amz-metadata-directive"), "REPLACE");
	EXPECT_EQ(reqs[1].request.header("x-amz-meta-mode"), "33188");
	/* ifMatch is for put() only. */
	EXPECT_FALSE(reqs[1].request.header("If-Match"));
}

TEST_F(S3ObjectStoreTest, UploadPartCopyNotImplementedIsEopnotsupp)
{
	answer(501, "<Error><Code>NotImplemented</Code><Message>A header you provided implies functionality that "
		    "is not implemented</Message></Error>");
	auto r = store_->uploadPartCopy("dst", "up1", 3, "src key", 10, 10, "\"src-etag\"");
	ASSERT_FALSE(r.ok());
	EXPECT_EQ(r.error().code(), EOPNOTSUPP);
	auto req = fake_.requests().at(0).request;
	EXPECT_EQ(req.query, "partNumber=3&uploadId=up1");
	EXPECT_EQ(req.header("x-amz-copy-source"), "/bkt/src%20key");
	EXPECT_EQ(req.header("x-amz-copy-source-range"), "bytes=10-19");
	EXPECT_EQ(req.header("x-amz-copy-source-if-match"), "\"src-etag\"");
	/* Not retried: the fallback should start at once. */
	EXPECT_EQ(fake_.requestCount(), 1u);

	answer(200, "<CopyPartResult><ETag>bare</ETag></CopyPartResult>");
	auto ok = store_->uploadPartCopy("dst", "up1", 3, "src", 0, 5, {});
	ASSERT_TRUE(ok.ok());
	EXPECT_EQ(*ok, "\"bare\"");
}

TEST_F(S3ObjectStoreTest, MultipartCallsMapOneToOne)
{
	fake_.setHandler([](const HttpRequest &r, const TransferOptions &o) {
		if (r.method == "POST" && r.query == "uploads=")
			return FakeTransport::respond(o, 200,
						      "<InitiateMultipartUploadResult><Bucket>bkt</Bucket><Key>k</Key>"
						      "<UploadId>U1</UploadId></InitiateMultipartUploadResult>");
		if (r.method == "PUT")
			return FakeTransport::respond(o, 200, "", { { "ETag", "\"part\"" } });
		if (r.method == "POST")
			return FakeTransport::respond(o, 200,
						      "<CompleteMultipartUploadResult><Key>k</Key><ETag>\"all-2\"</ETag>"
						      "</CompleteMultipartUploadResult>");
		if (r.method == "DELETE")
			return FakeTransport::respond(o, 404, "<Error><Code>NoSuchUpload</Code></Error>");
		return FakeTransport::respond(o, 500);
	});
	PutOptions o;
	o.metadata = { { "mode", "33188" } };
	o.ifMatch = "\"ignored\"";
	auto id = store_->createUpload("k", o);
	ASSERT_TRUE(id.ok()) << id.error().toString();
	EXPECT_EQ(*id, "U1");
	auto part = store_->uploadPart("k", *id, 1, bytesOf("bytes"));
	ASSERT_TRUE(part.ok());
	auto etag = store_->completeUpload("k", *id, { { 1, *part }, { 2, "\"p2\"" } });
	ASSERT_TRUE(etag.ok()) << etag.error().toString();
	EXPECT_EQ(*etag, "\"all-2\"");
	EXPECT_EQ(store_->abortUpload("k", "U0").error().code(), ESTALE);

	auto reqs = fake_.requests();
	ASSERT_EQ(reqs.size(), 4u);
	EXPECT_EQ(reqs[0].request.header("x-amz-meta-mode"), "33188");
	EXPECT_FALSE(reqs[0].request.header("If-Match"));
	EXPECT_EQ(bodyOf(reqs[1]), "bytes");
	EXPECT_NE(bodyOf(reqs[2]).find("<PartNumber>2</PartNumber><ETag>&quot;p2&quot;</ETag>"), std::string::npos)
		<< bodyOf(reqs[2]);
}

TEST_F(S3ObjectStoreTest, RemoveManyBatchesAndDeletesUnrepresentableKeysAlone)
{
	std::mutex m;
	std::vector<std::size_t> batchSizes;
	fake_.setHandler([&](const HttpRequest &r, const TransferOptions &o) {
		if (r.method == "DELETE")
			return FakeTransport::respond(o, 204);
		std::string body(reinterpret_cast<const char *>(r.body.data()), r.body.size());
		std::size_t n = 0;
		for (std::size_t p = body.find("<Object>"); p != std::string::npos; p = body.find("<Object>", p + 1))
			++n;
		std::lock_guard lock(m);
		batchSizes.push_back(n);
		if (body.find("<Key>k7</Key>") != std::string::npos)
			return FakeTransport::respond(o, 200,
						      "<DeleteResult><Error><Key>k7</Key><Code>AccessDenied</Code>"
						      "<Message>no</Message></Error></DeleteResult>");
		return FakeTransport::respond(o, 200, "<DeleteResult/>");
	});
	std::vector<std::string> keys;
	for (int i = 0; i < 2500; ++i)
		keys.push_back("k" + std::to_string(i));
	keys.push_back(std::string("bad\x01key"));
	auto failed = store_->removeMany(keys);
	ASSERT_TRUE(failed.ok()) << failed.error().toString();
	EXPECT_EQ(batchSizes, (std::vector<std::size_t>{ 1000, 1000, 500 }));
	ASSERT_EQ(failed->size(), 1u);
	EXPECT_EQ((*failed)[0].key, "k7");
	EXPECT_EQ((*failed)[0].errnum, EACCES);

	auto reqs = fake_.requests();
	EXPECT_EQ(std::count_if(reqs.begin(), reqs.end(), [](const auto &r) { return r.request.method == "DELETE"; }),
		  1);

	answer(500, "<Error><Code>InternalError</Code></Error>");
	auto whole = store_->removeMany({ "a" });
	ASSERT_FALSE(whole.ok());
	EXPECT_EQ(whole.error().code(), EIO);
}

TEST_F(S3ObjectStoreTest, ListUploadsFollowsEveryPage)
{
	fake_.setHandler([](const HttpRequest &r, const TransferOptions &o) {
		if (r.query.find("key-marker=a") == std::string::npos)
			return FakeTransport::respond(
				o, 200,
				"<ListMultipartUploadsResult><Bucket>bkt</Bucket><IsTruncated>true</IsTruncated>"
				"<NextKeyMarker>a</NextKeyMarker><NextUploadIdMarker>1</NextUploadIdMarker>"
				"<Upload><Key>a</Key><UploadId>1</UploadId></Upload></ListMultipartUploadsResult>");
		return FakeTransport::respond(o, 200,
					      "<ListMultipartUploadsResult><Bucket>bkt</Bucket>"
					      "<IsTruncated>false</IsTruncated>"
					      "<Upload><Key>b</Key><UploadId>2</UploadId></Upload>"
					      "</ListMultipartUploadsResult>");
	});
	auto uploads = store_->listUploads("");
	ASSERT_TRUE(uploads.ok()) << uploads.error().toString();
	ASSERT_EQ(uploads->size(), 2u);
	EXPECT_EQ((*uploads)[0].key, "a");
	EXPECT_EQ((*uploads)[1].uploadId, "2");
	EXPECT_EQ(fake_.requestCount(), 2u);

	/* Markers that never move would loop forever: an error instead. */
	fake_.clear();
	answer(200, "<ListMultipartUploadsResult><Bucket>bkt</Bucket><IsTruncated>true</IsTruncated>"
		    "<NextKeyMarker>a</NextKeyMarker><NextUploadIdMarker>1</NextUploadIdMarker>"
		    "</ListMultipartUploadsResult>");
	auto stuck = store_->listUploads("");
	ASSERT_FALSE(stuck.ok());
	EXPECT_EQ(stuck.error().code(), EIO);
	EXPECT_EQ(fake_.requestCount(), 2u);
}

} /* namespace */
