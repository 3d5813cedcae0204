// Scripted and fault-injecting transports for tests of the layers above the network.
#include "s3/fake_transport.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <thread>

namespace vfs::s3 {

FakeTransport::FakeTransport(Handler handler)
	: handler_(std::move(handler))
{
}

Result<HttpResponse> FakeTransport::perform(const HttpRequest &request, const TransferOptions &options)
{
	Handler handler;
	{
		std::lock_guard lock(mutex_);
		requests_.push_back({ request, { request.body.begin(), request.body.end() }, options });
		handler = handler_;
	}
	if (!handler)
		return respond(options, 200);
	return handler(request, options);
}

void FakeTransport::setHandler(Handler handler)
{
	std::lock_guard lock(mutex_);
	handler_ = std::move(handler);
}

std::vector<RecordedRequest> FakeTransport::requests() const
{
	std::lock_guard lock(mutex_);
	return requests_;
}

std::size_t FakeTransport::requestCount() const
{
	std::lock_guard lock(mutex_);
	return requests_.size();
}

void FakeTransport::clear()
{
	std::lock_guard lock(mutex_);
	requests_.clear();
}

Result<HttpResponse> FakeTransport::respond(const TransferOptions &options, int status,
					    std::string_view body, std::vector<HttpHeader> headers)
{
	HttpResponse response;
	response.status = status;
	response.headers = std::move(headers);
	if (status < 200 || status >= 300) {
		response.body = body.substr(0, options.maxErrorBodySize);
	} else if (options.downloadBuffer) {
		if (body.size() > options.downloadBuffer->size())
			return Error(EMSGSIZE, "response body larger than the download buffer");
		std::memcpy(options.downloadBuffer->data(), body.data(), body.size());
		response.downloaded = body.size();
	} else if (options.wantBody) {
		if (body.size() > options.maxBodySize)
			return Error(EMSGSIZE, "response body too large");
		response.body = body;
	}
	return response;
}

std::string s3ErrorBody(std::string_view code, std::string_view message)
{
	std::string body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>";
	body += code;
	body += "</Code><Message>";
	body += message;
	body += "</Message><RequestId>FAULT0000</RequestId><HostId>fault</HostId></Error>";
	return body;
}

FaultRule FaultRule::statusCode(int status, std::string s3Code)
{
	FaultRule rule;
	rule.kind = Kind::Status;
	rule.status = status;
	rule.s3Code = std::move(s3Code);
	return rule;
}

FaultRule FaultRule::network(NetworkFailure failure)
{
	FaultRule rule;
	rule.kind = Kind::Network;
	rule.failure = failure;
	return rule;
}

FaultRule FaultRule::lostResponse(NetworkFailure failure)
{
	FaultRule rule;
	rule.kind = Kind::LostResponse;
	rule.failure = failure;
	return rule;
}

FaultRule FaultRule::truncateBody(std::size_t bytes)
{
	FaultRule rule;
	rule.kind = Kind::TruncateBody;
	rule.truncateTo = bytes;
	return rule;
}

FaultRule FaultRule::delayBy(std::chrono::milliseconds d)
{
	FaultRule rule;
	rule.kind = Kind::Delay;
	rule.delay = d;
	return rule;
}

FaultRule &FaultRule::firstN(std::uint64_t n)
{
	count = n;
	return *this;
}

FaultRule &FaultRule::withProbability(double p)
{
	probability = p;
	return *this;
}

FaultRule &FaultRule::forMethod(std::string m)
{
	method = std::move(m);
	return *this;
}

FaultRule &FaultRule::forPathPrefix(std::string prefix)
{
	pathMatches = [prefix = std::move(prefix)](std::string_view path) { return path.starts_with(prefix); };
	return *this;
}

FaultInjectingTransport::FaultInjectingTransport(HttpTransport &inner, std::uint64_t seed, SleepFunction sleep)
	: inner_(inner), sleep_(std::move(sleep)), rng_(seed)
{
	if (!sleep_)
		sleep_ = [](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); };
}

void FaultInjectingTransport::addRule(FaultRule rule)
{
	std::lock_guard lock(mutex_);
	rules_.push_back({ std::move(rule) });
}

void FaultInjectingTransport::clearRules()
{
	std::lock_guard lock(mutex_);
	rules_.clear();
}

std::uint64_t FaultInjectingTransport::injected() const
{
	std::lock_guard lock(mutex_);
	return injected_;
}

Result<HttpResponse> FaultInjectingTransport::perform(const HttpRequest &request, const TransferOptions &options)
{
	std::optional<FaultRule> fault;
	{
		std::lock_guard lock(mutex_);
		for (ActiveRule &active : rules_) {
			const FaultRule &rule = active.rule;
			if (!rule.method.empty() && rule.method != request.method)
				continue;
			if (rule.pathMatches && !rule.pathMatches(request.path))
				continue;
			if (rule.count && active.fired >= rule.count)
				continue;
			if (rule.probability < 1.0 &&
			    std::uniform_real_distribution<double>(0.0, 1.0)(rng_) >= rule.probability)
				continue;
			active.fired++;
			injected_++;
			fault = rule;
			break;
		}
	}
	if (!fault)
		return inner_.perform(request, options);

	const std::string what = "injected " + request.method + " " + request.path;
	switch (fault->kind) {
	case FaultRule::Kind::Status: {
		std::string body = fault->s3Code.empty() ? std::string() : s3ErrorBody(fault->s3Code);
		return FakeTransport::respond(options, fault->status, body,
					      { { "Content-Type", "application/xml" },
						{ "Content-Length", std::to_string(body.size()) } });
	}
	case FaultRule::Kind::Network:
		return networkError(fault->failure, what + ": " + toString(fault->failure));
	case FaultRule::Kind::LostResponse: {
		auto response = inner_.perform(request, options);
		(void)response;
		return networkError(fault->failure, what + ": response lost, " + toString(fault->failure));
	}
	case FaultRule::Kind::TruncateBody: {
		auto response = inner_.perform(request, options);
		if (response) {
			if (response->body.size() > fault->truncateTo)
				response->body.resize(fault->truncateTo);
			response->downloaded = std::min(response->downloaded, fault->truncateTo);
		}
		return response;
	}
	case FaultRule::Kind::Delay:
		sleep_(fault->delay);
		return inner_.perform(request, options);
	}
	return inner_.perform(request, options);
}

} /* namespace vfs::s3 */
