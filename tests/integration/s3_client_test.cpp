// The S3 client against real servers on loopback (Ceph RGW and s3rver), cross-checked with boto3.
#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <thread>

#include <gtest/gtest.h>

#include "s3/checksums.h"
#include "s3/client.h"
#include "s3/curl_transport.h"
#include "s3/sha256.h"

using namespace vfs::s3;

namespace {

constexpr std::size_t MiB = 1 << 20;

struct Server {
	std::string name; /* "rgw" or "s3rver" */
	std::string endpoint;
	std::string accessKey;
	std::string secretKey;
};

std::string env(const std::string &name)
{
	const char *v = std::getenv(name.c_str());
	return v ? v : "";
}

Server server(const std::string &name)
{
	std::string prefix = name == "rgw" ? "RGW_" : "S3RVER_";
	Server s{ name, env(prefix + "ENDPOINT"), env(prefix + "ACCESS_KEY_ID"), env(prefix + "SECRET_ACCESS_KEY") };
	if (s.endpoint.empty()) {
		ADD_FAILURE() << prefix << "ENDPOINT is not set: run this under tests/servers/with-servers.sh";
		std::abort();
	}
	return s;
}

std::vector<std::byte> randomBytes(std::size_t n, std::uint64_t seed)
{
	std::vector<std::byte> v(n);
	std::mt19937_64 rng(seed);
	std::size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		std::uint64_t x = rng();
		std::memcpy(&v[i], &x, 8);
	}
	for (; i < n; ++i)
		v[i] = std::byte(static_cast<unsigned char>(rng()));
	return v;
}

std::span<const std::byte> bytesOf(const std::string &s)
{
	return std::as_bytes(std::span(s.data(), s.size()));
}

std::string hexSha256(std::span<const std::byte> b)
{
	return toHex(sha256(b));
}

/* Runs tests/servers/s3check.py (boto3: the independent client) and returns its stdout. */
std::string s3check(const Server &s, const std::string &args, int *status = nullptr)
{
	std::string cmd = "S3_ENDPOINT='" + s.endpoint + "' AWS_ACCESS_KEY_ID='" + s.accessKey +
			  "' AWS_SECRET_ACCESS_KEY='" + s.secretKey + "' AWS_DEFAULT_REGION=us-east-1 python3 " +
			  env("VFS_SOURCE_ROOT") + "/tests/servers/s3check.py " + args;
	std::string out;
	FILE *p = popen(cmd.c_str(), "r");
	if (!p)
		return out;
	std::array<char, 4096> buf;
	std::size_t n;
	while ((n = fread(buf.data(), 1, buf.size(), p)) > 0)
		out.append(buf.data(), n);
	int rc = pclose(p);
	if (status)
		*status = rc;
	else
		EXPECT_EQ(rc, 0) << "s3check.py " << args << " failed: " << out;
	while (!out.empty() && (out.back() == '\n' || out.back() == '\r'))
		out.pop_back();
	return out;
}

/* One client for one bucket on one server, with knobs for the error tests. */
struct Rig {
	Rig(const Server &s, const std::string &bucket, CredentialsConfig creds = {}, ClientOptions options = {})
		: server(s)
	{
		if (creds.accessKeyId.empty() && creds.secretAccessKey.empty()) {
			creds.accessKeyId = s.accessKey;
			creds.secretAccessKey = s.secretKey;
		}
		chain = std::make_unique<CredentialChain>(creds, CredentialsEnvironment::process());
		auto t = CurlTransport::create(CurlTransportConfig{});
		EXPECT_TRUE(t.ok());
		transport = std::move(*t);
		auto e = Endpoint::resolve({ bucket, "us-east-1", s.endpoint, true });
		EXPECT_TRUE(e.ok()) << e.error().message();
		if (!options.sleep)
			options.sleep = [](std::chrono::milliseconds) {}; /* tests do not wait out backoff */
		client = std::make_unique<S3Client>(*e, *chain, *transport, options);
	}

