// CurlTransport against an in-test HTTP/1.1 (and TLS) server on loopback.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <thread>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "http_test_server.h"
#include "s3/curl_transport.h"
#include "s3/fake_transport.h"
#include "s3/retry.h"

namespace {

using namespace vfs::s3;
using vfs::test::ServerRequest;
using vfs::test::ServerResponse;
using vfs::test::TestHttpServer;
using Clock = std::chrono::steady_clock;

std::vector<std::byte> randomBytes(std::size_t n, unsigned seed)
{
	std::vector<std::byte> bytes(n);
	std::mt19937 rng(seed);
	for (std::byte &b : bytes)
		b = static_cast<std::byte>(rng());
	return bytes;
}

std::string asString(std::span<const std::byte> bytes)
{
	return { reinterpret_cast<const char *>(bytes.data()), bytes.size() };
}

HttpRequest makeRequest(const TestHttpServer &server, std::string method, std::string path,
			std::string scheme = "http")
{
	HttpRequest r;
	r.method = std::move(method);
	r.scheme = std::move(scheme);
	r.host = server.host();
	r.path = std::move(path);
	return r;
}

std::unique_ptr<CurlTransport> makeTransport(CurlTransportConfig config = {})
{
	auto transport = CurlTransport::create(std::move(config));
	EXPECT_TRUE(transport.ok()) << transport.error().toString();
	return std::move(*transport);
}

TEST(CurlTransport, GetLandsInTheCallerBuffer)
{
	const std::string payload = asString(randomBytes(3 << 20, 1));
	TestHttpServer server([&](const ServerRequest &req) {
		ServerResponse r;
		r.body = payload;
		r.headers = { { "ETag", "\"abc\"" }, { "x-amz-request-id", "R1" } };
		EXPECT_EQ(req.method, "GET");
		EXPECT_EQ(req.target, "/bucket/some%20key?versionId=7");
		EXPECT_EQ(req.get("x-amz-date"), "20240101T000000Z");
		EXPECT_EQ(req.get("host"), server.host());
		EXPECT_EQ(req.get("x-empty"), "");
		EXPECT_TRUE(req.has("x-empty"));
		return r;
	});
	auto transport = makeTransport();

	HttpRequest request = makeRequest(server, "GET", "/bucket/some%20key");
	request.query = "versionId=7";
	request.headers = { { "x-amz-date", "20240101T000000Z" }, { "Host", server.host() }, { "x-empty", "" } };

	/* A larger buffer with a sentinel tail: nothing past the body may be touched. */
	std::vector<std::byte> buffer(payload.size() + 4096, std::byte{ 0xEE });
	TransferOptions options;
	options.downloadBuffer = std::span(buffer);
	auto response = transport->perform(request, options);
	ASSERT_TRUE(response.ok()) << response.error().toString();
	EXPECT_EQ(response->status, 200);
	EXPECT_EQ(response->downloaded, payload.size());
	EXPECT_TRUE(response->body.empty());
	EXPECT_EQ(asString(std::span(buffer).first(payload.size())), payload);
	for (std::size_t i = payload.size(); i < buffer.size(); ++i)
		ASSERT_EQ(buffer[i], std::byte{ 0xEE }) << i;
	EXPECT_EQ(response->header("etag").value_or(""), "\"abc\"");
	EXPECT_EQ(response->header("X-Amz-Request-Id").value_or(""), "R1");
	EXPECT_EQ(response->header("Content-Length").value_or(""), std::to_string(payload.size()));

	TransportMetrics m = transport->metrics();
	EXPECT_EQ(m.requests, 1u);
	EXPECT_EQ(m.bytesDown, payload.size());
	EXPECT_EQ(m.failures, 0u);
}

TEST(CurlTransport, GetWithoutBufferKeepsTheBodyWithinTheLimit)
{
	TestHttpServer server([](const ServerRequest &req) {
		ServerResponse r;
		r.body = req.target == "/big" ? std::string(5000, 'b') : "<ListBucketResult/>";
		return r;
	});
	auto transport = makeTransport();

	auto small = transport->perform(makeRequest(server, "GET", "/list"), {});
	ASSERT_TRUE(small.ok()) << small.error().toString();
	EXPECT_EQ(small->body, "<ListBucketResult/>");
	EXPECT_EQ(small->downloaded, 0u);

	TransferOptions limited;
	limited.maxBodySize = 4000;
	auto big = transport->perform(makeRequest(server, "GET", "/big"), limited);
	ASSERT_FALSE(big.ok());
	EXPECT_EQ(big.error().code(), EMSGSIZE);
	EXPECT_EQ(networkFailureOf(big.error()), NetworkFailure::None);

	TransferOptions dropped;
	dropped.wantBody = false;
	auto none = transport->perform(makeRequest(server, "GET", "/big"), dropped);
	ASSERT_TRUE(none.ok()) << none.error().toString();
	EXPECT_EQ(none->status, 200);
	EXPECT_TRUE(none->body.empty());
}

TEST(CurlTransport, ContentEncodedBodiesArriveUndecoded)
{
	/* Not valid gzip: decoding would fail or change it; S3 objects must come back as stored. */
	const std::string raw = "\x1f\x8b not really gzip";
	TestHttpServer server([&](const ServerRequest &) {
		ServerResponse r;
		r.body = raw;
		r.headers = { { "Content-Encoding", "gzip" } };
		return r;
	});
	auto transport = makeTransport();
	std::vector<std::byte> buffer(64);
	TransferOptions options;
	options.downloadBuffer = std::span(buffer);
	auto response = transport->perform(makeRequest(server, "GET", "/gz"), options);
	ASSERT_TRUE(response.ok()) << response.error().toString();
	EXPECT_EQ(asString(std::span(buffer).first(response->downloaded)), raw);
}

TEST(CurlTransport, PutStreamsTheExactBytesWithContentLength)
{
	const std::vector<std::byte> body = randomBytes((5 << 20) + 17, 2);
	std::vector<ServerRequest> seen;
	std::mutex seenMutex;
	TestHttpServer server([&](const ServerRequest &req) {
		std::lock_guard lock(seenMutex);
		seen.push_back(req);
		ServerResponse r;
		r.headers = { { "ETag", "\"etag\"" } };
		return r;
	});
	auto transport = makeTransport();

	HttpRequest put = makeRequest(server, "PUT", "/bucket/object");
	put.body = body;
	put.headers = { { "x-amz-content-sha256", "UNSIGNED-PAYLOAD" } };
	auto response = transport->perform(put, {});
	ASSERT_TRUE(response.ok()) << response.error().toString();
	EXPECT_EQ(response->status, 200);
	EXPECT_EQ(response->header("ETag").value_or(""), "\"etag\"");

	HttpRequest post = makeRequest(server, "POST", "/bucket/object");
	post.query = "uploadId=1";
	const std::string xml = "<CompleteMultipartUpload></CompleteMultipartUpload>";
	post.body = std::as_bytes(std::span(xml));
	ASSERT_TRUE(transport->perform(post, {}).ok());

	HttpRequest empty = makeRequest(server, "PUT", "/bucket/empty");
	ASSERT_TRUE(transport->perform(empty, {}).ok());

	HttpRequest create = makeRequest(server, "POST", "/bucket/object");
	create.query = "uploads";
	ASSERT_TRUE(transport->perform(create, {}).ok());

	HttpRequest del = makeRequest(server, "DELETE", "/bucket/object");
	ASSERT_TRUE(transport->perform(del, {}).ok());

	std::lock_guard lock(seenMutex);
	ASSERT_EQ(seen.size(), 5u);
	EXPECT_EQ(seen[0].method, "PUT");
	EXPECT_EQ(seen[0].get("content-length"), std::to_string(body.size()));
	EXPECT_FALSE(seen[0].has("expect"));
	EXPECT_FALSE(seen[0].has("transfer-encoding"));
	EXPECT_EQ(seen[0].get("x-amz-content-sha256"), "UNSIGNED-PAYLOAD");
	EXPECT_TRUE(seen[0].body == asString(body));
	EXPECT_EQ(seen[1].method, "POST");
	EXPECT_EQ(seen[1].target, "/bucket/object?uploadId=1");
	EXPECT_EQ(seen[1].body, xml);
	EXPECT_EQ(seen[1].get("content-length"), std::to_string(xml.size()));
	EXPECT_FALSE(seen[1].has("content-type"));
	EXPECT_EQ(seen[2].method, "PUT");
	EXPECT_EQ(seen[2].get("content-length"), "0");
	EXPECT_EQ(seen[3].method, "POST");
	EXPECT_EQ(seen[3].target, "/bucket/object?uploads");
	EXPECT_EQ(seen[3].get("content-length"), "0");
	EXPECT_EQ(seen[4].method, "DELETE");
	EXPECT_FALSE(seen[4].has("content-length"));

	TransportMetrics m = transport->metrics();
	EXPECT_EQ(m.requests, 5u);
	EXPECT_EQ(m.bytesUp, body.size() + xml.size());
}

TEST(CurlTransport, ContentLengthHeaderMustMatchTheBody)
{
	TestHttpServer server([](const ServerRequest &) { return ServerResponse{}; });
	auto transport = makeTransport();
	const std::string body = "12345";
	HttpRequest put = makeRequest(server, "PUT", "/o");
	put.body = std::as_bytes(std::span(body));
	put.headers = { { "Content-Length", "4" } };
	auto response = transport->perform(put, {});
	ASSERT_FALSE(response.ok());
	EXPECT_EQ(response.error().code(), EINVAL);
	EXPECT_EQ(server.requestsReceived(), 0u);

	put.headers = { { "Content-Length", "5" } };
	EXPECT_TRUE(transport->perform(put, {}).ok());
}

TEST(CurlTransport, HeadReturnsHeadersWithoutWaitingForABody)
{
	TestHttpServer server([](const ServerRequest &req) {
		EXPECT_EQ(req.method, "HEAD");
		ServerResponse r;
		r.headers = { { "Content-Length", "123456" }, { "x-amz-meta-color", "blue" } };
		return r;
	});
	CurlTransportConfig config;
	/* Were it waiting for a body, the stall would end in a timeout error after 3 s. */
	config.lowSpeedTime = std::chrono::seconds(3);
	auto transport = makeTransport(config);
	TransferOptions headOptions;
	headOptions.wantBody = false;
	const auto start = Clock::now();
	auto response = transport->perform(makeRequest(server, "HEAD", "/o"), headOptions);
	ASSERT_TRUE(response.ok()) << response.error().toString();
	EXPECT_LT(Clock::now() - start, std::chrono::seconds(2));
	EXPECT_EQ(response->status, 200);
	EXPECT_EQ(response->header("content-length").value_or(""), "123456");
	EXPECT_EQ(response->header("x-amz-meta-color").value_or(""), "blue");
	EXPECT_TRUE(response->body.empty());

	/* The connection is still in step: the next request works on it. */
	ASSERT_TRUE(transport->perform(makeRequest(server, "HEAD", "/o"), {}).ok());
	EXPECT_EQ(server.connectionsAccepted(), 1u);
}

TEST(CurlTransport, ErrorBodiesComeBackWithTheirStatus)
{
	const std::string error = vfs::s3::s3ErrorBody("NoSuchKey", "The specified key does not exist.");
	TestHttpServer server([&](const ServerRequest &req) {
		ServerResponse r;
		if (req.target == "/huge") {
			r.status = 503;
			r.body = std::string(3 << 20, 'x');
		} else {
			r.status = 404;
			r.body = error;
		}
		return r;
	});
	auto transport = makeTransport();

	std::vector<std::byte> buffer(1024, std::byte{ 0x11 });
	TransferOptions options;
	options.downloadBuffer = std::span(buffer);
	auto response = transport->perform(makeRequest(server, "GET", "/missing"), options);
	ASSERT_TRUE(response.ok()) << response.error().toString();
	EXPECT_EQ(response->status, 404);
	EXPECT_EQ(response->body, error);
	EXPECT_EQ(response->downloaded, 0u);
	for (std::byte b : buffer)
		ASSERT_EQ(b, std::byte{ 0x11 });
	EXPECT_EQ(sniffS3ErrorCode(*response), "NoSuchKey");

	/* An oversized error body is cut, not an error: the status is what matters. */
	TransferOptions capped;
	capped.maxErrorBodySize = 1000;
	auto huge = transport->perform(makeRequest(server, "GET", "/huge"), capped);
	ASSERT_TRUE(huge.ok()) << huge.error().toString();
	EXPECT_EQ(huge->status, 503);
	EXPECT_EQ(huge->body, std::string(1000, 'x'));

	/* And the transport goes on working after cutting a transfer short. */
	auto again = transport->perform(makeRequest(server, "GET", "/missing"), {});
	ASSERT_TRUE(again.ok());
	EXPECT_EQ(again->status, 404);

	TransportMetrics m = transport->metrics();
	EXPECT_EQ(m.errorResponses, 3u);
	EXPECT_EQ(m.failures, 0u);
}

TEST(CurlTransport, SequentialRequestsReuseOneConnection)
{
	TestHttpServer server([](const ServerRequest &) {
		ServerResponse r;
		r.body = "ok";
		return r;
	});
	auto transport = makeTransport();
	const std::string body(100000, 'p');
	for (int i = 0; i < 20; ++i) {
		HttpRequest request = makeRequest(server, i % 3 == 0 ? "PUT" : (i % 3 == 1 ? "GET" : "HEAD"), "/o");
		if (request.method == "PUT")
			request.body = std::as_bytes(std::span(body));
		auto response = transport->perform(request, {});
		ASSERT_TRUE(response.ok()) << response.error().toString();
		ASSERT_EQ(response->status, 200);
	}
	EXPECT_EQ(server.connectionsAccepted(), 1u);
	EXPECT_EQ(server.requestsReceived(), 20u);
	EXPECT_EQ(transport->metrics().connections, 1u);
}

TEST(CurlTransport, AServerClosedIdleConnectionIsReplacedAndTheBodyResent)
{
	std::vector<std::string> bodies;
	std::mutex m;
	TestHttpServer server([&](const ServerRequest &req) {
		std::lock_guard lock(m);
		bodies.push_back(req.body);
		return ServerResponse{};
	});
	auto transport = makeTransport();
	const std::vector<std::byte> body = randomBytes(300000, 3);
	HttpRequest put = makeRequest(server, "PUT", "/o");
	put.body = body;
	ASSERT_TRUE(transport->perform(put, {}).ok());
	server.closeConnections();
	std::this_thread::sleep_for(std::chrono::milliseconds(50));
	auto response = transport->perform(put, {});
	ASSERT_TRUE(response.ok()) << response.error().toString();
	EXPECT_EQ(server.connectionsAccepted(), 2u);
	std::lock_guard lock(m);
	ASSERT_EQ(bodies.size(), 2u);
	EXPECT_TRUE(bodies[1] == asString(body));
}

TEST(CurlTransport, ABodyIsRewoundWhenAReusedConnectionDiesUnanswered)
{
	/* The server takes the second request on its first connection and hangs up without a word. */
	std::vector<std::string> bodies;
	std::mutex m;
	std::size_t onFirst = 0;
	TestHttpServer server([&](const ServerRequest &req) {
		std::lock_guard lock(m);
		bodies.push_back(req.body);
		ServerResponse r;
		if (req.connection == 1 && ++onFirst == 2)
			r.dropConnection = true;
		return r;
	});
	auto transport = makeTransport();
	const std::vector<std::byte> body = randomBytes(200000, 6);
	HttpRequest put = makeRequest(server, "PUT", "/o");
	put.body = body;
	ASSERT_TRUE(transport->perform(put, {}).ok());
	/* libcurl replays a request that died unanswered on a reused connection: the body must rewind. */
	auto response = transport->perform(put, {});
	ASSERT_TRUE(response.ok()) << response.error().toString();
	EXPECT_EQ(response->status, 200);
	EXPECT_EQ(server.connectionsAccepted(), 2u);
	std::lock_guard lock(m);
	ASSERT_EQ(bodies.size(), 3u);
	for (const std::string &b : bodies)
		EXPECT_TRUE(b == asString(body));
}

TEST(CurlTransport, ParallelRequestsNeverExceedMaxConnections)
{
	TestHttpServer server([](const ServerRequest &) {
		std::this_thread::sleep_for(std::chrono::milliseconds(30));
		ServerResponse r;
		r.body = "ok";
		return r;
	});
	CurlTransportConfig config;
	config.maxConnections = 3;
	auto transport = makeTransport(config);

	std::atomic<int> ok{ 0 };
	std::vector<std::thread> threads;
	for (int t = 0; t < 12; ++t) {
		threads.emplace_back([&] {
			for (int i = 0; i < 3; ++i) {
				auto response = transport->perform(makeRequest(server, "GET", "/o"), {});
				if (response.ok() && response->body == "ok")
					++ok;
			}
		});
	}
	for (std::thread &t : threads)
		t.join();
	EXPECT_EQ(ok.load(), 36);
	EXPECT_LE(server.maxConcurrentRequests(), 3u);
	/* It did run in parallel, up to the bound. */
	EXPECT_EQ(server.maxConcurrentRequests(), 3u);
	EXPECT_LE(server.connectionsAccepted(), 3u);
}

TEST(CurlTransport, AClosedPortIsAQuickConnectFailure)
{
	/* Bind a port and release it without listening: connecting to it is refused. */
	int fd = ::socket(AF_INET, SOCK_STREAM, 0);
	sockaddr_in addr{};
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr *>(&addr), sizeof(addr)), 0);
	socklen_t len = sizeof(addr);
	::getsockname(fd, reinterpret_cast<sockaddr *>(&addr), &len);
	::close(fd);

	auto transport = makeTransport();
	HttpRequest request;
	request.scheme = "http";
	request.host = "127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
	const auto start = Clock::now();
	auto response = transport->perform(request, {});
	ASSERT_FALSE(response.ok());
	EXPECT_LT(Clock::now() - start, std::chrono::seconds(2));
	EXPECT_EQ(networkFailureOf(response.error()), NetworkFailure::Connect) << response.error().toString();
	EXPECT_TRUE(RetryPolicy::shouldRetry(networkFailureOf(response.error())));
	EXPECT_EQ(transport->metrics().failures, 1u);
}

