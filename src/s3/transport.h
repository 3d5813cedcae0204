// The narrow seam in front of libcurl: one HTTP exchange, and how network failures are classed.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>

#include "common/result.h"
#include "s3/http.h"

namespace vfs::s3 {

/*
 * Why a request failed below HTTP. The retry policy decides from this class,
 * so the transport maps every libcurl code to exactly one of them.
 */
enum class NetworkFailure {
	None,         /* not a network failure: a local or caller error */
	Connect,      /* the TCP connection could not be made (refused, unreachable) */
	Timeout,      /* connect timeout, or the transfer stalled below the low-speed limit */
	Reset,        /* the connection broke: reset, send/recv error, closed mid-response */
	Dns,          /* the host name did not resolve */
	TlsHandshake, /* the TLS handshake broke off (not a verdict on the certificate) */
	TlsVerify,    /* the peer's certificate or name was rejected, or TLS is misconfigured */
	Other,        /* a protocol error the server will repeat (garbage reply, ...) */
};

const char *toString(NetworkFailure failure);

/*
 * Network failures travel as a vfs::Error whose errno names the class, so
 * they cross every layer unchanged (and reach FUSE as a sensible errno):
 * Connect ECONNREFUSED, Timeout ETIMEDOUT, Reset ECONNRESET, Dns
 * EHOSTUNREACH, TlsHandshake EPROTO, TlsVerify EKEYREJECTED, Other
 * EREMOTEIO. Transports use these errnos for nothing else.
 */
Error networkError(NetworkFailure failure, std::string message);
/* The class of an error returned by HttpTransport::perform; None if it is not a network failure. */
NetworkFailure networkFailureOf(const Error &error);

inline constexpr std::size_t kDefaultMaxBodySize = std::size_t(64) << 20;
inline constexpr std::size_t kDefaultMaxErrorBodySize = std::size_t(1) << 20;

/* Where a response body goes. */
struct TransferOptions {
	/*
	 * For a 2xx response the body is written straight into this buffer and
	 * nowhere else (HttpResponse::downloaded says how much). A body larger
	 * than the buffer fails with EMSGSIZE. Non-2xx bodies never touch it.
	 */
	std::optional<std::span<std::byte>> downloadBuffer;
	/* False: a 2xx body is read and dropped. Error bodies are always kept. */
	bool wantBody = true;
	/* A 2xx body kept in HttpResponse::body larger than this fails with EMSGSIZE. */
	std::size_t maxBodySize = kDefaultMaxBodySize;
	/* A non-2xx body is cut to this size (enough to read the S3 error code). */
	std::size_t maxErrorBodySize = kDefaultMaxErrorBodySize;
};

/*
 * Performs one HTTP exchange. The request goes out exactly as given (the
 * signer has set every header); the body is streamed from request.body
 * without a copy. Any HTTP status is a successful exchange: only failures to
 * exchange (network, oversized body) are errors. Implementations are
 * thread-safe: perform() may be called from many threads at once.
 */
class HttpTransport
{
public:
	virtual ~HttpTransport() = default;

	virtual Result<HttpResponse> perform(const HttpRequest &request, const TransferOptions &options) = 0;
};

} /* namespace vfs::s3 */