	Server server;
	std::unique_ptr<CredentialChain> chain;
	std::unique_ptr<CurlTransport> transport;
	std::unique_ptr<S3Client> client;
};

std::string uniqueBucket(const std::string &what)
{
	static std::atomic<int> counter{ 0 };
	return "vfs-" + what + "-" + std::to_string(getpid()) + "-" + std::to_string(counter++);
}

class S3ClientTest : public ::testing::TestWithParam<std::string>
{
protected:
	void SetUp() override
	{
		server_ = server(GetParam());
		bucket_ = uniqueBucket("t");
		s3check(server_, "mb " + bucket_);
		rig_ = std::make_unique<Rig>(server_, bucket_);
	}
	void TearDown() override { s3check(server_, "rb " + bucket_ + " --force"); }

	S3Client &client() { return *rig_->client; }

	Server server_;
	std::string bucket_;
	std::unique_ptr<Rig> rig_;
};

TEST_P(S3ClientTest, HeadBucket)
{
	EXPECT_TRUE(client().headBucket().ok());
	Rig other(server_, "vfs-no-such-bucket-" + std::to_string(getpid()));
	auto missing = other.client->headBucket();
	ASSERT_FALSE(missing.ok());
	EXPECT_EQ(missing.error().httpStatus, 404);
	EXPECT_EQ(toErrno(missing.error()), ENOENT);
}

TEST_P(S3ClientTest, PutGetHeadWithMetadataAndRanges)
{
	auto body = randomBytes(3 * MiB + 17, 1);
	PutOptions opts;
	opts.metadata = { { "mode", "33188" }, { "uid", "1000" }, { "mtime", "1700000000" } };
	opts.contentType = "application/octet-stream";
	auto etag = client().putObject("dir/file.bin", body, opts);
	ASSERT_TRUE(etag.ok()) << etag.error().toString();
	EXPECT_EQ(etag->front(), '"');

	auto head = client().headObject("dir/file.bin");
	ASSERT_TRUE(head.ok()) << head.error().toString();
	EXPECT_EQ(head->size, body.size());
	EXPECT_EQ(head->etag, *etag);
	EXPECT_EQ(head->metadata["mode"], "33188");
	EXPECT_EQ(head->metadata["uid"], "1000");
	EXPECT_EQ(head->metadata["mtime"], "1700000000");

	std::vector<std::byte> whole(body.size());
	auto got = client().getObject("dir/file.bin", std::nullopt, whole);
	ASSERT_TRUE(got.ok()) << got.error().toString();
	EXPECT_EQ(got->bytes, body.size());
	EXPECT_EQ(whole, body);

	std::vector<std::byte> part(1000);
	auto ranged = client().getObject("dir/file.bin", ByteRange{ 2 * MiB + 5, 1000 }, part, *etag);
	ASSERT_TRUE(ranged.ok()) << ranged.error().toString();
	EXPECT_EQ(ranged->bytes, 1000u);
	EXPECT_EQ(ranged->objectSize, body.size());
	EXPECT_TRUE(std::equal(part.begin(), part.end(), body.begin() + 2 * MiB + 5));

	/* A changed object is never served as the old one (s3rver ignores If-Match; the client checks). */
	auto stale = client().getObject("dir/file.bin", ByteRange{ 0, 10 }, part, "\"0123456789abcdef0123456789abcdef\"");
	ASSERT_FALSE(stale.ok());
	EXPECT_EQ(stale.error().httpStatus, 412);
	EXPECT_EQ(toErrno(stale.error()), ESTALE);

	auto missing = client().headObject("dir/nope");
	ASSERT_FALSE(missing.ok());
	EXPECT_EQ(toErrno(missing.error()), ENOENT);
	auto missingGet = client().getObject("dir/nope", std::nullopt, part);
	ASSERT_FALSE(missingGet.ok());
	EXPECT_EQ(missingGet.error().code, "NoSuchKey");
}

