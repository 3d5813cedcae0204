// SigV4: every case of the AWS signing test suite, the S3 documentation examples, S3 key encoding.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <optional>
#include <sstream>

#include "s3/sigv4.h"

namespace {

using namespace vfs::s3;
namespace fs = std::filesystem;

/* ------------------------------------------------------------------ */
/* Reading the AWS suite (tests/data/sigv4, one directory per case).   */
/* ------------------------------------------------------------------ */

std::string readFile(const fs::path &path)
{
	std::ifstream in(path, std::ios::binary);
	std::ostringstream ss;
	ss << in.rdbuf();
	return ss.str();
}

/* The expected files have no final newline; tolerate one added by an editor. */
std::string readExpected(const fs::path &path)
{
	std::string s = readFile(path);
	while (!s.empty() && (s.back() == '\n' || s.back() == '\r'))
		s.pop_back();
	return s;
}

std::string lower(std::string s)
{
	std::transform(s.begin(), s.end(), s.begin(),
		       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
	return s;
}

std::string_view trimOws(std::string_view s)
{
	while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
		s.remove_prefix(1);
	while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
		s.remove_suffix(1);
	return s;
}

/* The value of "key" in the flat context.json: a string, number or boolean, unquoted. */
std::optional<std::string> jsonField(const std::string &json, std::string_view key)
{
	std::size_t pos = json.find("\"" + std::string(key) + "\"");
	if (pos == std::string::npos)
		return std::nullopt;
	pos = json.find(':', pos + key.size() + 2);
	if (pos == std::string::npos)
		return std::nullopt;
	pos = json.find_first_not_of(" \t\r\n", pos + 1);
	if (pos == std::string::npos)
		return std::nullopt;

	std::string value;
	if (json[pos] == '"') {
		for (++pos; pos < json.size() && json[pos] != '"'; ++pos) {
			if (json[pos] == '\\' && pos + 1 < json.size())
				++pos;
			value += json[pos];
		}
		return value;
	}
	std::size_t end = json.find_first_of(",} \t\r\n", pos);
	return json.substr(pos, end - pos);
}

struct SuiteContext {
	Credentials credentials;
	std::string region;
	std::string service;
	bool normalize = true;
	bool signBody = false;
	bool omitSessionToken = false;
	long expires = 0;
	std::chrono::system_clock::time_point time;
};

std::chrono::system_clock::time_point parseTimestamp(const std::string &s)
{
	std::tm tm{};
	std::istringstream in(s);
	in >> std::get_time(&tm, "%Y-%m-%dT%H:%M:%SZ");
	EXPECT_FALSE(in.fail()) << "bad timestamp " << s;
	return std::chrono::system_clock::from_time_t(timegm(&tm));
}

SuiteContext loadContext(const fs::path &dir)
{
	std::string json = readFile(dir / "context.json");
	SuiteContext ctx;
	ctx.credentials.accessKeyId = jsonField(json, "access_key_id").value_or("");
	ctx.credentials.secretAccessKey = jsonField(json, "secret_access_key").value_or("");
	ctx.credentials.sessionToken = jsonField(json, "token").value_or("");
	ctx.region = jsonField(json, "region").value_or("");
	ctx.service = jsonField(json, "service").value_or("");
	ctx.normalize = jsonField(json, "normalize").value_or("true") == "true";
	ctx.signBody = jsonField(json, "sign_body").value_or("false") == "true";
	ctx.omitSessionToken = jsonField(json, "omit_session_token").value_or("false") == "true";
	ctx.expires = std::stol(jsonField(json, "expiration_in_seconds").value_or("0"));
	ctx.time = parseTimestamp(jsonField(json, "timestamp").value_or(""));
	return ctx;
}

struct RawRequest {
	std::string method;
	std::string host;
	/* The request target as written: path unencoded, query possibly not. */
	std::string path;
	std::string query;
	std::vector<HttpHeader> headers;
	std::string body;
};

/*
 * Parses the suite's raw HTTP: the request line's target may hold spaces and
 * raw UTF-8, header lines starting with whitespace continue the previous one
 * (obsolete folding, unfolded to one space), a blank line starts the body.
 */
RawRequest parseRaw(const std::string &text)
{
	RawRequest raw;
	std::size_t headEnd = text.find("\n\n");
	std::string head = text.substr(0, headEnd);
	if (headEnd != std::string::npos)
		raw.body = text.substr(headEnd + 2);

	std::vector<std::string> lines;
	std::istringstream in(head);
	for (std::string line; std::getline(in, line);) {
		if (!line.empty() && line.back() == '\r')
			line.pop_back();
		lines.push_back(line);
	}
	if (lines.empty())
		return raw;

	const std::string &requestLine = lines[0];
	std::size_t firstSpace = requestLine.find(' ');
	std::size_t lastSpace = requestLine.rfind(' ');
	raw.method = requestLine.substr(0, firstSpace);
	std::string target = requestLine.substr(firstSpace + 1, lastSpace - firstSpace - 1);
	std::size_t q = target.find('?');
	raw.path = target.substr(0, q);
	if (q != std::string::npos)
		raw.query = target.substr(q + 1);

	for (std::size_t i = 1; i < lines.size(); ++i) {
		const std::string &line = lines[i];
		if (!line.empty() && (line[0] == ' ' || line[0] == '\t')) {
			if (!raw.headers.empty())
				raw.headers.back().value += " " + std::string(trimOws(line));
			continue;
		}
		std::size_t colon = line.find(':');
		std::string name = line.substr(0, colon);
		std::string value(trimOws(std::string_view(line).substr(colon + 1)));
		if (lower(name) == "host")
			raw.host = value;
		else
			raw.headers.push_back({ name, value });
	}
	return raw;
}

/* Decoded (name, value) pairs of a query, sorted, to compare queries whatever their order. */
std::vector<std::pair<std::string, std::string>> queryPairs(std::string_view query)
{
	std::vector<std::pair<std::string, std::string>> pairs;
	std::size_t pos = 0;
	while (pos < query.size()) {
		std::size_t end = std::min(query.find('&', pos), query.size());
		std::string_view item = query.substr(pos, end - pos);
		std::size_t eq = item.find('=');
		if (eq == std::string_view::npos)
			pairs.emplace_back(uriDecode(item), "");
		else
			pairs.emplace_back(uriDecode(item.substr(0, eq)), uriDecode(item.substr(eq + 1)));
		pos = end + 1;
	}
	std::sort(pairs.begin(), pairs.end());
	return pairs;
}

std::vector<std::pair<std::string, std::string>> headerPairs(const std::vector<HttpHeader> &headers)
{
	std::vector<std::pair<std::string, std::string>> pairs;
	for (const HttpHeader &h : headers)
		pairs.emplace_back(lower(h.name), h.value);
	std::sort(pairs.begin(), pairs.end());
	return pairs;
}

/*
 * The HttpRequest the transport would be handed for @raw. The path stays as
 * the suite writes it (the generic signer encodes it for the canonical URI,
 * as other AWS services double-encode); the query is percent-encoded in place,
 * in its original order, as HttpRequest::query requires.
 */
HttpRequest toHttpRequest(const RawRequest &raw)
{
	HttpRequest request;
	request.method = raw.method;
	request.host = raw.host;
	request.path = raw.path;
	std::string query;
	std::size_t pos = 0;
	while (pos < raw.query.size()) {
		std::size_t end = std::min(raw.query.find('&', pos), raw.query.size());
		std::string_view item = std::string_view(raw.query).substr(pos, end - pos);
		std::size_t eq = item.find('=');
		if (!query.empty())
			query += '&';
		query += uriEncode(uriDecode(item.substr(0, eq)), true);
		if (eq != std::string_view::npos)
			query += "=" + uriEncode(uriDecode(item.substr(eq + 1)), true);
		pos = end + 1;
	}
	request.query = query;
	request.headers = raw.headers;
	request.body = std::as_bytes(std::span(raw.body.data(), raw.body.size()));
	return request;
}

SigningOptions suiteOptions(const SuiteContext &ctx)
{
	SigningOptions options = SigningOptions::generic(ctx.region, ctx.service);
	options.normalizePath = ctx.normalize;
	options.contentSha256Header = ctx.signBody;
	options.signSessionToken = !ctx.omitSessionToken;
	options.time = ctx.time;
	options.expires = std::chrono::seconds(ctx.expires);
	return options;
}

fs::path suiteDir()
{
	const char *dir = std::getenv("SIGV4_DATA");
	return dir ? fs::path(dir) : fs::path();
}

std::vector<std::string> suiteCases()
{
	std::vector<std::string> cases;
	std::error_code ec;
	fs::path dir = suiteDir();
	if (dir.empty() || !fs::is_directory(dir, ec))
		return cases;
	for (const auto &entry : fs::directory_iterator(dir, ec))
		if (entry.is_directory() && fs::exists(entry.path() / "request.txt"))
			cases.push_back(entry.path().filename().string());
	std::sort(cases.begin(), cases.end());
	return cases;
}

TEST(Sigv4SuiteData, EveryCaseIsThere)
{
	ASSERT_FALSE(suiteDir().empty()) << "SIGV4_DATA is not set";
	auto cases = suiteCases();
	ASSERT_FALSE(cases.empty()) << "no SigV4 test cases under " << suiteDir();
	EXPECT_TRUE(fs::exists(suiteDir() / "LICENSE"));
	EXPECT_TRUE(fs::exists(suiteDir() / "NOTICE"));
	for (const std::string &name : cases) {
		for (const char *file : { "context.json", "header-canonical-request.txt",
					  "header-string-to-sign.txt", "header-signature.txt",
					  "header-signed-request.txt", "query-canonical-request.txt",
					  "query-string-to-sign.txt", "query-signature.txt",
					  "query-signed-request.txt" })
			EXPECT_TRUE(fs::exists(suiteDir() / name / file)) << name << "/" << file;
	}
}

class Sigv4Suite : public testing::TestWithParam<std::string>
{
protected:
	fs::path dir() const { return suiteDir() / GetParam(); }
};

TEST_P(Sigv4Suite, HeaderForm)
{
	SuiteContext ctx = loadContext(dir());
	RawRequest raw = parseRaw(readFile(dir() / "request.txt"));
	HttpRequest request = toHttpRequest(raw);

	auto result = signRequest(request, ctx.credentials, suiteOptions(ctx));
	ASSERT_TRUE(result.ok()) << result.error().toString();

	EXPECT_EQ(result->canonicalRequest, readExpected(dir() / "header-canonical-request.txt"));
	EXPECT_EQ(result->stringToSign, readExpected(dir() / "header-string-to-sign.txt"));
	EXPECT_EQ(result->signature, readExpected(dir() / "header-signature.txt"));

	/* The signed request must carry exactly the headers the suite's does. */
	RawRequest expected = parseRaw(readFile(dir() / "header-signed-request.txt"));
	auto authorization = std::find_if(expected.headers.begin(), expected.headers.end(),
					  [](const HttpHeader &h) { return lower(h.name) == "authorization"; });
	ASSERT_NE(authorization, expected.headers.end());
	EXPECT_EQ(request.header("Authorization").value_or(""), authorization->value);
	EXPECT_EQ(result->authorization, authorization->value);
	EXPECT_EQ(headerPairs(request.headers), headerPairs(expected.headers));
	EXPECT_EQ(request.host, expected.host);
}

TEST_P(Sigv4Suite, QueryForm)
{
	SuiteContext ctx = loadContext(dir());
	RawRequest raw = parseRaw(readFile(dir() / "request.txt"));
	HttpRequest request = toHttpRequest(raw);

	auto result = presignRequest(request, ctx.credentials, suiteOptions(ctx));
	ASSERT_TRUE(result.ok()) << result.error().toString();

	EXPECT_EQ(result->canonicalRequest, readExpected(dir() / "query-canonical-request.txt"));
	EXPECT_EQ(result->stringToSign, readExpected(dir() / "query-string-to-sign.txt"));
	EXPECT_EQ(result->signature, readExpected(dir() / "query-signature.txt"));

	/* Same parameters as the suite's presigned request (order on the wire is free). */
	RawRequest expected = parseRaw(readFile(dir() / "query-signed-request.txt"));
	EXPECT_EQ(queryPairs(request.query), queryPairs(expected.query));
	EXPECT_EQ(headerPairs(request.headers), headerPairs(expected.headers));
	EXPECT_FALSE(request.header("Authorization"));
}

INSTANTIATE_TEST_SUITE_P(Aws, Sigv4Suite, testing::ValuesIn(suiteCases()),
			 [](const testing::TestParamInfo<std::string> &param) {
				 std::string name = param.param;
				 std::replace(name.begin(), name.end(), '-', '_');
				 return name;
			 });

/* An empty suite is reported by Sigv4SuiteData.EveryCaseIsThere, not as an uninstantiated suite. */
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(Sigv4Suite);

/* ------------------------------------------------------------------ */
/* The S3 examples of AWS's "Signature Calculations for the           */
/* Authorization Header: Transferring Payload in a Single Chunk" and    */
/* "Authenticating Requests: Using Query Parameters" pages.            */
/* ------------------------------------------------------------------ */

const Credentials kExampleCredentials{ "AKIAIOSFODNN7EXAMPLE",
				       "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "" };

SigningOptions exampleOptions()
{
	SigningOptions options = SigningOptions::s3("us-east-1");
	options.amzDate = "20130524T000000Z";
	return options;
}

HttpRequest exampleRequest(std::string method, std::string path, std::string query = "")
{
	HttpRequest request;
	request.method = std::move(method);
	request.host = "examplebucket.s3.amazonaws.com";
	request.path = std::move(path);
	request.query = std::move(query);
	return request;
}

std::string stringToSign(std::string_view canonicalRequestHash)
{
	return "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n" +
	       std::string(canonicalRequestHash);
}

std::string exampleAuthorization(std::string_view signedHeaders, std::string_view signature)
{
	return "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
	       "SignedHeaders=" + std::string(signedHeaders) + ", Signature=" + std::string(signature);
}

TEST(Sigv4S3Examples, GetObjectWithRange)
{
	HttpRequest request = exampleRequest("GET", "/test.txt");
	request.headers.push_back({ "Range", "bytes=0-9" });

	auto result = signRequest(request, kExampleCredentials, exampleOptions());
	ASSERT_TRUE(result.ok());
	EXPECT_EQ(result->canonicalRequest,
		  "GET\n/test.txt\n\n"
		  "host:examplebucket.s3.amazonaws.com\n"
		  "range:bytes=0-9\n"
		  "x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
		  "x-amz-date:20130524T000000Z\n\n"
		  "host;range;x-amz-content-sha256;x-amz-date\n"
		  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	EXPECT_EQ(result->stringToSign,
		  stringToSign("7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972"));
	EXPECT_EQ(result->signature, "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
	EXPECT_EQ(request.header("Authorization").value_or(""),
		  exampleAuthorization("host;range;x-amz-content-sha256;x-amz-date",
				       "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"));
	EXPECT_EQ(request.header("x-amz-date").value_or(""), "20130524T000000Z");
	EXPECT_EQ(request.header("x-amz-content-sha256").value_or(""), kEmptyPayloadHash);
}

TEST(Sigv4S3Examples, PutObject)
{
	const std::string body = "Welcome to Amazon S3.";
	HttpRequest request = exampleRequest("PUT", "/" + uriEncode("test$file.text", false));
	request.headers.push_back({ "Date", "Fri, 24 May 2013 00:00:00 GMT" });
	request.headers.push_back({ "x-amz-storage-class", "REDUCED_REDUNDANCY" });
	request.body = std::as_bytes(std::span(body.data(), body.size()));

	auto result = signRequest(request, kExampleCredentials, exampleOptions());
	ASSERT_TRUE(result.ok());
	EXPECT_EQ(result->canonicalRequest,
		  "PUT\n/test%24file.text\n\n"
		  "date:Fri, 24 May 2013 00:00:00 GMT\n"
		  "host:examplebucket.s3.amazonaws.com\n"
		  "x-amz-content-sha256:44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072\n"
		  "x-amz-date:20130524T000000Z\n"
		  "x-amz-storage-class:REDUCED_REDUNDANCY\n\n"
		  "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class\n"
		  "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
	EXPECT_EQ(result->stringToSign,
		  stringToSign("9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d"));
	EXPECT_EQ(result->signature, "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
	EXPECT_EQ(request.header("x-amz-content-sha256").value_or(""),
		  "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
}

TEST(Sigv4S3Examples, GetBucketLifecycle)
{
	HttpRequest request = exampleRequest("GET", "/", canonicalQuery({ { "lifecycle", "" } }));
	EXPECT_EQ(request.query, "lifecycle=");

	auto result = signRequest(request, kExampleCredentials, exampleOptions());
	ASSERT_TRUE(result.ok());
	EXPECT_EQ(result->canonicalRequest,
		  "GET\n/\nlifecycle=\n"
		  "host:examplebucket.s3.amazonaws.com\n"
		  "x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
		  "x-amz-date:20130524T000000Z\n\n"
		  "host;x-amz-content-sha256;x-amz-date\n"
		  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	EXPECT_EQ(result->stringToSign,
		  stringToSign("9766c798316ff2757b517bc739a67f6213b4ab36dd5da2f94eaebf79c77395ca"));
	EXPECT_EQ(result->signature, "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
}

TEST(Sigv4S3Examples, ListObjects)
{
	HttpRequest request = exampleRequest("GET", "/", canonicalQuery({ { "prefix", "J" }, { "max-keys", "2" } }));
	EXPECT_EQ(request.query, "max-keys=2&prefix=J");

	auto result = signRequest(request, kExampleCredentials, exampleOptions());
	ASSERT_TRUE(result.ok());
	EXPECT_EQ(result->canonicalRequest,
		  "GET\n/\nmax-keys=2&prefix=J\n"
		  "host:examplebucket.s3.amazonaws.com\n"
		  "x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
		  "x-amz-date:20130524T000000Z\n\n"
		  "host;x-amz-content-sha256;x-amz-date\n"
		  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	EXPECT_EQ(result->stringToSign,
		  stringToSign("df57d21db20da04d7fa30298dd4488ba3a2b47ca3a489c74750e0f1e7df1b9b7"));
	EXPECT_EQ(result->signature, "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");

	/* The query as sent may be in any order and encoding: the signer canonicalizes it. */
	HttpRequest unsorted = exampleRequest("GET", "/", "prefix=%4A&max-keys=2");
	auto again = signRequest(unsorted, kExampleCredentials, exampleOptions());
	ASSERT_TRUE(again.ok());
	EXPECT_EQ(again->signature, result->signature);
}

TEST(Sigv4S3Examples, PresignedGetObject)
{
	HttpRequest request = exampleRequest("GET", "/test.txt");
	SigningOptions options = SigningOptions::s3Presigned("us-east-1", std::chrono::hours(24));
	options.amzDate = "20130524T000000Z";

	auto result = presignRequest(request, kExampleCredentials, options);
	ASSERT_TRUE(result.ok());
	EXPECT_EQ(result->canonicalRequest,
		  "GET\n/test.txt\n"
		  "X-Amz-Algorithm=AWS4-HMAC-SHA256"
		  "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
		  "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host\n"
		  "host:examplebucket.s3.amazonaws.com\n\n"
		  "host\n"
		  "UNSIGNED-PAYLOAD");
	EXPECT_EQ(result->stringToSign,
		  stringToSign("3bfa292879f6447bbcda7001decf97f4a54dc650c8942174ae0a9121cf58ad04"));
	EXPECT_EQ(result->signature, "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
	EXPECT_EQ(request.url(),
		  "https://examplebucket.s3.amazonaws.com/test.txt"
		  "?X-Amz-Algorithm=AWS4-HMAC-SHA256"
		  "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
		  "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
		  "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
	EXPECT_TRUE(request.headers.empty());
}

/* ------------------------------------------------------------------ */
/* S3 specifics.                                                       */
/* ------------------------------------------------------------------ */

/* The last line of a canonical request: the payload hash. */
std::string payloadLine(const std::string &canonicalRequest)
{
	return canonicalRequest.substr(canonicalRequest.rfind('\n') + 1);
}

/* The second line of a canonical request: the canonical URI. */
std::string uriLine(const std::string &canonicalRequest)
{
	std::size_t start = canonicalRequest.find('\n') + 1;
	return canonicalRequest.substr(start, canonicalRequest.find('\n', start) - start);
}

TEST(Sigv4S3, ContentSha256IsTheRealPayloadHashByDefault)
{
	const std::string body = "hello";
	HttpRequest request = exampleRequest("PUT", "/k");
	request.body = std::as_bytes(std::span(body.data(), body.size()));

	auto result = signRequest(request, kExampleCredentials, exampleOptions());
	ASSERT_TRUE(result.ok());
	const std::string hash = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
	EXPECT_EQ(result->payloadHash, hash);
	EXPECT_EQ(payloadLine(result->canonicalRequest), hash);
	EXPECT_EQ(request.header("x-amz-content-sha256").value_or(""), hash);
	EXPECT_NE(result->signedHeaders.find("x-amz-content-sha256"), std::string::npos);

	/* A body changed after signing no longer matches the signature. */
	const std::string other = "jello";
	HttpRequest changed = exampleRequest("PUT", "/k");
	changed.body = std::as_bytes(std::span(other.data(), other.size()));
	auto changedResult = signRequest(changed, kExampleCredentials, exampleOptions());
	ASSERT_TRUE(changedResult.ok());
	EXPECT_NE(changedResult->signature, result->signature);
}

TEST(Sigv4S3, UnsignedPayloadOnlyWhenAskedAndOverHttps)
{
	const std::string body = "hello";
	HttpRequest request = exampleRequest("PUT", "/k");
	request.body = std::as_bytes(std::span(body.data(), body.size()));
	SigningOptions options = exampleOptions();
	options.payload = PayloadHash::Unsigned;

	auto result = signRequest(request, kExampleCredentials, options);
	ASSERT_TRUE(result.ok());
	EXPECT_EQ(payloadLine(result->canonicalRequest), "UNSIGNED-PAYLOAD");
	EXPECT_EQ(request.header("x-amz-content-sha256").value_or(""), "UNSIGNED-PAYLOAD");

	HttpRequest plain = exampleRequest("PUT", "/k");
	plain.scheme = "http";
	auto refused = signRequest(plain, kExampleCredentials, options);
	ASSERT_FALSE(refused.ok());
	EXPECT_EQ(refused.error().code(), EINVAL);
	EXPECT_FALSE(plain.header("Authorization"));
}

TEST(Sigv4S3, ExplicitPayloadHashIsUsedVerbatim)
{
	HttpRequest request = exampleRequest("PUT", "/k");
	SigningOptions options = exampleOptions();
	options.payload = PayloadHash::Explicit;
	options.payloadHash = "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072";

	auto result = signRequest(request, kExampleCredentials, options);
	ASSERT_TRUE(result.ok());
	EXPECT_EQ(payloadLine(result->canonicalRequest), options.payloadHash);
	EXPECT_EQ(request.header("x-amz-content-sha256").value_or(""), options.payloadHash);

	options.payloadHash.clear();
	auto refused = signRequest(request, kExampleCredentials, options);
	EXPECT_FALSE(refused.ok());
}

TEST(Sigv4S3, SessionTokenIsSentAndSigned)
{
	Credentials credentials = kExampleCredentials;
	credentials.sessionToken = "FwoGZXIvYXdzEBYaD+token/with=odd+chars";

	HttpRequest request = exampleRequest("GET", "/test.txt");
	auto result = signRequest(request, credentials, exampleOptions());
	ASSERT_TRUE(result.ok());
	EXPECT_EQ(request.header("x-amz-security-token").value_or(""), credentials.sessionToken);
	EXPECT_EQ(result->signedHeaders, "host;x-amz-content-sha256;x-amz-date;x-amz-security-token");
	EXPECT_NE(result->canonicalRequest.find("\nx-amz-security-token:" + credentials.sessionToken + "\n"),
		  std::string::npos);

	HttpRequest withoutToken = exampleRequest("GET", "/test.txt");
	auto plain = signRequest(withoutToken, kExampleCredentials, exampleOptions());
	ASSERT_TRUE(plain.ok());
	EXPECT_NE(plain->signature, result->signature);
	EXPECT_FALSE(withoutToken.header("x-amz-security-token"));

	/* Presigned: the token is a signed query parameter. */
	HttpRequest presigned = exampleRequest("GET", "/test.txt");
	SigningOptions options = SigningOptions::s3Presigned("us-east-1", std::chrono::seconds(60));
	options.amzDate = "20130524T000000Z";
	auto query = presignRequest(presigned, credentials, options);
	ASSERT_TRUE(query.ok());
	const std::string param = "X-Amz-Security-Token=" + uriEncode(credentials.sessionToken, true);
	EXPECT_NE(presigned.query.find(param), std::string::npos);
	EXPECT_NE(query->canonicalRequest.find(param), std::string::npos);
}

TEST(Sigv4S3, SigningAgainReplacesTheOldSignature)
{
	HttpRequest request = exampleRequest("GET", "/test.txt");
	request.headers.push_back({ "Range", "bytes=0-9" });
	auto first = signRequest(request, kExampleCredentials, exampleOptions());
	ASSERT_TRUE(first.ok());
	auto second = signRequest(request, kExampleCredentials, exampleOptions());
	ASSERT_TRUE(second.ok());

	EXPECT_EQ(second->signature, first->signature);
	for (const char *name : { "authorization", "x-amz-date", "x-amz-content-sha256" })
		EXPECT_EQ(std::count_if(request.headers.begin(), request.headers.end(),
					[&](const HttpHeader &h) { return lower(h.name) == name; }),
			  1)
			<< name;

	/* A later time gives a new date and signature, not a second date header. */
	SigningOptions later = exampleOptions();
	later.amzDate = "20130525T000000Z";
	auto third = signRequest(request, kExampleCredentials, later);
	ASSERT_TRUE(third.ok());
	EXPECT_EQ(request.header("x-amz-date").value_or(""), "20130525T000000Z");
	EXPECT_NE(third->signature, first->signature);
}

TEST(Sigv4S3, OddKeysAreSignedExactlyAsSent)
{
	/* S3 neither normalizes nor double-encodes: the path as sent is the canonical URI. */
	const std::string key = "dir/a b+c%d?e#f~g/./../é日本";
	const std::string path = "/" + uriEncode(key, false);
	EXPECT_EQ(path, "/dir/a%20b%2Bc%25d%3Fe%23f~g/./../%C3%A9%E6%97%A5%E6%9C%AC");

	HttpRequest request = exampleRequest("GET", path);
	auto result = signRequest(request, kExampleCredentials, exampleOptions());
	ASSERT_TRUE(result.ok());
	EXPECT_EQ(uriLine(result->canonicalRequest), path);
	EXPECT_EQ(request.path, path);

	/* Other AWS services would normalize and encode again, which S3 would reject. */
	SigningOptions generic = SigningOptions::generic("us-east-1", "service");
	generic.amzDate = "20130524T000000Z";
	HttpRequest other = exampleRequest("GET", path);
	auto genericResult = signRequest(other, kExampleCredentials, generic);
	ASSERT_TRUE(genericResult.ok());
	EXPECT_EQ(uriLine(genericResult->canonicalRequest),
		  "/dir/%25C3%25A9%25E6%2597%25A5%25E6%259C%25AC");
}

TEST(Sigv4S3, PresignedUrlCarriesEveryAuthParameter)
{
	Credentials credentials = kExampleCredentials;
	credentials.sessionToken = "token";
	HttpRequest request = exampleRequest("PUT", "/" + uriEncode("a b", false),
					     canonicalQuery({ { "partNumber", "1" }, { "uploadId", "x/y" } }));
	SigningOptions options = SigningOptions::s3Presigned("eu-west-1", std::chrono::seconds(900));
	options.amzDate = "20240102T030405Z";

	auto result = presignRequest(request, credentials, options);
	ASSERT_TRUE(result.ok());
	auto pairs = queryPairs(request.query);
	std::vector<std::pair<std::string, std::string>> expected = {
		{ "X-Amz-Algorithm", "AWS4-HMAC-SHA256" },
		{ "X-Amz-Credential", "AKIAIOSFODNN7EXAMPLE/20240102/eu-west-1/s3/aws4_request" },
		{ "X-Amz-Date", "20240102T030405Z" },
		{ "X-Amz-Expires", "900" },
		{ "X-Amz-Security-Token", "token" },
		{ "X-Amz-Signature", result->signature },
		{ "X-Amz-SignedHeaders", "host" },
		{ "partNumber", "1" },
		{ "uploadId", "x/y" },
	};
	std::sort(expected.begin(), expected.end());
	EXPECT_EQ(pairs, expected);
	EXPECT_EQ(payloadLine(result->canonicalRequest), "UNSIGNED-PAYLOAD");
	EXPECT_EQ(result->signature.size(), 64u);

	/* Presigning again replaces the old parameters rather than adding a second set. */
	auto again = presignRequest(request, credentials, options);
	ASSERT_TRUE(again.ok());
	EXPECT_EQ(again->signature, result->signature);
	EXPECT_EQ(queryPairs(request.query), expected);
}

/* ------------------------------------------------------------------ */
/* Encoding and canonical forms.                                       */
/* ------------------------------------------------------------------ */

TEST(Sigv4Encoding, UriEncodeKeepsOnlyUnreservedCharacters)
{
	EXPECT_EQ(uriEncode("my file.txt", false), "my%20file.txt");
	EXPECT_EQ(uriEncode("a+b", false), "a%2Bb");
	EXPECT_EQ(uriEncode("100%", false), "100%25");
	EXPECT_EQ(uriEncode("what?", false), "what%3F");
	EXPECT_EQ(uriEncode("#hash", false), "%23hash");
	EXPECT_EQ(uriEncode("~tilde", false), "~tilde");
	EXPECT_EQ(uriEncode("café", false), "caf%C3%A9");
	EXPECT_EQ(uriEncode("日本", false), "%E6%97%A5%E6%9C%AC");
	EXPECT_EQ(uriEncode("dir/sub/file", false), "dir/sub/file");
	EXPECT_EQ(uriEncode("dir/sub/file", true), "dir%2Fsub%2Ffile");
	EXPECT_EQ(uriEncode("a&b=c;d:e,f@g$h", true), "a%26b%3Dc%3Bd%3Ae%2Cf%40g%24h");
	EXPECT_EQ(uriEncode("!'()*", true), "%21%27%28%29%2A");
	EXPECT_EQ(uriEncode(std::string("\x00\x01\x7f\xff", 4), true), "%00%01%7F%FF");
	EXPECT_EQ(uriEncode("-._~AZaz09", true), "-._~AZaz09");
	EXPECT_EQ(uriEncode("", true), "");
}

TEST(Sigv4Encoding, EveryByteEncodesAsRfc3986Says)
{
	for (int b = 0; b < 256; ++b) {
		const char c = static_cast<char>(b);
		const bool unreserved = std::isalnum(b) || c == '-' || c == '.' || c == '_' || c == '~';
		char hex[4];
		std::snprintf(hex, sizeof(hex), "%%%02X", b);
		const std::string encoded = unreserved ? std::string(1, c) : std::string(hex);
		EXPECT_EQ(uriEncode(std::string(1, c), true), encoded) << b;
		EXPECT_EQ(uriEncode(std::string(1, c), false), c == '/' ? "/" : encoded) << b;
		EXPECT_EQ(uriDecode(encoded), std::string(1, c)) << b;
	}
}

TEST(Sigv4Encoding, UriDecodeLeavesBrokenEscapesAlone)
{
	EXPECT_EQ(uriDecode("a%20b%2fc"), "a b/c");
	EXPECT_EQ(uriDecode("a+b"), "a+b");
	EXPECT_EQ(uriDecode("100%"), "100%");
	EXPECT_EQ(uriDecode("%zz%4"), "%zz%4");
}

TEST(Sigv4Encoding, CanonicalQuerySortsEncodedNamesThenValues)
{
	EXPECT_EQ(canonicalQuery({}), "");
	EXPECT_EQ(canonicalQuery({ { "uploads", "" } }), "uploads=");
	EXPECT_EQ(canonicalQuery({ { "b", "2" }, { "a", "x y" }, { "a", "+" } }), "a=%2B&a=x%20y&b=2");
	/* Sorted by bytes after encoding: '%' < 'A' < 'a'. */
	EXPECT_EQ(canonicalQuery({ { "a", "1" }, { "B", "2" }, { "é", "3" } }), "%C3%A9=3&B=2&a=1");
	EXPECT_EQ(canonicalQuery({ { "prefix", "dir/a b+c&d=é" }, { "delimiter", "/" } }),
		  "delimiter=%2F&prefix=dir%2Fa%20b%2Bc%26d%3D%C3%A9");
}

TEST(Sigv4Encoding, CanonicalHeadersAreTrimmedJoinedAndSorted)
{
	HttpRequest request = exampleRequest("GET", "/");
	request.headers = {
		{ "X-Amz-Meta-B", "  two   spaces  inside  " },
		{ "x-amz-meta-a", "first" },
		{ "X-AMZ-META-A", "second" },
		{ "User-Agent", "vfs/1.0" },
		{ "Authorization", "stale" },
		{ "Content-Type", "text/plain" },
	};
	SigningOptions options = exampleOptions();
	options.contentSha256Header = false;

	auto result = signRequest(request, kExampleCredentials, options);
	ASSERT_TRUE(result.ok());
	EXPECT_EQ(result->signedHeaders, "content-type;host;x-amz-date;x-amz-meta-a;x-amz-meta-b");
	EXPECT_NE(result->canonicalRequest.find("content-type:text/plain\n"
						"host:examplebucket.s3.amazonaws.com\n"
						"x-amz-date:20130524T000000Z\n"
						"x-amz-meta-a:first,second\n"
						"x-amz-meta-b:two spaces inside\n\n"),
		  std::string::npos)
		<< result->canonicalRequest;
	EXPECT_FALSE(request.header("x-amz-content-sha256"));
	EXPECT_NE(request.header("Authorization").value_or("stale"), "stale");
}

TEST(Sigv4Encoding, AnExplicitHostHeaderIsSignedInsteadOfTheField)
{
	HttpRequest request = exampleRequest("GET", "/");
	request.headers.push_back({ "Host", "127.0.0.1:7480" });
	auto result = signRequest(request, kExampleCredentials, exampleOptions());
	ASSERT_TRUE(result.ok());
	EXPECT_NE(result->canonicalRequest.find("\nhost:127.0.0.1:7480\n"), std::string::npos);
	EXPECT_EQ(result->canonicalRequest.find("examplebucket"), std::string::npos);
}

/* ------------------------------------------------------------------ */
/* Inputs the signer refuses, and the helpers.                         */
/* ------------------------------------------------------------------ */

TEST(Sigv4Errors, BadInputsAreRefusedNotSigned)
{
	auto refuses = [](Credentials credentials, SigningOptions options, HttpRequest request) {
		auto result = signRequest(request, credentials, options);
		return !result.ok() && result.error().code() == EINVAL && !request.header("Authorization");
	};
	HttpRequest request = exampleRequest("GET", "/");

	EXPECT_TRUE(Credentials{}.anonymous());
	EXPECT_FALSE(kExampleCredentials.anonymous());
	EXPECT_TRUE(refuses(Credentials{}, exampleOptions(), request));
	EXPECT_TRUE(refuses(Credentials{ "AKID", "", "" }, exampleOptions(), request));

	SigningOptions noRegion = exampleOptions();
	noRegion.region.clear();
	EXPECT_TRUE(refuses(kExampleCredentials, noRegion, request));

	for (const char *date : { "2013-05-24T00:00:00Z", "20130524T000000", "20130524X000000Z",
				  "2013052AT000000Z", "20130524T00000aZ" }) {
		SigningOptions badDate = exampleOptions();
		badDate.amzDate = date;
		EXPECT_TRUE(refuses(kExampleCredentials, badDate, request)) << date;
	}

	HttpRequest noHost = request;
	noHost.host.clear();
	EXPECT_TRUE(refuses(kExampleCredentials, exampleOptions(), noHost));

	for (auto expires : { std::chrono::seconds(0), std::chrono::seconds(604801) }) {
		HttpRequest presigned = request;
		SigningOptions options = SigningOptions::s3Presigned("us-east-1", expires);
		auto result = presignRequest(presigned, kExampleCredentials, options);
		EXPECT_FALSE(result.ok()) << expires.count();
		EXPECT_TRUE(presigned.query.empty());
	}
	HttpRequest week = request;
	EXPECT_TRUE(presignRequest(week, kExampleCredentials,
				   SigningOptions::s3Presigned("us-east-1", std::chrono::seconds(604800)))
			    .ok());
}

TEST(Sigv4Helpers, DatesAndSigningKey)
{
	using std::chrono::system_clock;
	EXPECT_EQ(formatAmzDate(system_clock::from_time_t(0)), "19700101T000000Z");
	EXPECT_EQ(formatAmzDate(system_clock::from_time_t(1369353600)), "20130524T000000Z");
	EXPECT_EQ(formatAmzDate(system_clock::from_time_t(1440938160)), "20150830T123600Z");
	EXPECT_EQ(formatAmzDate(system_clock::from_time_t(951782400)), "20000229T000000Z");

	/* A time_point signs like the same moment given as a string. */
	HttpRequest a = exampleRequest("GET", "/test.txt");
	HttpRequest b = exampleRequest("GET", "/test.txt");
	SigningOptions byTime = SigningOptions::s3("us-east-1");
	byTime.time = system_clock::from_time_t(1369353600) + std::chrono::milliseconds(999);
	auto ra = signRequest(a, kExampleCredentials, byTime);
	auto rb = signRequest(b, kExampleCredentials, exampleOptions());
	ASSERT_TRUE(ra.ok() && rb.ok());
	EXPECT_EQ(ra->signature, rb->signature);

	/* kSigning of the S3 examples (their signatures above all depend on it). */
	Sha256Digest key = deriveSigningKey(kExampleCredentials.secretAccessKey, "20130524",
					    "us-east-1", "s3");
	EXPECT_EQ(toHex(key), "dbb893acc010964918f1fd433add87c70e8b0db6be30c1fbeafefa5ec6ba8378");
}

} /* namespace */
