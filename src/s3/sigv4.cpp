// AWS Signature Version 4 over our SHA-256/HMAC helpers.
#include "common/text.h"
#include "s3/sigv4.h"

#include <algorithm>
#include <cerrno>
#include <ctime>

#include <openssl/crypto.h>

namespace vfs::s3 {

namespace {

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";
/* SigV4 caps presigned requests at seven days. */
constexpr std::chrono::seconds kMaxExpires{ 7 * 24 * 3600 };

/* The query parameters the query form owns; stale ones are dropped before presigning again. */
constexpr std::string_view kAuthParams[] = {
	"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires",
	"X-Amz-SignedHeaders", "X-Amz-Security-Token", "X-Amz-Signature",
};

/*
 * Headers left unsigned: the signature itself, and hop-by-hop or tracing
 * headers that the transport or a proxy may add, drop or rewrite.
 */
constexpr std::string_view kUnsignedHeaders[] = {
	"authorization", "connection", "expect", "proxy-authorization",
	"transfer-encoding", "user-agent", "x-amzn-trace-id",
};

bool isUnreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

std::string toLower(std::string_view s)
{
	std::string out(s);
	for (char &c : out)
		if (c >= 'A' && c <= 'Z')
			c = static_cast<char>(c - 'A' + 'a');
	return out;
}

bool isDigits(std::string_view s)
{
	return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

/* Trims spaces and tabs at both ends and collapses runs of spaces, as SigV4 says. */
std::string trimAll(std::string_view value)
{
	auto isOws = [](char c) { return c == ' ' || c == '\t'; };
	while (!value.empty() && isOws(value.front()))
		value.remove_prefix(1);
	while (!value.empty() && isOws(value.back()))
		value.remove_suffix(1);

	std::string out;
	out.reserve(value.size());
	for (char c : value) {
		if (c == ' ' && !out.empty() && out.back() == ' ')
			continue;
		out += c;
	}
	return out;
}

/* Drops empty and "." segments and resolves ".." (never above the root). */
std::string normalizePath(std::string_view path)
{
	std::vector<std::string_view> segments;
	bool trailingSlash = false;
	std::size_t pos = 0;
	while (pos <= path.size()) {
		std::size_t end = path.find('/', pos);
		if (end == std::string_view::npos)
			end = path.size();
		std::string_view segment = path.substr(pos, end - pos);
		pos = end + 1;

		/* A path ending in "/", "/." or "/.." names a directory. */
		trailingSlash = segment.empty() || segment == "." || segment == "..";
		if (segment.empty() || segment == ".")
			continue;
		if (segment == "..") {
			if (!segments.empty())
				segments.pop_back();
			continue;
		}
		segments.push_back(segment);
	}

	std::string out;
	for (std::string_view segment : segments) {
		out += '/';
		out += segment;
	}
	if (out.empty() || trailingSlash)
		out += '/';
	return out;
}

std::vector<std::pair<std::string, std::string>> parseQuery(std::string_view query)
{
	std::vector<std::pair<std::string, std::string>> params;
	std::size_t pos = 0;
	while (pos <= query.size()) {
		std::size_t end = query.find('&', pos);
		if (end == std::string_view::npos)
			end = query.size();
		std::string_view item = query.substr(pos, end - pos);
		pos = end + 1;
		if (item.empty())
			continue;
		std::size_t eq = item.find('=');
		if (eq == std::string_view::npos)
			params.emplace_back(uriDecode(item), std::string());
		else
			params.emplace_back(uriDecode(item.substr(0, eq)), uriDecode(item.substr(eq + 1)));
	}
	return params;
}

struct CanonicalHeaders {
	/* "name:value\n" per header, sorted by name. */
	std::string block;
	/* "host;x-amz-date" */
	std::string signedHeaders;
};

Result<CanonicalHeaders> canonicalHeaders(const HttpRequest &request)
{
	std::vector<std::pair<std::string, std::string>> headers;
	bool hasHost = false;
	for (const HttpHeader &h : request.headers) {
		std::string name = toLower(h.name);
		if (std::find(std::begin(kUnsignedHeaders), std::end(kUnsignedHeaders), name) !=
		    std::end(kUnsignedHeaders))
			continue;
		hasHost = hasHost || name == "host";
		headers.emplace_back(std::move(name), trimAll(h.value));
	}
	if (!hasHost) {
		if (request.host.empty())
			return Error(EINVAL, "request has no host to sign");
		headers.emplace_back("host", request.host);
	}

	/* Stable, so repeated headers keep their order when joined below. */
	std::stable_sort(headers.begin(), headers.end(),
			 [](const auto &a, const auto &b) { return a.first < b.first; });

	CanonicalHeaders out;
	for (std::size_t i = 0; i < headers.size(); ++i) {
		const std::string &name = headers[i].first;
		if (i > 0 && headers[i - 1].first == name) {
			out.block.back() = ',';
		} else {
			if (!out.signedHeaders.empty())
				out.signedHeaders += ';';
			out.signedHeaders += name;
			out.block += name;
			out.block += ':';
		}
		out.block += headers[i].second;
		out.block += '\n';
	}
	return out;
}

std::string canonicalUri(const HttpRequest &request, const SigningOptions &options)
{
	std::string path = request.path.empty() ? std::string("/") : request.path;
	if (options.normalizePath)
		path = normalizePath(path);
	if (options.doubleEncodePath)
		path = uriEncode(path, false);
	return path;
}

bool isValidAmzDate(std::string_view date)
{
	return date.size() == 16 && isDigits(date.substr(0, 8)) && date[8] == 'T' &&
	       isDigits(date.substr(9, 6)) && date[15] == 'Z';
}

/* What signing and presigning share: validated inputs, the date and the payload hash. */
struct Prepared {
	std::string amzDate;
	std::string scope;
	std::string payloadHash;
};

Result<Prepared> prepare(const HttpRequest &request, const Credentials &credentials,
			 const SigningOptions &options)
{
	if (credentials.anonymous())
		return Error(EINVAL, "anonymous credentials cannot sign");
	if (credentials.accessKeyId.empty() || credentials.secretAccessKey.empty())
		return Error(EINVAL, "credentials lack an access key id or a secret key");
	if (options.region.empty() || options.service.empty())
		return Error(EINVAL, "signing needs a region and a service");

	Prepared p;
	if (!options.amzDate.empty()) {
		if (!isValidAmzDate(options.amzDate))
			return Error(EINVAL, "malformed signing date '" + options.amzDate + "'");
		p.amzDate = options.amzDate;
	} else {
		p.amzDate = formatAmzDate(options.time);
	}
	p.scope = p.amzDate.substr(0, 8) + "/" + options.region + "/" + options.service +
		  "/aws4_request";

	switch (options.payload) {
	case PayloadHash::Compute: {
		Sha256Digest digest = sha256(request.body);
		p.payloadHash = toHex(digest);
		break;
	}
	case PayloadHash::Explicit:
		if (options.payloadHash.empty())
			return Error(EINVAL, "explicit payload hash is empty");
		p.payloadHash = options.payloadHash;
		break;
	case PayloadHash::Unsigned:
		p.payloadHash = kUnsignedPayload;
		break;
	}
	return p;
}

std::string buildCanonicalRequest(const HttpRequest &request, const SigningOptions &options,
				  std::string_view query, const CanonicalHeaders &headers,
				  std::string_view payloadHash)
{
	std::string creq;
	creq += request.method;
	creq += '\n';
	creq += canonicalUri(request, options);
	creq += '\n';
	creq += query;
	creq += '\n';
	creq += headers.block;
	creq += '\n';
	creq += headers.signedHeaders;
	creq += '\n';
	creq += payloadHash;
	return creq;
}

/* Fills the string to sign and the signature of @result from its canonical request. */
void sign(SigningResult &result, const Credentials &credentials, const SigningOptions &options)
{
	Sha256Digest creqHash = sha256(result.canonicalRequest);
	result.stringToSign = std::string(kAlgorithm) + "\n" + result.amzDate + "\n" + result.scope +
			      "\n" + toHex(creqHash);

	Sha256Digest key = deriveSigningKey(credentials.secretAccessKey, result.amzDate.substr(0, 8),
					    options.region, options.service);
	Sha256Digest signature = hmacSha256(key, result.stringToSign);
	OPENSSL_cleanse(key.data(), key.size());
	result.signature = toHex(signature);
}

} /* namespace */

std::string uriEncode(std::string_view s, bool encodeSlash)
{
	static const char digits[] = "0123456789ABCDEF";
	std::string out;
	out.reserve(s.size());
	for (char ch : s) {
		auto c = static_cast<unsigned char>(ch);
		if (isUnreserved(c) || (c == '/' && !encodeSlash)) {
			out += ch;
		} else {
			out += '%';
			out += digits[c >> 4];
			out += digits[c & 0xf];
		}
	}
	return out;
}

std::string uriDecode(std::string_view s)
{
	std::string out;
	out.reserve(s.size());
	for (std::size_t i = 0; i < s.size(); ++i) {
		if (s[i] == '%' && i + 2 < s.size()) {
			int hi = hexValue(s[i + 1]);
			int lo = hexValue(s[i + 2]);
			if (hi >= 0 && lo >= 0) {
				out += static_cast<char>(hi * 16 + lo);
				i += 2;
				continue;
			}
		}
		out += s[i];
	}
	return out;
}

std::string canonicalQuery(std::vector<std::pair<std::string, std::string>> params)
{
	for (auto &[name, value] : params) {
		name = uriEncode(name, true);
		value = uriEncode(value, true);
	}
	std::sort(params.begin(), params.end());

	std::string out;
	for (const auto &[name, value] : params) {
		if (!out.empty())
			out += '&';
		out += name;
		out += '=';
		out += value;
	}
	return out;
}

SigningOptions SigningOptions::s3(std::string region)
{
	SigningOptions options;
	options.region = std::move(region);
	return options;
}

SigningOptions SigningOptions::s3Presigned(std::string region, std::chrono::seconds expires)
{
	SigningOptions options = s3(std::move(region));
	options.payload = PayloadHash::Unsigned;
	options.expires = expires;
	return options;
}

SigningOptions SigningOptions::generic(std::string region, std::string service)
{
	SigningOptions options;
	options.region = std::move(region);
	options.service = std::move(service);
	options.normalizePath = true;
	options.doubleEncodePath = true;
	options.contentSha256Header = false;
	return options;
}

Result<SigningResult> signRequest(HttpRequest &request, const Credentials &credentials,
				  const SigningOptions &options)
{
	auto prepared = prepare(request, credentials, options);
	if (!prepared)
		return prepared.error();
	if (options.payload == PayloadHash::Unsigned && request.scheme != "https")
		return Error(EINVAL, "UNSIGNED-PAYLOAD is only allowed over HTTPS");

	/* Whatever an earlier signing added goes: a retry signs afresh. */
	std::erase_if(request.headers, [&](const HttpHeader &h) {
		std::string name = toLower(h.name);
		return name == "authorization" || name == "x-amz-date" ||
		       name == "x-amz-security-token" ||
		       (options.contentSha256Header && name == "x-amz-content-sha256");
	});
	request.setHeader("X-Amz-Date", prepared->amzDate);
	const bool hasToken = !credentials.sessionToken.empty();
	if (hasToken && options.signSessionToken)
		request.setHeader("X-Amz-Security-Token", credentials.sessionToken);
	if (options.contentSha256Header)
		request.setHeader("x-amz-content-sha256", prepared->payloadHash);

	auto headers = canonicalHeaders(request);
	if (!headers)
		return headers.error();

	SigningResult result;
	result.amzDate = std::move(prepared->amzDate);
	result.scope = std::move(prepared->scope);
	result.payloadHash = std::move(prepared->payloadHash);
	result.signedHeaders = headers->signedHeaders;
	result.canonicalRequest = buildCanonicalRequest(request, options,
							canonicalQuery(parseQuery(request.query)),
							*headers, result.payloadHash);
	sign(result, credentials, options);

	result.authorization = std::string(kAlgorithm) + " Credential=" + credentials.accessKeyId +
			       "/" + result.scope + ", SignedHeaders=" + result.signedHeaders +
			       ", Signature=" + result.signature;
	request.setHeader("Authorization", result.authorization);
	if (hasToken && !options.signSessionToken)
		request.setHeader("X-Amz-Security-Token", credentials.sessionToken);
	return result;
}

Result<SigningResult> presignRequest(HttpRequest &request, const Credentials &credentials,
				     const SigningOptions &options)
{
	auto prepared = prepare(request, credentials, options);
	if (!prepared)
		return prepared.error();
	if (options.expires < std::chrono::seconds(1) || options.expires > kMaxExpires)
		return Error(EINVAL, "presigned expiry must be between 1 second and 7 days");

	/* A header signature left from an earlier signing would contradict the query one. */
	std::erase_if(request.headers, [](const HttpHeader &h) {
		return toLower(h.name) == "authorization";
	});
	auto headers = canonicalHeaders(request);
	if (!headers)
		return headers.error();

	SigningResult result;
	result.amzDate = std::move(prepared->amzDate);
	result.scope = std::move(prepared->scope);
	result.payloadHash = std::move(prepared->payloadHash);
	result.signedHeaders = headers->signedHeaders;

	auto params = parseQuery(request.query);
	std::erase_if(params, [](const auto &p) {
		return std::find(std::begin(kAuthParams), std::end(kAuthParams), p.first) !=
		       std::end(kAuthParams);
	});
	params.emplace_back("X-Amz-Algorithm", kAlgorithm);
	params.emplace_back("X-Amz-Credential", credentials.accessKeyId + "/" + result.scope);
	params.emplace_back("X-Amz-Date", result.amzDate);
	params.emplace_back("X-Amz-Expires", std::to_string(options.expires.count()));
	params.emplace_back("X-Amz-SignedHeaders", result.signedHeaders);
	const bool hasToken = !credentials.sessionToken.empty();
	if (hasToken && options.signSessionToken)
		params.emplace_back("X-Amz-Security-Token", credentials.sessionToken);

	std::string query = canonicalQuery(std::move(params));
	result.canonicalRequest = buildCanonicalRequest(request, options, query, *headers,
							result.payloadHash);
	sign(result, credentials, options);

	query += "&X-Amz-Signature=" + result.signature;
	if (hasToken && !options.signSessionToken)
		query += "&X-Amz-Security-Token=" + uriEncode(credentials.sessionToken, true);
	request.query = std::move(query);
	return result;
}

Sha256Digest deriveSigningKey(std::string_view secretAccessKey, std::string_view date,
			      std::string_view region, std::string_view service)
{
	std::string secret = "AWS4";
	secret += secretAccessKey;
	auto bytes = [](std::string_view s) {
		return std::span(reinterpret_cast<const unsigned char *>(s.data()), s.size());
	};

	Sha256Digest kDate = hmacSha256(bytes(secret), date);
	Sha256Digest kRegion = hmacSha256(kDate, region);
	Sha256Digest kService = hmacSha256(kRegion, service);
	Sha256Digest kSigning = hmacSha256(kService, "aws4_request");

	/* The intermediate keys open the same doors: do not leave them in freed memory. */
	OPENSSL_cleanse(secret.data(), secret.size());
	OPENSSL_cleanse(kDate.data(), kDate.size());
	OPENSSL_cleanse(kRegion.data(), kRegion.size());
	OPENSSL_cleanse(kService.data(), kService.size());
	return kSigning;
}

std::string formatAmzDate(std::chrono::system_clock::time_point time)
{
	std::time_t t = std::chrono::system_clock::to_time_t(time);
	std::tm tm{};
	gmtime_r(&t, &tm);
	char buf[32];
	std::size_t n = std::strftime(buf, sizeof(buf), "%Y%m%dT%H%M%SZ", &tm);
	return std::string(buf, n);
}

} /* namespace vfs::s3 */
