// The retry policy and loop, against a fault-injecting transport over a scripted fake.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "s3/fake_transport.h"
#include "s3/retry.h"

namespace {

using namespace vfs::s3;
using std::chrono::milliseconds;

/* Records the backoff delays instead of sleeping. */
struct SleepRecorder {
	std::vector<milliseconds> delays;
	RetryPolicy::SleepFunction function()
	{
		return [this](milliseconds d) { delays.push_back(d); };
	}
};

RetryConfig testConfig(unsigned attempts = 5)
{
	RetryConfig config;
	config.maxAttempts = attempts;
	config.baseDelay = milliseconds(100);
	config.maxDelay = milliseconds(1000);
	config.seed = 42;
	return config;
}

/* An S3-like origin: GETs answer "hello", everything else an empty 200. */
FakeTransport::Handler origin()
{
	return [](const HttpRequest &request, const TransferOptions &options) {
		if (request.method == "GET")
			return FakeTransport::respond(options, 200, "hello");
		return FakeTransport::respond(options, 200);
	};
}

HttpRequest getRequest()
{
	HttpRequest r;
	r.method = "GET";
	r.host = "bucket.s3.example";
	r.path = "/key";
	return r;
}

/* Signs with a per-attempt date so each attempt is recognisable. */
struct CountingSigner {
	int calls = 0;
	ResignFunction function()
	{
		return [this](HttpRequest &request) -> vfs::Result<void> {
			++calls;
			request.setHeader("x-amz-date", "20240101T00000" + std::to_string(calls) + "Z");
			request.setHeader("Authorization", "AWS4-HMAC-SHA256 attempt=" + std::to_string(calls));
			return {};
		};
	}
};

struct TransientCase {
	const char *name;
	FaultRule rule;
	/* Requests that reach the origin: lost responses were delivered first. */
	std::size_t originRequests;
};

class RetriesTransient : public ::testing::TestWithParam<TransientCase>
{
};

TEST_P(RetriesTransient, AndSucceeds)
{
	const TransientCase &c = GetParam();
	FakeTransport fake(origin());
	FaultInjectingTransport faults(fake);
	faults.addRule(FaultRule(c.rule).firstN(2));
	SleepRecorder sleeps;
	RetryPolicy policy(testConfig(), sleeps.function());
	CountingSigner signer;

	auto response = performWithRetry(faults, getRequest(), {}, policy, signer.function());
	ASSERT_TRUE(response.ok()) << response.error().toString();
	EXPECT_EQ(response->status, 200);
	EXPECT_EQ(response->body, "hello");
	EXPECT_EQ(faults.injected(), 2u);
	EXPECT_EQ(fake.requestCount(), c.originRequests);
	EXPECT_EQ(signer.calls, 3);
	EXPECT_EQ(sleeps.delays.size(), 2u);
	EXPECT_EQ(policy.retries(), 2u);
}

INSTANTIATE_TEST_SUITE_P(
	Faults, RetriesTransient,
	::testing::Values(
		TransientCase{ "Status500InternalError", FaultRule::statusCode(500, "InternalError"), 1 },
		TransientCase{ "Status500NoBody", FaultRule::statusCode(500), 1 },
		TransientCase{ "Status502", FaultRule::statusCode(502), 1 },
		TransientCase{ "Status503SlowDown", FaultRule::statusCode(503, "SlowDown"), 1 },
		TransientCase{ "Status503ServiceUnavailable", FaultRule::statusCode(503, "ServiceUnavailable"), 1 },
		TransientCase{ "Status504", FaultRule::statusCode(504), 1 },
		TransientCase{ "Status400RequestTimeout", FaultRule::statusCode(400, "RequestTimeout"), 1 },
		TransientCase{ "Status400Throttling", FaultRule::statusCode(400, "Throttling"), 1 },
		TransientCase{ "Status400ThrottlingException", FaultRule::statusCode(400, "ThrottlingException"), 1 },
		TransientCase{ "Status503RequestLimitExceeded", FaultRule::statusCode(503, "RequestLimitExceeded"), 1 },
		TransientCase{ "Status408", FaultRule::statusCode(408), 1 },
		TransientCase{ "Status429", FaultRule::statusCode(429), 1 },
		TransientCase{ "Status429WithCode", FaultRule::statusCode(429, "TooManyRequests"), 1 },
		TransientCase{ "Reset", FaultRule::network(NetworkFailure::Reset), 1 },
		TransientCase{ "Timeout", FaultRule::network(NetworkFailure::Timeout), 1 },
		TransientCase{ "Connect", FaultRule::network(NetworkFailure::Connect), 1 },
		TransientCase{ "Dns", FaultRule::network(NetworkFailure::Dns), 1 },
		TransientCase{ "TlsHandshake", FaultRule::network(NetworkFailure::TlsHandshake), 1 },
		TransientCase{ "LostResponseReset", FaultRule::lostResponse(NetworkFailure::Reset), 3 },
		TransientCase{ "LostResponseTimeout", FaultRule::lostResponse(NetworkFailure::Timeout), 3 }),
	[](const ::testing::TestParamInfo<TransientCase> &param) { return std::string(param.param.name); });

struct PermanentCase {
	const char *name;
	FaultRule rule;
	int status; /* 0: a network error */
	const char *code;
};

class FailsAtOnce : public ::testing::TestWithParam<PermanentCase>
{
};

TEST_P(FailsAtOnce, WithoutRetrying)
{
	const PermanentCase &c = GetParam();
	FakeTransport fake(origin());
	FaultInjectingTransport faults(fake);
	faults.addRule(c.rule);
	SleepRecorder sleeps;
	RetryPolicy policy(testConfig(), sleeps.function());
	CountingSigner signer;

	auto response = performWithRetry(faults, getRequest(), {}, policy, signer.function());
	EXPECT_EQ(faults.injected(), 1u);
	EXPECT_EQ(signer.calls, 1);
	EXPECT_TRUE(sleeps.delays.empty());
	EXPECT_EQ(policy.retries(), 0u);
	if (c.status == 0) {
		ASSERT_FALSE(response.ok());
		EXPECT_EQ(networkFailureOf(response.error()), c.rule.failure);
	} else {
		/* The final answer comes back as a response, for the caller to type. */
		ASSERT_TRUE(response.ok()) << response.error().toString();
		EXPECT_EQ(response->status, c.status);
		EXPECT_EQ(sniffS3ErrorCode(*response), c.code);
	}
}

INSTANTIATE_TEST_SUITE_P(
	Faults, FailsAtOnce,
	::testing::Values(
		PermanentCase{ "Status400", FaultRule::statusCode(400, "InvalidArgument"), 400, "InvalidArgument" },
		PermanentCase{ "Status400NoCode", FaultRule::statusCode(400), 400, "" },
		PermanentCase{ "Status403AccessDenied", FaultRule::statusCode(403, "AccessDenied"), 403, "AccessDenied" },
		PermanentCase{ "Status403SignatureDoesNotMatch", FaultRule::statusCode(403, "SignatureDoesNotMatch"), 403,
			       "SignatureDoesNotMatch" },
		PermanentCase{ "Status403RequestTimeTooSkewed", FaultRule::statusCode(403, "RequestTimeTooSkewed"), 403,
			       "RequestTimeTooSkewed" },
		PermanentCase{ "Status404", FaultRule::statusCode(404, "NoSuchKey"), 404, "NoSuchKey" },
		PermanentCase{ "Status412", FaultRule::statusCode(412, "PreconditionFailed"), 412, "PreconditionFailed" },
		PermanentCase{ "Status501NotImplemented", FaultRule::statusCode(501, "NotImplemented"), 501,
			       "NotImplemented" },
		PermanentCase{ "TlsVerify", FaultRule::network(NetworkFailure::TlsVerify), 0, "" },
		PermanentCase{ "Other", FaultRule::network(NetworkFailure::Other), 0, "" }),
	[](const ::testing::TestParamInfo<PermanentCase> &param) { return std::string(param.param.name); });

TEST(Retry, GivesUpAfterMaxAttemptsWithTheLastError)
{
	FakeTransport fake(origin());
	FaultInjectingTransport faults(fake);
	faults.addRule(FaultRule::network(NetworkFailure::Reset).firstN(2));
	faults.addRule(FaultRule::network(NetworkFailure::Timeout));
	SleepRecorder sleeps;
	RetryPolicy policy(testConfig(4), sleeps.function());
	CountingSigner signer;

	auto response = performWithRetry(faults, getRequest(), {}, policy, signer.function());
	ASSERT_FALSE(response.ok());
	EXPECT_EQ(networkFailureOf(response.error()), NetworkFailure::Timeout);
	EXPECT_EQ(response.error().code(), ETIMEDOUT);
	EXPECT_EQ(faults.injected(), 4u);
	EXPECT_EQ(fake.requestCount(), 0u);
	EXPECT_EQ(signer.calls, 4);
	EXPECT_EQ(sleeps.delays.size(), 3u);
}

TEST(Retry, GivesUpOnAPersistentSlowDownWithTheLastResponse)
{
	FakeTransport fake(origin());
	FaultInjectingTransport faults(fake);
	faults.addRule(FaultRule::statusCode(500, "InternalError").firstN(1));
	faults.addRule(FaultRule::statusCode(503, "SlowDown"));
	SleepRecorder sleeps;
	RetryPolicy policy(testConfig(3), sleeps.function());

	auto response = performWithRetry(faults, getRequest(), {}, policy, {});
	ASSERT_TRUE(response.ok());
	EXPECT_EQ(response->status, 503);
	EXPECT_EQ(sniffS3ErrorCode(*response), "SlowDown");
	EXPECT_EQ(faults.injected(), 3u);
	EXPECT_EQ(sleeps.delays.size(), 2u);
}

TEST(Retry, BackoffIsFullJitterUnderACappedExponentialCeiling)
{
	RetryPolicy policy(testConfig());
	EXPECT_EQ(policy.backoffCeiling(0), milliseconds(100));
	EXPECT_EQ(policy.backoffCeiling(1), milliseconds(200));
	EXPECT_EQ(policy.backoffCeiling(2), milliseconds(400));
	EXPECT_EQ(policy.backoffCeiling(3), milliseconds(800));
	EXPECT_EQ(policy.backoffCeiling(4), milliseconds(1000));
	EXPECT_EQ(policy.backoffCeiling(60), milliseconds(1000));
	EXPECT_EQ(policy.backoffCeiling(1000), milliseconds(1000));

	/* Full jitter: uniform over [0, ceiling], so both ends and the middle are hit. */
	for (unsigned retry : { 0u, 3u, 9u }) {
		const auto ceiling = policy.backoffCeiling(retry).count();
		std::int64_t sum = 0, low = ceiling, high = 0;
		const int draws = 4000;
		for (int i = 0; i < draws; ++i) {
			const auto d = policy.backoff(retry).count();
			ASSERT_GE(d, 0);
			ASSERT_LE(d, ceiling);
			sum += d;
			low = std::min(low, d);
			high = std::max(high, d);
		}
		EXPECT_LE(low, ceiling / 20);
		EXPECT_GE(high, ceiling - ceiling / 20);
		EXPECT_NEAR(static_cast<double>(sum) / draws, ceiling / 2.0, ceiling * 0.05);
	}
}

TEST(Retry, RecordedDelaysStayWithinTheirBounds)
{
	FakeTransport fake(origin());
	FaultInjectingTransport faults(fake);
	faults.addRule(FaultRule::statusCode(503, "SlowDown"));
	SleepRecorder sleeps;
	RetryPolicy policy(testConfig(12), sleeps.function());

	auto response = performWithRetry(faults, getRequest(), {}, policy, {});
	ASSERT_TRUE(response.ok());
	ASSERT_EQ(sleeps.delays.size(), 11u);
	for (unsigned i = 0; i < sleeps.delays.size(); ++i) {
		const auto bound = std::min<std::int64_t>(1000, std::int64_t(100) << i);
		EXPECT_GE(sleeps.delays[i].count(), 0) << i;
		EXPECT_LE(sleeps.delays[i].count(), bound) << i;
	}
	/* Jittered: not the same delay every time. */
	EXPECT_NE(std::adjacent_find(sleeps.delays.begin() + 4, sleeps.delays.end(), std::not_equal_to<>()),
		  sleeps.delays.end());
}

TEST(Retry, ASeedMakesTheJitterRepeatable)
{
	RetryPolicy a(testConfig()), b(testConfig());
	RetryConfig other = testConfig();
	other.seed = 43;
	RetryPolicy c(other);
	std::vector<milliseconds> da, db, dc;
	for (unsigned i = 0; i < 20; ++i) {
		da.push_back(a.backoff(4));
		db.push_back(b.backoff(4));
		dc.push_back(c.backoff(4));
	}
	EXPECT_EQ(da, db);
	EXPECT_NE(da, dc);
}

TEST(Retry, EachAttemptIsSignedAfreshFromTheOriginalRequest)
{
	FakeTransport fake(origin());
	FaultInjectingTransport faults(fake);
	faults.addRule(FaultRule::lostResponse(NetworkFailure::Reset).firstN(3));
	SleepRecorder sleeps;
	RetryPolicy policy(testConfig(), sleeps.function());
	CountingSigner signer;

	auto response = performWithRetry(faults, getRequest(), {}, policy, signer.function());
	ASSERT_TRUE(response.ok());
	EXPECT_EQ(signer.calls, 4);
	auto seen = fake.requests();
	ASSERT_EQ(seen.size(), 4u);
	for (std::size_t i = 0; i < seen.size(); ++i) {
		const HttpRequest &r = seen[i].request;
		EXPECT_EQ(r.header("x-amz-date").value_or(""), "20240101T00000" + std::to_string(i + 1) + "Z");
		/* Signed from a clean copy: one Authorization, not one per attempt. */
		EXPECT_EQ(std::count_if(r.headers.begin(), r.headers.end(),
					[](const HttpHeader &h) { return h.name == "Authorization"; }),
			  1);
		EXPECT_EQ(r.headers.size(), 2u);
	}
}

TEST(Retry, ARetriedUploadSendsTheSameBytesFromTheSameMemory)
{
	std::vector<std::byte> body(1 << 20);
	std::mt19937 rng(7);
	for (std::byte &b : body)
		b = static_cast<std::byte>(rng());

	FakeTransport fake(origin());
	FaultInjectingTransport faults(fake);
	faults.addRule(FaultRule::lostResponse(NetworkFailure::Timeout).firstN(1));
	faults.addRule(FaultRule::statusCode(500, "InternalError").firstN(1));
	faults.addRule(FaultRule::lostResponse(NetworkFailure::Reset).firstN(1));
	SleepRecorder sleeps;
	RetryPolicy policy(testConfig(), sleeps.function());

	HttpRequest put;
	put.method = "PUT";
	put.host = "bucket.s3.example";
	put.path = "/part";
	put.query = "partNumber=3&uploadId=u";
	put.body = body;
	auto response = performWithRetry(faults, put, {}, policy, CountingSigner().function());
	ASSERT_TRUE(response.ok());
	EXPECT_EQ(response->status, 200);

	auto seen = fake.requests();
	ASSERT_EQ(seen.size(), 3u); /* the 500 never reached the origin */
	for (const RecordedRequest &r : seen) {
		EXPECT_EQ(r.request.body.data(), body.data());
		EXPECT_EQ(r.request.body.size(), body.size());
		EXPECT_TRUE(r.body == body);
		EXPECT_EQ(r.request.query, put.query);
	}
}

TEST(Retry, ASigningFailureEndsTheLoop)
{
	FakeTransport fake(origin());
	RetryPolicy policy(testConfig());
	int calls = 0;
	auto response = performWithRetry(fake, getRequest(), {}, policy, [&](HttpRequest &) -> vfs::Result<void> {
		++calls;
		return vfs::Error(EACCES, "no credentials");
	});
	ASSERT_FALSE(response.ok());
	EXPECT_EQ(response.error().code(), EACCES);
	EXPECT_EQ(calls, 1);
	EXPECT_EQ(fake.requestCount(), 0u);
}

TEST(Retry, AnErrorInsideA200IsRetriedWhenTheExtractorReportsIt)
{
	/* CompleteMultipartUpload can answer 200 with an <Error> body. */
	int calls = 0;
	FakeTransport fake([&](const HttpRequest &, const TransferOptions &options) {
		if (++calls == 1)
			return FakeTransport::respond(options, 200, s3ErrorBody("InternalError"));
		return FakeTransport::respond(options, 200, "<CompleteMultipartUploadResult/>");
	});
	SleepRecorder sleeps;
	RetryPolicy policy(testConfig(), sleeps.function());
	auto extractor = [](const HttpResponse &r) {
		HttpResponse copy = r;
		copy.status = 500; /* let the sniffer look inside the 200 */
		return sniffS3ErrorCode(copy);
	};
	HttpRequest post = getRequest();
	post.method = "POST";
	auto response = performWithRetry(fake, post, {}, policy, {}, extractor);
	ASSERT_TRUE(response.ok());
	EXPECT_EQ(response->body, "<CompleteMultipartUploadResult/>");
	EXPECT_EQ(calls, 2);

	/* The default extractor ignores 2xx bodies. */
	calls = 0;
	auto plain = performWithRetry(fake, post, {}, policy, {});
	ASSERT_TRUE(plain.ok());
	EXPECT_EQ(calls, 1);
}

TEST(Retry, DownloadsRetryIntoTheSameBuffer)
{
	FakeTransport fake(origin());
	FaultInjectingTransport faults(fake);
	faults.addRule(FaultRule::network(NetworkFailure::Reset).firstN(1));
	SleepRecorder sleeps;
	RetryPolicy policy(testConfig(), sleeps.function());
	std::vector<std::byte> buffer(16);
	TransferOptions options;
	options.downloadBuffer = std::span(buffer);
	auto response = performWithRetry(faults, getRequest(), options, policy, {});
	ASSERT_TRUE(response.ok());
	EXPECT_EQ(response->downloaded, 5u);
	EXPECT_EQ(std::memcmp(buffer.data(), "hello", 5), 0);
	EXPECT_EQ(fake.requests().at(0).options.downloadBuffer->data(), buffer.data());
}

TEST(RetryDecision, StatusesAndCodes)
{
	for (int status : { 500, 502, 503, 504, 599, 408, 429 })
		EXPECT_TRUE(RetryPolicy::shouldRetry(status, "")) << status;
	for (int status : { 200, 204, 206, 301, 304, 400, 401, 403, 404, 409, 412, 416, 501 })
		EXPECT_FALSE(RetryPolicy::shouldRetry(status, "")) << status;
	for (const char *code : { "SlowDown", "RequestTimeout", "InternalError", "ServiceUnavailable", "Throttling",
				  "ThrottlingException", "RequestLimitExceeded" }) {
		EXPECT_TRUE(RetryPolicy::shouldRetry(400, code)) << code;
		EXPECT_TRUE(RetryPolicy::shouldRetry(503, code)) << code;
		EXPECT_TRUE(RetryPolicy::shouldRetry(200, code)) << code;
	}
	for (const char *code : { "RequestTimeTooSkewed", "SignatureDoesNotMatch", "AccessDenied", "NoSuchKey",
				  "InvalidAccessKeyId", "XAmzContentSHA256Mismatch", "BadDigest", "ExpiredToken" })
		EXPECT_FALSE(RetryPolicy::shouldRetry(403, code)) << code;
	EXPECT_FALSE(RetryPolicy::shouldRetry(500, "NotImplemented"));
	EXPECT_FALSE(RetryPolicy::shouldRetry(200, "AccessDenied"));
}

TEST(RetryDecision, NetworkFailureClasses)
{
	EXPECT_TRUE(RetryPolicy::shouldRetry(NetworkFailure::Connect));
	EXPECT_TRUE(RetryPolicy::shouldRetry(NetworkFailure::Timeout));
	EXPECT_TRUE(RetryPolicy::shouldRetry(NetworkFailure::Reset));
	EXPECT_TRUE(RetryPolicy::shouldRetry(NetworkFailure::Dns));
	EXPECT_TRUE(RetryPolicy::shouldRetry(NetworkFailure::TlsHandshake));
	EXPECT_FALSE(RetryPolicy::shouldRetry(NetworkFailure::TlsVerify));
	EXPECT_FALSE(RetryPolicy::shouldRetry(NetworkFailure::Other));
	EXPECT_FALSE(RetryPolicy::shouldRetry(NetworkFailure::None));

	/* Each class survives the trip through vfs::Error. */
	for (NetworkFailure f : { NetworkFailure::Connect, NetworkFailure::Timeout, NetworkFailure::Reset,
				  NetworkFailure::Dns, NetworkFailure::TlsHandshake, NetworkFailure::TlsVerify,
				  NetworkFailure::Other })
		EXPECT_EQ(networkFailureOf(networkError(f, "x")), f) << toString(f);
	EXPECT_EQ(networkFailureOf(vfs::Error(EMSGSIZE, "too big")), NetworkFailure::None);
	EXPECT_EQ(networkFailureOf(vfs::Error(ENOMEM, "")), NetworkFailure::None);
}

TEST(FaultInjection, ProbabilityWithASeedIsRepeatable)
{
	auto pattern = [](std::uint64_t seed) {
		FakeTransport fake;
		FaultInjectingTransport faults(fake, seed);
		faults.addRule(FaultRule::statusCode(503, "SlowDown").withProbability(0.3));
		std::vector<int> statuses;
		for (int i = 0; i < 1000; ++i)
			statuses.push_back(faults.perform(getRequest(), {})->status);
		return statuses;
	};
	auto a = pattern(9), b = pattern(9), c = pattern(10);
	EXPECT_EQ(a, b);
	EXPECT_NE(a, c);
	const auto failed = std::count(a.begin(), a.end(), 503);
	EXPECT_GT(failed, 220);
	EXPECT_LT(failed, 380);
}

TEST(FaultInjection, RulesMatchByMethodAndPath)
{
	FakeTransport fake(origin());
	FaultInjectingTransport faults(fake);
	faults.addRule(FaultRule::statusCode(500).forMethod("PUT").forPathPrefix("/bucket/a").firstN(1));

	HttpRequest r = getRequest();
	r.path = "/bucket/a1";
	EXPECT_EQ(faults.perform(r, {})->status, 200); /* a GET */
	r.method = "PUT";
	r.path = "/bucket/b";
	EXPECT_EQ(faults.perform(r, {})->status, 200); /* another path */
	r.path = "/bucket/a2";
	EXPECT_EQ(faults.perform(r, {})->status, 500);
	EXPECT_EQ(faults.perform(r, {})->status, 200); /* only the first */
	EXPECT_EQ(faults.injected(), 1u);
}

TEST(FaultInjection, TruncatedBodiesAndDelays)
{
	FakeTransport fake(origin());
	std::vector<milliseconds> slept;
	FaultInjectingTransport faults(fake, 1, [&](milliseconds d) { slept.push_back(d); });
	faults.addRule(FaultRule::truncateBody(2).firstN(1));
	faults.addRule(FaultRule::delayBy(milliseconds(250)).firstN(1));

	auto cut = faults.perform(getRequest(), {});
	ASSERT_TRUE(cut.ok());
	EXPECT_EQ(cut->body, "he");

	std::vector<std::byte> buffer(16);
	TransferOptions options;
	options.downloadBuffer = std::span(buffer);
	auto delayed = faults.perform(getRequest(), options);
	ASSERT_TRUE(delayed.ok());
	EXPECT_EQ(delayed->downloaded, 5u);
	EXPECT_EQ(slept, std::vector<milliseconds>{ milliseconds(250) });
	EXPECT_EQ(fake.requestCount(), 2u);
}

TEST(FakeTransport, RespondHonoursTheTransferOptions)
{
	std::vector<std::byte> small(3);
	TransferOptions options;
	options.downloadBuffer = std::span(small);
	auto tooBig = FakeTransport::respond(options, 200, "hello");
	ASSERT_FALSE(tooBig.ok());
	EXPECT_EQ(tooBig.error().code(), EMSGSIZE);

	/* Errors bypass the buffer and are cut to the limit. */
	options.maxErrorBodySize = 4;
	auto error = FakeTransport::respond(options, 404, "NoSuchKey");
	ASSERT_TRUE(error.ok());
	EXPECT_EQ(error->body, "NoSu");
	EXPECT_EQ(error->downloaded, 0u);

	TransferOptions drop;
	drop.wantBody = false;
	EXPECT_TRUE(FakeTransport::respond(drop, 200, "hello")->body.empty());
}

} /* namespace */
