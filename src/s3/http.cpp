// Header lookups on HTTP requests and responses.
#include "s3/http.h"

#include <algorithm>
#include <strings.h>

namespace vfs::s3 {

namespace {

bool sameName(std::string_view a, std::string_view b)
{
	return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

std::optional<std::string_view> find(const std::vector<HttpHeader> &headers, std::string_view name)
{
	for (const HttpHeader &h : headers)
		if (sameName(h.name, name))
			return std::string_view(h.value);
	return std::nullopt;
}

} /* namespace */

std::optional<std::string_view> HttpRequest::header(std::string_view name) const
{
	return find(headers, name);
}

void HttpRequest::setHeader(std::string_view name, std::string value)
{
	std::erase_if(headers, [&](const HttpHeader &h) { return sameName(h.name, name); });
	headers.push_back({ std::string(name), std::move(value) });
}

std::optional<std::string_view> HttpResponse::header(std::string_view name) const
{
	return find(headers, name);
}

} /* namespace vfs::s3 */
