// The retry decision, full-jitter backoff, and the attempt loop around a transport.
#include "s3/retry.h"

#include <algorithm>
#include <array>
#include <thread>

#include "s3/xml.h"

namespace vfs::s3 {

namespace {

constexpr std::array<std::string_view, 7> kTransientCodes = {
	"SlowDown",
	"RequestTimeout",
	"InternalError",
	"ServiceUnavailable",
	"Throttling",
	"ThrottlingException",
	"RequestLimitExceeded",
};

std::uint64_t initialSeed(const RetryConfig &config)
{
	if (config.seed)
		return *config.seed;
	std::random_device device;
	return (std::uint64_t(device()) << 32) | device();
}

} /* namespace */

RetryPolicy::RetryPolicy(RetryConfig config, SleepFunction sleep)
	: config_(std::move(config)), sleep_(std::move(sleep)), rng_(initialSeed(config_))
{
	if (!sleep_)
		sleep_ = [](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); };
}

bool RetryPolicy::shouldRetry(NetworkFailure failure)
{
	switch (failure) {
	case NetworkFailure::Connect:
	case NetworkFailure::Timeout:
	case NetworkFailure::Reset:
	/* Resolvers fail transiently (no network yet at boot, a timed-out query). */
	case NetworkFailure::Dns:
	/* A handshake cut short is a broken connection, not a verdict on the certificate. */
	case NetworkFailure::TlsHandshake:
		return true;
	case NetworkFailure::None:
	case NetworkFailure::TlsVerify:
	case NetworkFailure::Other:
		return false;
	}
	return false;
}

bool RetryPolicy::isTransientErrorCode(std::string_view s3ErrorCode)
{
	return std::find(kTransientCodes.begin(), kTransientCodes.end(), s3ErrorCode) != kTransientCodes.end();
}

bool RetryPolicy::shouldRetry(int status, std::string_view s3ErrorCode)
{
	if (isTransientErrorCode(s3ErrorCode))
		return true;
	if (status == 408 || status == 429)
		return true;
	/* NotImplemented (UploadPartCopy on some servers) will not change: the caller falls back. */
	if (status == 501 || s3ErrorCode == "NotImplemented")
		return false;
	return status >= 500 && status < 600;
}

std::chrono::milliseconds RetryPolicy::backoffCeiling(unsigned retry) const
{
	const auto base = std::max<std::int64_t>(config_.baseDelay.count(), 0);
	const auto cap = std::max<std::int64_t>(config_.maxDelay.count(), 0);
	/* Doubling past the cap would overflow; stop as soon as it is reached. */
	std::int64_t ceiling = base;
	for (unsigned i = 0; i < retry && ceiling < cap; ++i)
		ceiling *= 2;
	return std::chrono::milliseconds(std::min(ceiling, cap));
}

std::chrono::milliseconds RetryPolicy::backoff(unsigned retry)
{
	const std::int64_t ceiling = backoffCeiling(retry).count();
	std::lock_guard lock(rngMutex_);
	return std::chrono::milliseconds(std::uniform_int_distribution<std::int64_t>(0, ceiling)(rng_));
}

std::string sniffS3ErrorCode(const HttpResponse &response)
{
	if (response.status >= 200 && response.status < 300)
		return {};
	auto error = parseErrorDocument(response.body, response.status);
	return error ? error->code : std::string();
}

Result<HttpResponse> performWithRetry(HttpTransport &transport, const HttpRequest &request,
				      const TransferOptions &options, RetryPolicy &policy,
				      const ResignFunction &resign, const ErrorCodeFunction &errorCode)
{
	const unsigned attempts = std::max(policy.maxAttempts(), 1u);
	for (unsigned attempt = 0;; ++attempt) {
		HttpRequest signedRequest = request;
		if (resign) {
			auto signedOk = resign(signedRequest);
			if (!signedOk)
				return signedOk.error();
		}

		Result<HttpResponse> result = transport.perform(signedRequest, options);
		bool retry;
		if (!result) {
			retry = RetryPolicy::shouldRetry(networkFailureOf(result.error()));
		} else {
			const std::string code = errorCode ? errorCode(*result) : sniffS3ErrorCode(*result);
			const bool success = result->status >= 200 && result->status < 300 && code.empty();
			retry = !success && RetryPolicy::shouldRetry(result->status, code);
		}

		if (!retry || attempt + 1 >= attempts)
			return result;
		policy.countRetry();
		policy.sleep(policy.backoff(attempt));
	}
}

} /* namespace vfs::s3 */