TEST(CurlTransport, AStalledBodyHitsTheLowSpeedTimeout)
{
	const std::string pattern(4096, 's');
	TestHttpServer server([&](const ServerRequest &) {
		ServerResponse r;
		r.pattern = &pattern;
		r.generatedLength = 1 << 20;
		r.stallAfter = 100;
		return r;
	});
	CurlTransportConfig config;
	config.lowSpeedLimit = 1000;
	config.lowSpeedTime = std::chrono::seconds(1);
	auto transport = makeTransport(config);

	std::vector<std::byte> buffer(1 << 20);
	TransferOptions options;
	options.downloadBuffer = std::span(buffer);
	const auto start = Clock::now();
	auto response = transport->perform(makeRequest(server, "GET", "/slow"), options);
	const auto elapsed = Clock::now() - start;
	ASSERT_FALSE(response.ok());
	EXPECT_EQ(networkFailureOf(response.error()), NetworkFailure::Timeout) << response.error().toString();
	EXPECT_GE(elapsed, std::chrono::milliseconds(900));
	EXPECT_LT(elapsed, std::chrono::seconds(5));
}

TEST(CurlTransport, ABodyLargerThanTheBufferIsAnError)
{
	TestHttpServer server([](const ServerRequest &) {
		ServerResponse r;
		r.body = std::string(2000, 'z');
		return r;
	});
	auto transport = makeTransport();
	std::vector<std::byte> buffer(1000);
	TransferOptions options;
	options.downloadBuffer = std::span(buffer);
	auto response = transport->perform(makeRequest(server, "GET", "/o"), options);
	ASSERT_FALSE(response.ok());
	EXPECT_EQ(response.error().code(), EMSGSIZE);
	EXPECT_NE(response.error().message().find("download buffer"), std::string::npos);
	EXPECT_FALSE(RetryPolicy::shouldRetry(networkFailureOf(response.error())));
}

