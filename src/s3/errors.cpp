// Typed S3 errors: retry classification, the errno mapping, and log-safe formatting.
#include "s3/errors.h"

#include <cerrno>
#include <optional>

#include "s3/http.h"
#include "s3/xml.h"

namespace vfs::s3 {

namespace {

/*
 * What vfs does with each S3 error code it knows. Codes decide before the
 * HTTP status (an error embedded in a 200 answer has only its code); an
 * unknown code falls back to the status (statusErrno, statusRetryable).
 *
 * errno choices, from what fs/ needs to tell apart:
 *  - ENOENT: the object (or version) is not there.
 *  - ENODEV for NoSuchBucket: the whole store is gone. Not ENOENT, which
 *    would make a vanished bucket look like an empty directory and let
 *    create() "succeed" until the upload fails.
 *  - ESTALE: what we knew is out of date, refresh and try again.
 *    PreconditionFailed (If-Match lost: the object changed), InvalidRange
 *    (fs/ never asks past the size it knows, so a 416 means the object
 *    shrank), NoSuchUpload (the upload id is no longer valid: aborted, or
 *    already completed by a retried request).
 *  - EACCES: the request was not authorised: permissions, a wrong or
 *    expired key, a bad signature, and a skewed clock (RequestTimeTooSkewed
 *    is an authentication failure: it needs fixing, not retrying).
 *  - EAGAIN: the server is throttling (SlowDown, 503, 429): transient, and
 *    retryable() is true. If retries run out, fs/ keeps the data dirty.
 *  - ETIMEDOUT: RequestTimeout/408, the server gave up on a slow body.
 *  - EOPNOTSUPP for NotImplemented/501 (e.g. UploadPartCopy on s3rver: the
 *    flush planner falls back to uploading bytes). Deliberately not ENOSYS:
 *    if ENOSYS ever reached the kernel from FUSE fsync or flush, the kernel
 *    would stop sending those requests for the whole mount.
 *  - EFBIG, ENAMETOOLONG, E2BIG, EDQUOT: the limit the name says (object
 *    size, key length, metadata size, RGW quota).
 *  - EINVAL: a request S3 considers malformed (400s): a vfs bug, logged.
 *  - EIO: everything else, including server failures (500) and integrity
 *    failures (BadDigest: the bytes changed on the way).
 */
struct CodeInfo {
	std::string_view code;
	int errnum;
	bool retryable;
};

constexpr CodeInfo kCodes[] = {
	/* Transient: the same request may succeed later. */
	{ "InternalError", EIO, true },
	{ "ServiceUnavailable", EAGAIN, true },
	{ "SlowDown", EAGAIN, true },
	{ "Throttling", EAGAIN, true },
	{ "ThrottlingException", EAGAIN, true },
	{ "ThrottledException", EAGAIN, true },
	{ "RequestThrottled", EAGAIN, true },
	{ "RequestThrottledException", EAGAIN, true },
	{ "TooManyRequestsException", EAGAIN, true },
	{ "RequestLimitExceeded", EAGAIN, true },
	{ "BandwidthLimitExceeded", EAGAIN, true },
	{ "PriorRequestNotComplete", EAGAIN, true },
	{ "RequestTimeout", ETIMEDOUT, true },
	{ "RequestTimeoutException", ETIMEDOUT, true },

	/* Not there. */
	{ "NoSuchKey", ENOENT, false },
	{ "NoSuchVersion", ENOENT, false },
	{ "NoSuchBucket", ENODEV, false },

	/* Out of date. */
	{ "PreconditionFailed", ESTALE, false },
	{ "ConditionalRequestConflict", ESTALE, false },
	{ "InvalidRange", ESTALE, false },
	{ "NoSuchUpload", ESTALE, false },

	/* Not authorised. */
	{ "AccessDenied", EACCES, false },
	{ "AllAccessDisabled", EACCES, false },
	{ "AccountProblem", EACCES, false },
	{ "InvalidAccessKeyId", EACCES, false },
	{ "SignatureDoesNotMatch", EACCES, false },
	{ "InvalidToken", EACCES, false },
	{ "ExpiredToken", EACCES, false },
	{ "TokenRefreshRequired", EACCES, false },
	{ "InvalidSecurity", EACCES, false },
	{ "AuthorizationHeaderMalformed", EACCES, false },
	{ "RequestTimeTooSkewed", EACCES, false },
	{ "UserSuspended", EACCES, false },

	/* Not supported by this server. */
	{ "NotImplemented", EOPNOTSUPP, false },
	{ "MethodNotAllowed", EOPNOTSUPP, false },

	/* Limits. */
	{ "EntityTooLarge", EFBIG, false },
	{ "KeyTooLongError", ENAMETOOLONG, false },
	{ "MetadataTooLarge", E2BIG, false },
	{ "QuotaExceeded", EDQUOT, false },
	{ "BucketNotEmpty", ENOTEMPTY, false },
	{ "OperationAborted", EBUSY, false },

	/* Malformed requests. */
	{ "EntityTooSmall", EINVAL, false },
	{ "InvalidArgument", EINVAL, false },
	{ "InvalidRequest", EINVAL, false },
	{ "InvalidPart", EINVAL, false },
	{ "InvalidPartOrder", EINVAL, false },
	{ "InvalidDigest", EINVAL, false },
	{ "MalformedXML", EINVAL, false },
	{ "InvalidBucketName", EINVAL, false },
	{ "InvalidStorageClass", EINVAL, false },
	{ "MissingContentLength", EINVAL, false },

	/* Integrity: the bytes received are not the bytes signed or summed. */
	{ "BadDigest", EIO, false },
	{ "XAmzContentSHA256Mismatch", EIO, false },
	{ "IncompleteBody", EIO, false },
};

const CodeInfo *lookup(std::string_view code)
{
	for (const CodeInfo &c : kCodes)
		if (c.code == code)
			return &c;
	return nullptr;
}

int statusErrno(int status)
{
	switch (status) {
	case 400:
	case 411:
		return EINVAL;
	case 401:
	case 403:
		return EACCES;
	case 404:
		return ENOENT;
	case 405:
	case 501:
		return EOPNOTSUPP;
	case 408:
		return ETIMEDOUT;
	case 409:
		return EBUSY;
	case 412:
	case 416:
		return ESTALE;
	case 413:
		return EFBIG;
	case 414:
		return ENAMETOOLONG;
	case 429:
	case 503:
		return EAGAIN;
	default:
		return EIO;
	}
}

bool statusRetryable(int status)
{
	if (status == 408 || status == 429)
		return true;
	return status >= 500 && status <= 599 && status != 501;
}

std::string_view reasonPhrase(int status)
{
	switch (status) {
	case 301: return "Moved Permanently";
	case 307: return "Temporary Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 411: return "Length Required";
	case 412: return "Precondition Failed";
	case 413: return "Payload Too Large";
	case 414: return "URI Too Long";
	case 416: return "Range Not Satisfiable";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return "HTTP error";
	}
}

} /* namespace */

std::string logSafe(std::string_view text, std::size_t maxBytes)
{
	static const char digits[] = "0123456789abcdef";
	bool cut = text.size() > maxBytes;
	if (cut) {
		text = text.substr(0, maxBytes);
		/* Do not end inside a UTF-8 sequence: drop a last one that is incomplete. */
		std::size_t lead = text.size();
		while (lead > 0 && (static_cast<unsigned char>(text[lead - 1]) & 0xc0) == 0x80)
			--lead;
		if (lead > 0) {
			auto b = static_cast<unsigned char>(text[lead - 1]);
			std::size_t len = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
			if (len > 1 && lead - 1 + len > text.size())
				text = text.substr(0, lead - 1);
		}
	}
	std::string s;
	s.reserve(text.size() + 3);
	for (char c : text) {
		auto b = static_cast<unsigned char>(c);
		if (b < 0x20 || b == 0x7f || c == '\\') {
			s += "\\x";
			s += digits[b >> 4];
			s += digits[b & 0xf];
		} else {
			s += c;
		}
	}
	if (cut)
		s += "...";
	return s;
}

bool S3Error::retryable() const
{
	if (const CodeInfo *info = lookup(code))
		return info->retryable;
	return statusRetryable(httpStatus);
}

std::string S3Error::toString() const
{
	std::string s = code.empty() ? "HTTP" + std::to_string(httpStatus) : logSafe(code, 128);
	s += " (HTTP " + std::to_string(httpStatus) + ")";
	if (!message.empty())
		s += ": " + logSafe(message, 512);
	if (!requestId.empty() || !resource.empty()) {
		s += " [";
		if (!requestId.empty())
			s += "request " + logSafe(requestId, 128);
		if (!requestId.empty() && !resource.empty())
			s += ", ";
		if (!resource.empty())
			s += "resource " + logSafe(resource, 256);
		s += "]";
	}
	return s;
}

S3Error S3Error::fromStatus(int httpStatus)
{
	S3Error e;
	e.httpStatus = httpStatus;
	e.code = "HTTP" + std::to_string(httpStatus);
	e.message = reasonPhrase(httpStatus);
	return e;
}

S3Error S3Error::fromResponse(int httpStatus, std::string_view body, std::string_view requestIdHeader)
{
	S3Error e;
	Result<S3Error> parsed = body.empty() ? Result<S3Error>(Error(EBADMSG, "no body"))
					      : parseErrorDocument(body, httpStatus);
	if (parsed) {
		e = std::move(parsed).value();
	} else {
		e = fromStatus(httpStatus);
		if (!body.empty())
			e.message += " (the " + std::to_string(body.size()) +
				     "-byte body is not an S3 error document)";
	}
	if (e.requestId.empty())
		e.requestId = requestIdHeader;
	return e;
}

S3Error S3Error::fromResponse(const HttpResponse &response)
{
	return fromResponse(response.status, response.body,
			    response.header("x-amz-request-id").value_or(std::string_view()));
}

int toErrno(const S3Error &error)
{
	if (const CodeInfo *info = lookup(error.code))
		return info->errnum;
	return statusErrno(error.httpStatus);
}

Error toError(const S3Error &error, std::string_view operation)
{
	std::string message(operation);
	if (!message.empty())
		message += ": ";
	message += error.toString();
	return Error(toErrno(error), std::move(message));
}

} /* namespace vfs::s3 */
