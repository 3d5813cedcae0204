// Network failure classes and their errno encoding.
#include "s3/transport.h"

#include <cerrno>

namespace vfs::s3 {

const char *toString(NetworkFailure failure)
{
	switch (failure) {
	case NetworkFailure::None:
		return "none";
	case NetworkFailure::Connect:
		return "connect";
	case NetworkFailure::Timeout:
		return "timeout";
	case NetworkFailure::Reset:
		return "reset";
	case NetworkFailure::Dns:
		return "dns";
	case NetworkFailure::TlsHandshake:
		return "tls-handshake";
	case NetworkFailure::TlsVerify:
		return "tls-verify";
	case NetworkFailure::Other:
		return "other";
	}
	return "unknown";
}

Error networkError(NetworkFailure failure, std::string message)
{
	int code = EREMOTEIO;
	switch (failure) {
	case NetworkFailure::None:
		/* Not a network failure: the caller should have used another errno. */
		code = EIO;
		break;
	case NetworkFailure::Connect:
		code = ECONNREFUSED;
		break;
	case NetworkFailure::Timeout:
		code = ETIMEDOUT;
		break;
	case NetworkFailure::Reset:
		code = ECONNRESET;
		break;
	case NetworkFailure::Dns:
		code = EHOSTUNREACH;
		break;
	case NetworkFailure::TlsHandshake:
		code = EPROTO;
		break;
	case NetworkFailure::TlsVerify:
		code = EKEYREJECTED;
		break;
	case NetworkFailure::Other:
		code = EREMOTEIO;
		break;
	}
	return Error(code, std::move(message));
}

NetworkFailure networkFailureOf(const Error &error)
{
	switch (error.code()) {
	case ECONNREFUSED:
		return NetworkFailure::Connect;
	case ETIMEDOUT:
		return NetworkFailure::Timeout;
	case ECONNRESET:
		return NetworkFailure::Reset;
	case EHOSTUNREACH:
		return NetworkFailure::Dns;
	case EPROTO:
		return NetworkFailure::TlsHandshake;
	case EKEYREJECTED:
		return NetworkFailure::TlsVerify;
	case EREMOTEIO:
		return NetworkFailure::Other;
	default:
		return NetworkFailure::None;
	}
}

} /* namespace vfs::s3 */