TEST(CurlTransport, AConnectionClosedMidResponseIsAReset)
{
	TestHttpServer server([](const ServerRequest &req) {
		ServerResponse r;
		if (req.target == "/cut") {
			r.body = std::string(1 << 20, 'c');
			r.closeAfter = 1000;
		} else {
			r.dropConnection = true;
		}
		return r;
	});
	auto transport = makeTransport();
	std::vector<std::byte> buffer(1 << 20);
	TransferOptions options;
	options.downloadBuffer = std::span(buffer);

	auto cut = transport->perform(makeRequest(server, "GET", "/cut"), options);
	ASSERT_FALSE(cut.ok());
	EXPECT_EQ(networkFailureOf(cut.error()), NetworkFailure::Reset) << cut.error().toString();

	auto nothing = transport->perform(makeRequest(server, "GET", "/nothing"), options);
	ASSERT_FALSE(nothing.ok());
	EXPECT_EQ(networkFailureOf(nothing.error()), NetworkFailure::Reset) << nothing.error().toString();
}

TEST(CurlTransport, RejectsBadConfiguration)
{
	CurlTransportConfig none;
	none.maxConnections = 0;
	EXPECT_FALSE(CurlTransport::create(none).ok());

	CurlTransportConfig missing;
	missing.caBundle = "/nonexistent/ca.pem";
	auto t = CurlTransport::create(missing);
	ASSERT_FALSE(t.ok());
	EXPECT_EQ(t.error().code(), ENOENT);
}

