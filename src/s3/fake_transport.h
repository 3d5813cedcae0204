// Test transports: a scripted fake, and a wrapper that injects failures into any transport.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "s3/transport.h"

namespace vfs::s3 {

/* A request as FakeTransport saw it, with a copy of its body (the original is borrowed). */
struct RecordedRequest {
	HttpRequest request; /* request.body still points at the caller's memory */
	std::vector<std::byte> body;
	TransferOptions options;
};

/*
 * Answers every request with a scripted handler and records what it was
 * asked. Thread-safe; the handler runs without the recording lock held.
 */
class FakeTransport : public HttpTransport
{
public:
	using Handler = std::function<Result<HttpResponse>(const HttpRequest &, const TransferOptions &)>;

	/* Without a handler every request gets an empty 200. */
	explicit FakeTransport(Handler handler = {});

	Result<HttpResponse> perform(const HttpRequest &request, const TransferOptions &options) override;

	void setHandler(Handler handler);
	std::vector<RecordedRequest> requests() const;
	std::size_t requestCount() const;
	void clear();

	/*
	 * A response delivered as a real transport would: a 2xx body goes into
	 * the download buffer if there is one (EMSGSIZE if it does not fit),
	 * else into HttpResponse::body within the options' limits.
	 */
	static Result<HttpResponse> respond(const TransferOptions &options, int status,
					    std::string_view body = {}, std::vector<HttpHeader> headers = {});

private:
	mutable std::mutex mutex_;
	Handler handler_;                       /* guarded by mutex_ */
	std::vector<RecordedRequest> requests_; /* guarded by mutex_ */
};

/* An S3 XML error body with @code, as S3 sends it with a 4xx/5xx status. */
std::string s3ErrorBody(std::string_view code, std::string_view message = "injected fault");

/* One kind of failure, and which requests it hits. */
struct FaultRule {
	enum class Kind {
		Status,       /* answer with status and an S3 error body, without forwarding */
		Network,      /* fail with a network error of class failure, without forwarding */
		LostResponse, /* forward (the server acts on it), then fail with class failure */
		TruncateBody, /* forward, then cut the body or download to truncateTo bytes */
		Delay,        /* wait delay, then forward */
	};

	Kind kind = Kind::Status;
	int status = 503;
	std::string s3Code = "SlowDown";
	NetworkFailure failure = NetworkFailure::Reset;
	std::size_t truncateTo = 0;
	std::chrono::milliseconds delay{ 0 };

	/* Requests the rule applies to: a method (empty: any) and a path predicate (empty: any). */
	std::string method;
	std::function<bool(std::string_view path)> pathMatches;
	/* Fire on the first @count matching requests; zero: no count limit. */
	std::uint64_t count = 0;
	/* Fire on each matching request with this probability (1: always). */
	double probability = 1.0;

	static FaultRule statusCode(int status, std::string s3Code = {});
	static FaultRule network(NetworkFailure failure);
	static FaultRule lostResponse(NetworkFailure failure);
	static FaultRule truncateBody(std::size_t bytes);
	static FaultRule delayBy(std::chrono::milliseconds delay);

	FaultRule &firstN(std::uint64_t n);
	FaultRule &withProbability(double p);
	FaultRule &forMethod(std::string m);
	FaultRule &forPathPrefix(std::string prefix);
};

/*
 * Wraps a transport and injects failures by rule: the first rule that
 * matches a request and fires decides its fate; others pass through.
 * Probabilities draw from a generator seeded once, so a run is repeatable.
 * Thread-safe.
 */
class FaultInjectingTransport : public HttpTransport
{
public:
	using SleepFunction = std::function<void(std::chrono::milliseconds)>;

	explicit FaultInjectingTransport(HttpTransport &inner, std::uint64_t seed = 1,
					 SleepFunction sleep = {});

	void addRule(FaultRule rule);
	void clearRules();
	/* How many requests a fault was injected into. */
	std::uint64_t injected() const;

	Result<HttpResponse> perform(const HttpRequest &request, const TransferOptions &options) override;

private:
	struct ActiveRule {
		FaultRule rule;
		std::uint64_t fired = 0;
	};

	HttpTransport &inner_;
	SleepFunction sleep_;
	mutable std::mutex mutex_;
	std::mt19937_64 rng_;             /* guarded by mutex_ */
	std::vector<ActiveRule> rules_;   /* guarded by mutex_ */
	std::uint64_t injected_ = 0;      /* guarded by mutex_ */
};

} /* namespace vfs::s3 */
