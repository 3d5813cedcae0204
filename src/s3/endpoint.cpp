// Where a bucket's requests go.
#include "s3/endpoint.h"

#include <cerrno>

#include "s3/sigv4.h"

namespace vfs::s3 {

namespace {

bool isLowerAlnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool isValidRegion(std::string_view r)
{
	if (r.empty() || r.size() > 64)
		return false;
	for (char c : r)
		if (!isLowerAlnum(c) && c != '-')
			return false;
	return true;
}

} /* namespace */

bool isValidBucketName(std::string_view name)
{
	if (name.size() < 3 || name.size() > 63)
		return false;
	if (!isLowerAlnum(name.front()) || !isLowerAlnum(name.back()))
		return false;
	for (std::size_t i = 0; i < name.size(); ++i) {
		char c = name[i];
		if (!isLowerAlnum(c) && c != '.' && c != '-')
			return false;
		if (c == '.' && i + 1 < name.size() && name[i + 1] == '.')
			return false;
	}
	return true;
}

Result<Endpoint> Endpoint::resolve(const EndpointConfig &config)
{
	Endpoint e;
	if (!isValidBucketName(config.bucket))
		return Error(EINVAL, "'" + config.bucket + "' is not a valid S3 bucket name");
	if (!isValidRegion(config.region))
		return Error(EINVAL, "'" + config.region + "' is not a valid region name");
	e.bucket_ = config.bucket;
	e.region_ = config.region;
	e.pathStyle_ = config.pathStyle;

	if (config.endpoint.empty()) {
		e.scheme_ = "https";
		e.host_ = "s3." + config.region + ".amazonaws.com";
		/* A dotted bucket as a host name breaks the wildcard TLS certificate. */
		if (config.bucket.find('.') != std::string::npos)
			e.pathStyle_ = true;
	} else {
		auto sep = config.endpoint.find("://");
		if (sep == std::string::npos)
			return Error(EINVAL, "endpoint '" + config.endpoint + "' needs http:// or https://");
		e.scheme_ = config.endpoint.substr(0, sep);
		if (e.scheme_ != "http" && e.scheme_ != "https")
			return Error(EINVAL, "endpoint '" + config.endpoint + "': scheme must be http or https");
		std::string rest = config.endpoint.substr(sep + 3);
		while (!rest.empty() && rest.back() == '/')
			rest.pop_back();
		if (rest.empty() || rest.find_first_of("/?#@ ") != std::string::npos)
			return Error(EINVAL, "endpoint '" + config.endpoint + "' must be scheme://host[:port] only");
		/* Drop a default port so the signed Host header matches what curl sends. */
		if (e.scheme_ == "http" && rest.ends_with(":80"))
			rest.resize(rest.size() - 3);
		if (e.scheme_ == "https" && rest.ends_with(":443"))
			rest.resize(rest.size() - 4);
		e.host_ = rest;
	}
	if (!e.pathStyle_)
		e.host_ = e.bucket_ + "." + e.host_;
	return e;
}

HttpRequest Endpoint::request(std::string_view method, std::string_view key,
			      std::vector<std::pair<std::string, std::string>> query) const
{
	HttpRequest r;
	r.method = std::string(method);
	r.scheme = scheme_;
	r.host = host_;
	r.path = pathStyle_ ? "/" + uriEncode(bucket_, true) + "/" : "/";
	r.path += uriEncode(key, false);
	r.query = canonicalQuery(std::move(query));
	return r;
}

} /* namespace vfs::s3 */