TEST_P(S3ClientTest, KeysWithOddBytes)
{
	const std::vector<std::string> keys = {
		"with space", "plus+sign", "percent%41", "question?mark", "hash#tag", "tilde~x",
		"caf\xc3\xa9", "\xe6\x97\xa5\xe6\x9c\xac/\xe8\xaa\x9e", "a/b/c/deep", "semi;colon,comma=eq&amp",
		"quote\"s'", "star*paren()", "dollar$at@", "brackets[]{}", "back\\slash",
	};
	for (const auto &key : keys) {
		std::string content = "content of " + key;
		auto put = client().putObject(key, bytesOf(content));
		ASSERT_TRUE(put.ok()) << key << ": " << put.error().toString();
		std::vector<std::byte> back(content.size());
		auto got = client().getObject(key, std::nullopt, back);
		ASSERT_TRUE(got.ok()) << key << ": " << got.error().toString();
		EXPECT_TRUE(std::equal(back.begin(), back.end(), bytesOf(content).begin())) << key;
	}
	/* Every key comes back exactly from a listing (encoding-type=url round trip). */
	ListRequest list;
	auto page = client().listObjects(list);
	ASSERT_TRUE(page.ok()) << page.error().toString();
	std::vector<std::string> listed;
	for (const auto &o : page->contents)
		listed.push_back(o.key);
	auto expected = keys;
	std::sort(expected.begin(), expected.end());
	std::sort(listed.begin(), listed.end());
	EXPECT_EQ(listed, expected);
	/* And the independent client reads what we wrote under the odd name. */
	EXPECT_EQ(s3check(server_, "sha256 " + bucket_ + " 'with space'"), hexSha256(bytesOf("content of with space")));
}

TEST_P(S3ClientTest, ListObjectsPaginationPrefixDelimiter)
{
	for (const std::string k : { "a/1", "a/2", "a/3", "a/sub/x", "b/1", "top" })
		ASSERT_TRUE(client().putObject(k, bytesOf(k)).ok());

	ListRequest dirs;
	dirs.delimiter = "/";
	auto root = client().listObjects(dirs);
	ASSERT_TRUE(root.ok()) << root.error().toString();
	ASSERT_EQ(root->contents.size(), 1u);
	EXPECT_EQ(root->contents[0].key, "top");
	EXPECT_EQ(root->contents[0].size, 3u);
	EXPECT_EQ(root->commonPrefixes, (std::vector<std::string>{ "a/", "b/" }));

	ListRequest paged;
	paged.prefix = "a/";
	paged.maxKeys = 2;
	std::vector<std::string> seen;
	int pages = 0;
	do {
		auto p = client().listObjects(paged);
		ASSERT_TRUE(p.ok()) << p.error().toString();
		++pages;
		for (const auto &o : p->contents)
			seen.push_back(o.key);
		if (!p->isTruncated)
			break;
		paged.continuationToken = p->nextContinuationToken;
	} while (pages < 10);
	EXPECT_EQ(pages, 2);
	EXPECT_EQ(seen, (std::vector<std::string>{ "a/1", "a/2", "a/3", "a/sub/x" }));

	ListRequest after;
	after.startAfter = "a/3";
	auto rest = client().listObjects(after);
	ASSERT_TRUE(rest.ok());
	ASSERT_EQ(rest->contents.size(), 3u);
	EXPECT_EQ(rest->contents[0].key, "a/sub/x");
}

