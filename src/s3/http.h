// An HTTP exchange as the S3 signer and the transport both see it.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace vfs::s3 {

struct HttpHeader {
	std::string name;
	std::string value;
};

/*
 * One request, exactly as it goes on the wire. path and query are already
 * percent-encoded (S3 keys are encoded once, see uriEncode in sigv4.h); the
 * query has no leading '?'. The body is borrowed from the caller and must
 * outlive the request: uploads are sent straight from pool memory.
 */
struct HttpRequest {
	std::string method = "GET";
	std::string scheme = "https";
	std::string host; /* the Host header: "bucket.s3.amazonaws.com", "127.0.0.1:7480" */
	std::string path = "/";
	std::string query;
	std::vector<HttpHeader> headers;
	std::span<const std::byte> body;

	std::string url() const { return scheme + "://" + host + path + (query.empty() ? "" : "?" + query); }
	/* The first header named @name, compared case-insensitively. */
	std::optional<std::string_view> header(std::string_view name) const;
	/* Replaces every header named @name (case-insensitively) by one with @value. */
	void setHeader(std::string_view name, std::string value);
};

struct HttpResponse {
	int status = 0;
	std::vector<HttpHeader> headers;
	/* The body, unless it was written to the caller's download buffer. */
	std::string body;
	/* Bytes written to the caller's download buffer. */
	std::size_t downloaded = 0;

	std::optional<std::string_view> header(std::string_view name) const;
};

} /* namespace vfs::s3 */