/* A self-signed certificate (its own CA) for @san, e.g. "IP:127.0.0.1", and a server context using it. */
struct TlsFixture {
	SSL_CTX *ctx = nullptr;
	std::string certPath;

	TlsFixture(const std::string &san, const std::filesystem::path &dir, const std::string &name)
	{
		EVP_PKEY *key = EVP_EC_gen("P-256");
		X509 *cert = X509_new();
		X509_set_version(cert, 2);
		ASN1_INTEGER_set(X509_get_serialNumber(cert), std::random_device()() & 0x7fffffff);
		X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
		X509_gmtime_adj(X509_getm_notAfter(cert), 86400);
		X509_set_pubkey(cert, key);
		X509_NAME *subject = X509_get_subject_name(cert);
		X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
					   reinterpret_cast<const unsigned char *>("vfs test"), -1, -1, 0);
		X509_set_issuer_name(cert, subject);
		X509V3_CTX v3;
		X509V3_set_ctx_nodb(&v3);
		X509V3_set_ctx(&v3, cert, cert, nullptr, nullptr, 0);
		for (auto [nid, value] : { std::pair{ NID_subject_alt_name, san.c_str() },
					   std::pair{ NID_basic_constraints, "critical,CA:TRUE" },
					   std::pair{ NID_key_usage, "critical,keyCertSign,digitalSignature" },
					   std::pair{ NID_subject_key_identifier, "hash" } }) {
			X509_EXTENSION *ext = X509V3_EXT_conf_nid(nullptr, &v3, nid, value);
			EXPECT_NE(ext, nullptr);
			X509_add_ext(cert, ext, -1);
			X509_EXTENSION_free(ext);
		}
		EXPECT_GT(X509_sign(cert, key, EVP_sha256()), 0);