TEST_P(S3ClientTest, CopyObjectKeepsOrReplacesMetadata)
{
	PutOptions opts;
	opts.metadata = { { "mode", "33261" } };
	ASSERT_TRUE(client().putObject("src", bytesOf("copy me"), opts).ok());

	auto kept = client().copyObject("src", "dst-copy", MetadataDirective::Copy);
	ASSERT_TRUE(kept.ok()) << kept.error().toString();
	EXPECT_EQ(client().headObject("dst-copy")->metadata["mode"], "33261");

	PutOptions replaced;
	replaced.metadata = { { "mode", "33188" } };
	ASSERT_TRUE(client().copyObject("src", "dst-replace", MetadataDirective::Replace, replaced).ok());
	EXPECT_EQ(client().headObject("dst-replace")->metadata["mode"], "33188");
	/* In place: a chmod on an existing object. */
	ASSERT_TRUE(client().copyObject("src", "src", MetadataDirective::Replace, replaced).ok());
	EXPECT_EQ(client().headObject("src")->metadata["mode"], "33188");
	EXPECT_EQ(s3check(server_, "sha256 " + bucket_ + " dst-copy"), hexSha256(bytesOf("copy me")));
}

TEST_P(S3ClientTest, DeleteOneAndMany)
{
	std::vector<std::string> keys;
	for (int i = 0; i < 120; ++i) {
		keys.push_back("many/" + std::to_string(i));
		ASSERT_TRUE(client().putObject(keys.back(), bytesOf("x")).ok());
	}
	ASSERT_TRUE(client().deleteObject("many/0").ok());
	EXPECT_FALSE(client().headObject("many/0").ok());
	/* Deleting what is not there is not an error in S3. */
	EXPECT_TRUE(client().deleteObject("many/0").ok());

	auto batch = client().deleteObjects(keys);
	ASSERT_TRUE(batch.ok()) << batch.error().toString();
	EXPECT_TRUE(batch->errors.empty());
	ListRequest list;
	list.prefix = "many/";
	EXPECT_TRUE(client().listObjects(list)->contents.empty());

	std::vector<std::string> tooMany(1001, "k");
	EXPECT_FALSE(client().deleteObjects(tooMany).ok());
}

TEST_P(S3ClientTest, MultipartUploadCompleteAbortAndList)
{
	auto part1 = randomBytes(5 * MiB, 2), part2 = randomBytes(1 * MiB + 3, 3);
	auto id = client().createMultipartUpload("mp/object", PutOptions{ { { "mode", "33188" } }, {}, {} });
	ASSERT_TRUE(id.ok()) << id.error().toString();

	/* s3rver has no ListMultipartUploads: a typed NotImplemented, which fs treats as "none to clean". */
	auto uploads = client().listMultipartUploads("mp/");
	if (server_.name == "s3rver") {
		ASSERT_FALSE(uploads.ok());
		EXPECT_EQ(uploads.error().httpStatus, 501);
		EXPECT_EQ(toErrno(uploads.error()), EOPNOTSUPP);
	} else {
		ASSERT_TRUE(uploads.ok()) << uploads.error().toString();
		ASSERT_EQ(uploads->uploads.size(), 1u);
		EXPECT_EQ(uploads->uploads[0].uploadId, *id);
	}

	auto e1 = client().uploadPart("mp/object", *id, 1, part1);
	ASSERT_TRUE(e1.ok()) << e1.error().toString();
	auto e2 = client().uploadPart("mp/object", *id, 2, part2);
	ASSERT_TRUE(e2.ok()) << e2.error().toString();
	auto etag = client().completeMultipartUpload("mp/object", *id, { { 1, *e1 }, { 2, *e2 } });
	ASSERT_TRUE(etag.ok()) << etag.error().toString();
	EXPECT_FALSE(etag->empty()); /* RGW's empty ETag was replaced by HEAD's */
	EXPECT_EQ(*etag, client().headObject("mp/object")->etag);

	std::vector<std::byte> all(part1);
	all.insert(all.end(), part2.begin(), part2.end());
	EXPECT_EQ(s3check(server_, "sha256 " + bucket_ + " mp/object"), hexSha256(all));
	EXPECT_EQ(client().headObject("mp/object")->metadata["mode"], "33188");

	auto doomed = client().createMultipartUpload("mp/doomed");
	ASSERT_TRUE(doomed.ok());
	ASSERT_TRUE(client().uploadPart("mp/doomed", *doomed, 1, part2).ok());
	auto aborted = client().abortMultipartUpload("mp/doomed", *doomed);
	if (server_.name == "rgw") {
		ASSERT_TRUE(aborted.ok()) << aborted.error().toString();
		EXPECT_TRUE(client().listMultipartUploads("mp/")->uploads.empty());
	} else {
		/* s3rver has no AbortMultipartUpload either: a typed refusal, nothing half-done. */
		ASSERT_FALSE(aborted.ok());
		EXPECT_TRUE(aborted.error().httpStatus == 405 || aborted.error().httpStatus == 501)
			<< aborted.error().toString();
	}
	EXPECT_FALSE(client().headObject("mp/doomed").ok());
}

