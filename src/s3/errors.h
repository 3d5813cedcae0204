// Typed S3 errors: what the server said, whether to retry, and the one errno mapping.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "common/result.h"

namespace vfs::s3 {

struct HttpResponse;

/*
 * An error answer from S3 (or from whatever stands between us and S3). Built
 * from the XML <Error> document when there is one, from the HTTP status alone
 * otherwise (HEAD has no body, a proxy answers HTML): code is then "HTTP503".
 * Holds nothing secret: S3 echoes the access key id and the string to sign in
 * SignatureDoesNotMatch bodies, and those are deliberately not kept.
 */
struct S3Error {
	int httpStatus = 0; /* 200 for an error embedded in a 200 response */
	std::string code;
	std::string message; /* may be empty (Ceph RGW) */
	std::string requestId;
	std::string hostId;
	std::string resource;

	/* Whether sending the same request again may succeed (5xx, throttling, timeouts). */
	bool retryable() const;
	/*
	 * One line for logs: "NoSuchKey (HTTP 404): The resource ... [request
	 * 4442587FB7D0A2F9, resource /b/k]". Control characters from the server
	 * are escaped and long messages cut, so a hostile body cannot forge log lines.
	 */
	std::string toString() const;

	/*
	 * The error of a failed response: parses @body as an S3 <Error> document
	 * and falls back to the status alone when it is not one. The request id
	 * comes from the x-amz-request-id header when the body has none (HEAD).
	 */
	static S3Error fromResponse(const HttpResponse &response);
	static S3Error fromResponse(int httpStatus, std::string_view body,
				    std::string_view requestIdHeader = {});
	/* An S3Error for a status without a usable body: code "HTTP<status>". */
	static S3Error fromStatus(int httpStatus);
};

/*
 * The errno the rest of vfs sees for an S3 error (fs/ acts on it, fuse/ maps
 * it for the kernel). The one place this mapping lives; see errors.cpp for
 * the reasoning behind each choice.
 */
int toErrno(const S3Error &error);

/* A vfs::Error carrying toErrno(@error) and "@operation: " + @error.toString(). */
Error toError(const S3Error &error, std::string_view operation);

/*
 * @text (from the server: a message, a key) made safe for one log line:
 * control bytes and backslashes escaped as \xNN, cut after @maxBytes with "...".
 */
std::string logSafe(std::string_view text, std::size_t maxBytes = 256);

} /* namespace vfs::s3 */
