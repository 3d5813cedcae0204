// Where a bucket's requests go: AWS regional or custom endpoints, virtual-hosted or path style.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"
#include "s3/http.h"

namespace vfs::s3 {

struct EndpointConfig {
	std::string bucket;
	/* "us-east-1" etc.; the signing region as well. */
	std::string region = "us-east-1";
	/* Empty: AWS (https://s3.<region>.amazonaws.com). Else "http[s]://host[:port]". */
	std::string endpoint;
	/* Bucket in the path (/bucket/key) rather than in the host name (bucket.host/key). */
	bool pathStyle = false;
};

/*
 * The resolved endpoint of one bucket. Keys are encoded exactly once, as S3
 * expects ('/' kept), and query strings are canonical, so a request can be
 * signed as it is.
 */
class Endpoint
{
public:
	static Result<Endpoint> resolve(const EndpointConfig &config);

	const std::string &scheme() const { return scheme_; }
	/* The Host header, with a port when it is not the scheme's default. */
	const std::string &host() const { return host_; }
	const std::string &region() const { return region_; }
	const std::string &bucket() const { return bucket_; }
	bool pathStyle() const { return pathStyle_; }

	/* A request for @key ("" for the bucket itself) with the given query parameters. */
	HttpRequest request(std::string_view method, std::string_view key,
			    std::vector<std::pair<std::string, std::string>> query = {}) const;

private:
	std::string scheme_;
	std::string host_;
	std::string region_;
	std::string bucket_;
	bool pathStyle_ = false;
};

/* True if @name is a valid S3 bucket name (3-63 of a-z 0-9 . -, starting and ending alphanumeric). */
bool isValidBucketName(std::string_view name);

} /* namespace vfs::s3 */