/*
 * Patch 4 KiB in the middle of an object as the filesystem will: untouched
 * ranges by UploadPartCopy where the server has it, else (s3rver) by the
 * fallback, a ranged GET and an UploadPart of the same bytes.
 */
TEST_P(S3ClientTest, PartialRewriteByPartCopyOrFallback)
{
	auto original = randomBytes(12 * MiB, 4);
	auto srcEtag = client().putObject("big", original);
	ASSERT_TRUE(srcEtag.ok());
	auto patched = original;
	auto patch = randomBytes(4096, 5);
	std::copy(patch.begin(), patch.end(), patched.begin() + 6 * MiB);

	auto id = client().createMultipartUpload("big");
	ASSERT_TRUE(id.ok());
	std::vector<CompletedPart> parts;
	const std::uint64_t partSize = 5 * MiB;
	bool fellBack = false;
	for (unsigned n = 1; (n - 1) * partSize < original.size(); ++n) {
		std::uint64_t off = (n - 1) * partSize, len = std::min<std::uint64_t>(partSize, original.size() - off);
		bool touched = off <= 6 * MiB && 6 * MiB < off + len;
		if (touched) {
			auto e = client().uploadPart("big", *id, n, std::span(patched).subspan(off, len));
			ASSERT_TRUE(e.ok()) << e.error().toString();
			parts.push_back({ static_cast<int>(n), *e });
			continue;
		}
		auto copied = client().uploadPartCopy("big", *id, n, "big", ByteRange{ off, len }, *srcEtag);
		if (!copied.ok()) {
			ASSERT_NE(server_.name, "rgw") << copied.error().toString();
			/* s3rver: no UploadPartCopy. The error is typed; fall back to GET + UploadPart. */
			fellBack = true;
			std::vector<std::byte> buf(len);
			ASSERT_TRUE(client().getObject("big", ByteRange{ off, len }, buf, *srcEtag).ok());
			auto e = client().uploadPart("big", *id, n, buf);
			ASSERT_TRUE(e.ok());
			parts.push_back({ static_cast<int>(n), *e });
		} else {
			EXPECT_EQ(copied->front(), '"'); /* RGW's bare ETag came back quoted */
			parts.push_back({ static_cast<int>(n), *copied });
		}
	}
	EXPECT_EQ(fellBack, server_.name == "s3rver");
	ASSERT_TRUE(client().completeMultipartUpload("big", *id, parts).ok());
	EXPECT_EQ(s3check(server_, "sha256 " + bucket_ + " big"), hexSha256(patched));
}

TEST_P(S3ClientTest, IndependentClientWritesWeRead)
{
	auto body = randomBytes(2 * MiB + 1, 6);
	char path[] = "/tmp/vfs-s3check.XXXXXX";
	int fd = mkstemp(path);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(write(fd, body.data(), body.size()), static_cast<ssize_t>(body.size()));
	close(fd);
	s3check(server_, "put " + bucket_ + " from/boto3 " + path);
	unlink(path);

	std::vector<std::byte> back(body.size());
	auto got = client().getObject("from/boto3", std::nullopt, back);
	ASSERT_TRUE(got.ok()) << got.error().toString();
	EXPECT_EQ(back, body);
}

