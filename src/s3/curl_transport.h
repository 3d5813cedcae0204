// HttpTransport over libcurl: pooled keep-alive handles, shared DNS/TLS caches, bounded parallelism.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <semaphore>
#include <string>
#include <vector>

#include "common/result.h"
#include "s3/transport.h"

namespace vfs::s3 {

struct CurlTransportConfig {
	/* Requests in flight at once (and so connections open); callers beyond it wait. */
	std::size_t maxConnections = 16;
	std::chrono::milliseconds connectTimeout{ 10000 };
	/* A transfer slower than lowSpeedLimit bytes/s for lowSpeedTime fails with a Timeout. */
	std::size_t lowSpeedLimit = 1024;
	std::chrono::seconds lowSpeedTime{ 30 };
	/* The whole exchange; zero means no limit (the low-speed limit still applies). */
	std::chrono::milliseconds requestTimeout{ 0 };
	/* A PEM bundle of CAs to trust instead of the system bundle; empty: system CAs. */
	std::string caBundle;
	/* libcurl's receive buffer and upload buffer, allocated once per handle. */
	std::size_t receiveBufferSize = std::size_t(512) << 10;
	std::size_t uploadBufferSize = std::size_t(2) << 20;
	/* Idle seconds before TCP keepalive probes start on a pooled connection. */
	std::chrono::seconds tcpKeepAliveIdle{ 60 };
};

struct TransportMetrics {
	std::uint64_t requests = 0;       /* exchanges attempted */
	std::uint64_t bytesUp = 0;        /* request body bytes sent */
	std::uint64_t bytesDown = 0;      /* response body bytes received */
	std::uint64_t failures = 0;       /* exchanges that returned an Error */
	std::uint64_t errorResponses = 0; /* exchanges answered with a status >= 400 */
	std::uint64_t connections = 0;    /* connections opened (the rest were reused) */
};

/*
 * Each request borrows an easy handle from a pool. A handle keeps its own
 * connection cache, and the pool hands back the most recently used handle
 * first, so sequential requests ride one keep-alive connection. The DNS and
 * TLS session caches are shared between handles; the connection cache is not,
 * because libcurl's shared connection cache is not thread-safe (curl known
 * bug, issue 4915). TLS peer and host verification are always on.
 */
class CurlTransport : public HttpTransport
{
public:
	static Result<std::unique_ptr<CurlTransport>> create(CurlTransportConfig config);
	~CurlTransport() override;

	CurlTransport(const CurlTransport &) = delete;
	CurlTransport &operator=(const CurlTransport &) = delete;

	Result<HttpResponse> perform(const HttpRequest &request, const TransferOptions &options) override;

	TransportMetrics metrics() const;
	const CurlTransportConfig &config() const { return config_; }

private:
	struct Handle;
	struct Share;

	explicit CurlTransport(CurlTransportConfig config);
	Result<void> init();
	Result<std::unique_ptr<Handle>> takeHandle();
	void returnHandle(std::unique_ptr<Handle> handle);
	Result<HttpResponse> performOn(Handle &handle, const HttpRequest &request,
				       const TransferOptions &options);

	const CurlTransportConfig config_;
	std::unique_ptr<Share> share_;
	std::counting_semaphore<> slots_;
	std::mutex idleMutex_;
	std::vector<std::unique_ptr<Handle>> idle_; /* guarded by idleMutex_; the back is the warmest */

	std::atomic<std::uint64_t> requests_{ 0 };
	std::atomic<std::uint64_t> bytesUp_{ 0 };
	std::atomic<std::uint64_t> bytesDown_{ 0 };
	std::atomic<std::uint64_t> failures_{ 0 };
	std::atomic<std::uint64_t> errorResponses_{ 0 };
	std::atomic<std::uint64_t> connections_{ 0 };
};

} /* namespace vfs::s3 */
