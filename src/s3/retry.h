// Which S3 failures to retry, capped exponential backoff with full jitter, and the retry loop.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>

#include "common/result.h"
#include "s3/http.h"
#include "s3/transport.h"

namespace vfs::s3 {

struct RetryConfig {
	/* Attempts in all, the first included. */
	unsigned maxAttempts = 5;
	std::chrono::milliseconds baseDelay{ 100 };
	std::chrono::milliseconds maxDelay{ 20000 };
	/* A fixed seed makes the jitter repeatable (tests); unset: seeded from the OS. */
	std::optional<std::uint64_t> seed;
};

/*
 * Decides whether a failed attempt is worth repeating, and how long to wait
 * first: a delay drawn uniformly from [0, min(maxDelay, baseDelay * 2^retry)]
 * ("full jitter": many clients backing off at once spread out instead of
 * retrying in lockstep). Thread-safe; one policy may serve every request.
 */
class RetryPolicy
{
public:
	using SleepFunction = std::function<void(std::chrono::milliseconds)>;

	/* Without @sleep the policy really sleeps; tests pass a recorder. */
	explicit RetryPolicy(RetryConfig config = {}, SleepFunction sleep = {});

	/* Transient network failures: connect, timeout, reset, DNS, a broken TLS handshake. */
	static bool shouldRetry(NetworkFailure failure);
	/*
	 * An HTTP answer: retry 5xx (but 501 Not Implemented), 408 and 429, and
	 * the transient S3 codes whatever their status (S3 sends RequestTimeout
	 * as a 400, and an InternalError inside a 200 from CompleteMultipartUpload).
	 * Everything else fails at once: no retry loop on a bad signature.
	 */
	static bool shouldRetry(int status, std::string_view s3ErrorCode);
	static bool isTransientErrorCode(std::string_view s3ErrorCode);

	/* min(maxDelay, baseDelay * 2^retry); retry 0 is the wait before the second attempt. */
	std::chrono::milliseconds backoffCeiling(unsigned retry) const;
	/* A full-jitter delay in [0, backoffCeiling(retry)]. */
	std::chrono::milliseconds backoff(unsigned retry);
	void sleep(std::chrono::milliseconds delay) const { sleep_(delay); }

	unsigned maxAttempts() const { return config_.maxAttempts; }
	const RetryConfig &config() const { return config_; }
	/* Attempts repeated so far, across all requests. */
	std::uint64_t retries() const { return retries_.load(std::memory_order_relaxed); }
	void countRetry() { retries_.fetch_add(1, std::memory_order_relaxed); }

private:
	const RetryConfig config_;
	SleepFunction sleep_;
	std::mutex rngMutex_;
	std::mt19937_64 rng_; /* guarded by rngMutex_ */
	std::atomic<std::uint64_t> retries_{ 0 };
};

/* Signs a request in place; called before every attempt, so each carries a fresh x-amz-date. */
using ResignFunction = std::function<Result<void>(HttpRequest &request)>;
/* The S3 error code in a response ("" if none). */
using ErrorCodeFunction = std::function<std::string(const HttpResponse &response)>;

/* The <Code> of a non-2xx answer's S3 error document (hardened XML parse), "" if it has none. */
std::string sniffS3ErrorCode(const HttpResponse &response);

/*
 * Performs @request until it succeeds, fails for good, or runs out of
 * attempts. Each attempt starts from a copy of @request, signed by @resign
 * (a failure to sign ends the loop); the body span is sent unchanged, so a
 * retried part re-sends exactly the same bytes. Returns the last outcome: an
 * Error for a network failure, else the response, whatever its status — the
 * caller turns a final S3 error response into a typed error. @errorCode
 * (default sniffS3ErrorCode) sees every response; a 2xx whose code it reports
 * counts as failed with that code.
 */
Result<HttpResponse> performWithRetry(HttpTransport &transport, const HttpRequest &request,
				      const TransferOptions &options, RetryPolicy &policy,
				      const ResignFunction &resign, const ErrorCodeFunction &errorCode = {});

} /* namespace vfs::s3 */