/* A 1 GiB object: parallel multipart up, parallel ranged GETs down, SHA-256 checked by both clients. */
TEST_P(S3ClientTest, OneGibibyteObject)
{
	constexpr std::size_t kSize = std::size_t(1) << 30, kPart = 16 * MiB;
	auto body = randomBytes(kSize, 7);
	std::string expected = hexSha256(body);

	auto id = client().createMultipartUpload("huge");
	ASSERT_TRUE(id.ok());
	std::vector<CompletedPart> parts(kSize / kPart);
	std::atomic<std::size_t> next{ 0 };
	std::atomic<bool> failed{ false };
	auto upload = [&] {
		for (std::size_t i; (i = next++) < parts.size();) {
			auto e = client().uploadPart("huge", *id, static_cast<unsigned>(i + 1),
						     std::span(body).subspan(i * kPart, kPart));
			if (!e.ok()) {
				failed = true;
				return;
			}
			parts[i] = { static_cast<int>(i + 1), *e };
		}
	};
	std::vector<std::thread> threads;
	for (int t = 0; t < 4; ++t)
		threads.emplace_back(upload);
	for (auto &t : threads)
		t.join();
	ASSERT_FALSE(failed.load());
	ASSERT_TRUE(client().completeMultipartUpload("huge", *id, parts).ok());
	EXPECT_EQ(client().headObject("huge")->size, kSize);

	std::vector<std::byte> back(kSize);
	next = 0;
	threads.clear();
	auto download = [&] {
		for (std::size_t i; (i = next++) < kSize / kPart;) {
			auto g = client().getObject("huge", ByteRange{ i * kPart, kPart },
						    std::span(back).subspan(i * kPart, kPart));
			if (!g.ok() || g->bytes != kPart)
				failed = true;
		}
	};
	for (int t = 0; t < 4; ++t)
		threads.emplace_back(download);
	for (auto &t : threads)
		t.join();
	ASSERT_FALSE(failed.load());
	EXPECT_EQ(hexSha256(back), expected);
	EXPECT_EQ(s3check(server_, "sha256 " + bucket_ + " huge"), expected);
}

INSTANTIATE_TEST_SUITE_P(Servers, S3ClientTest, ::testing::Values("rgw", "s3rver"),
			 [](const auto &param) { return param.param; });

/* Signature and credential failures: only RGW verifies SigV4 (s3rver accepts anything). */
class RgwAuthTest : public ::testing::Test
{
protected:
	void SetUp() override
	{
		rgw_ = server("rgw");
		bucket_ = uniqueBucket("auth");
		s3check(rgw_, "mb " + bucket_);
	}
	void TearDown() override { s3check(rgw_, "rb " + bucket_ + " --force"); }

	/* Runs @op and checks it failed with @code after exactly one attempt. */
	void expectNoRetry(Rig &rig, const std::string &code, int status)
	{
		auto r = rig.client->putObject("k", bytesOf("data"));
		ASSERT_FALSE(r.ok());
		EXPECT_EQ(r.error().code, code) << r.error().toString();
		EXPECT_EQ(r.error().httpStatus, status);
		EXPECT_EQ(rig.client->metrics().attempts, 1u) << "retried a request that cannot succeed";
		EXPECT_EQ(r.error().toString().find(rig_secret_), std::string::npos);
	}

	Server rgw_;
	std::string bucket_;
	std::string rig_secret_ = "definitely-not-the-secret-0000000000000";
};

TEST_F(RgwAuthTest, WrongSecret)
{
	CredentialsConfig creds;
	creds.accessKeyId = rgw_.accessKey;
	creds.secretAccessKey = rig_secret_;
	Rig rig(rgw_, bucket_, creds);
	expectNoRetry(rig, "SignatureDoesNotMatch", 403);
	auto again = rig.client->putObject("k", bytesOf("d"));
	ASSERT_FALSE(again.ok());
	EXPECT_EQ(toErrno(again.error()), EACCES);
}