		certPath = dir / (name + ".pem");
		FILE *f = std::fopen(certPath.c_str(), "w");
		PEM_write_X509(f, cert);
		std::fclose(f);

		ctx = SSL_CTX_new(TLS_server_method());
		EXPECT_EQ(SSL_CTX_use_certificate(ctx, cert), 1);
		EXPECT_EQ(SSL_CTX_use_PrivateKey(ctx, key), 1);
		X509_free(cert);
		EVP_PKEY_free(key);
	}
	~TlsFixture() { SSL_CTX_free(ctx); }
};

class CurlTransportTls : public ::testing::Test
{
protected:
	void SetUp() override
	{
		char tmpl[] = "/tmp/vfs-tls-XXXXXX";
		ASSERT_NE(::mkdtemp(tmpl), nullptr);
		dir_ = tmpl;
	}
	void TearDown() override { std::filesystem::remove_all(dir_); }

	std::filesystem::path dir_;
};

TEST_F(CurlTransportTls, VerificationIsOnAndACaBundleMakesItPass)
{
	TlsFixture tls("IP:127.0.0.1", dir_, "loopback");
	const std::string payload = asString(randomBytes(1 << 20, 4));
	TestHttpServer server([&](const ServerRequest &) {
		ServerResponse r;
		r.body = payload;
		return r;
	}, tls.ctx);

	/* System CAs only: a self-signed certificate is refused, and not retried. */
	auto strict = makeTransport();
	auto refused = strict->perform(makeRequest(server, "GET", "/o", "https"), {});
	ASSERT_FALSE(refused.ok());
	EXPECT_EQ(networkFailureOf(refused.error()), NetworkFailure::TlsVerify) << refused.error().toString();
	EXPECT_FALSE(RetryPolicy::shouldRetry(networkFailureOf(refused.error())));

	CurlTransportConfig config;
	config.caBundle = tls.certPath;
	auto trusting = makeTransport(config);
	std::vector<std::byte> buffer(payload.size());
	TransferOptions options;
	options.downloadBuffer = std::span(buffer);
	for (int i = 0; i < 3; ++i) {
		auto response = trusting->perform(makeRequest(server, "GET", "/o", "https"), options);
		ASSERT_TRUE(response.ok()) << response.error().toString();
		EXPECT_EQ(response->status, 200);
		EXPECT_EQ(asString(buffer), payload);
	}
	/* Keep-alive over TLS too: the failed handshake plus one good connection. */
	EXPECT_EQ(server.connectionsAccepted(), 2u);

	const std::string body = asString(randomBytes(2 << 20, 5));
	HttpRequest put = makeRequest(server, "PUT", "/o", "https");
	put.body = std::as_bytes(std::span(body));
	auto uploaded = trusting->perform(put, {});
	ASSERT_TRUE(uploaded.ok()) << uploaded.error().toString();
	EXPECT_EQ(server.bodyBytesReceived(), body.size());
}

TEST_F(CurlTransportTls, TheHostNameIsVerifiedToo)
{
	/* Trusted, but issued for another name than the one connected to. */
	TlsFixture tls("DNS:elsewhere.example", dir_, "elsewhere");
	TestHttpServer server([](const ServerRequest &) { return ServerResponse{}; }, tls.ctx);
	CurlTransportConfig config;
	config.caBundle = tls.certPath;
	auto transport = makeTransport(config);
	auto response = transport->perform(makeRequest(server, "GET", "/o", "https"), {});
	ASSERT_FALSE(response.ok());
	EXPECT_EQ(networkFailureOf(response.error()), NetworkFailure::TlsVerify) << response.error().toString();
}

} /* namespace */