TEST_F(RgwAuthTest, UnknownAccessKey)
{
	CredentialsConfig creds;
	creds.accessKeyId = "AKIDNOSUCHKEY0000000";
	creds.secretAccessKey = rig_secret_;
	Rig rig(rgw_, bucket_, creds);
	expectNoRetry(rig, "InvalidAccessKeyId", 403);
}

TEST_F(RgwAuthTest, SkewedClock)
{
	ClientOptions options;
	options.clock = [] { return std::chrono::system_clock::now() - std::chrono::hours(2); };
	Rig rig(rgw_, bucket_, {}, options);
	expectNoRetry(rig, "RequestTimeTooSkewed", 403);
}

/* Changes the body after it was signed, as corruption on the way would. */
class TamperingTransport : public HttpTransport
{
public:
	explicit TamperingTransport(HttpTransport &inner) : inner_(inner) {}
	vfs::Result<HttpResponse> perform(const HttpRequest &request, const TransferOptions &options) override
	{
		HttpRequest copy = request;
		tampered_.assign(request.body.begin(), request.body.end());
		if (!tampered_.empty())
			tampered_[0] ^= std::byte{ 1 };
		copy.body = tampered_;
		return inner_.perform(copy, options);
	}

private:
	HttpTransport &inner_;
	std::vector<std::byte> tampered_;
};

TEST_F(RgwAuthTest, BodyChangedAfterSigning)
{
	Rig rig(rgw_, bucket_);
	TamperingTransport tampering(*rig.transport);
	auto endpoint = Endpoint::resolve({ bucket_, "us-east-1", rgw_.endpoint, true });
	ClientOptions options;
	options.sleep = [](std::chrono::milliseconds) {};
	S3Client client(*endpoint, *rig.chain, tampering, options);
	auto r = client.putObject("k", bytesOf("the original body"));
	ASSERT_FALSE(r.ok());
	/* RGW checks Content-MD5 or the signed SHA-256 first; either way a clear 400, no retry. */
	EXPECT_TRUE(r.error().code == "XAmzContentSHA256Mismatch" || r.error().code == "BadDigest")
		<< r.error().toString();
	EXPECT_EQ(r.error().httpStatus, 400);
	EXPECT_EQ(client.metrics().attempts, 1u);
	EXPECT_FALSE(rig.client->headObject("k").ok());
}

} /* namespace */

namespace {

/* Long names: s3rver answers 500 past 240-byte components, so they are tested on RGW. */
TEST(RgwLongKeys, MaximalComponentsAndKeys)
{
	Server rgw = server("rgw");
	std::string bucket = uniqueBucket("long");
	s3check(rgw, "mb " + bucket);
	{
		Rig rig(rgw, bucket);
		std::string component(255, 'n');               /* NAME_MAX */
		std::string deep = component + "/" + component + "/" + component + "/" +
				   std::string(1024 - 3 * 256, 'k'); /* S3's 1024-byte key limit */
		ASSERT_EQ(deep.size(), 1024u);
		for (const std::string &key : { component, deep, std::string(85, 'x') + "\xe6\x97\xa5" }) {
			auto put = rig.client->putObject(key, bytesOf(key));
			ASSERT_TRUE(put.ok()) << key.size() << ": " << put.error().toString();
			auto head = rig.client->headObject(key);
			ASSERT_TRUE(head.ok()) << head.error().toString();
			EXPECT_EQ(head->size, key.size());
		}
		ListRequest list;
		list.prefix = component + "/";
		auto page = rig.client->listObjects(list);
		ASSERT_TRUE(page.ok());
		ASSERT_EQ(page->contents.size(), 1u);
		EXPECT_EQ(page->contents[0].key, deep);

		auto tooLong = rig.client->putObject(deep + "x", bytesOf("x"));
		ASSERT_FALSE(tooLong.ok());
		EXPECT_GE(tooLong.error().httpStatus, 400);
		EXPECT_LT(tooLong.error().httpStatus, 500) << tooLong.error().toString();
	}
	s3check(rgw, "rb " + bucket + " --force");
}

} /* namespace */
