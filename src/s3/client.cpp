// The S3 operations: request shapes per operation, signing and retries, typed answers.
#include "s3/client.h"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "s3/checksums.h"
#include "s3/sigv4.h"

namespace vfs::s3 {

namespace {

constexpr std::string_view kMetaPrefix = "x-amz-meta-";

std::string lower(std::string_view s)
{
	std::string out(s);
	std::transform(out.begin(), out.end(), out.begin(),
		       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
	return out;
}

std::string rangeHeader(ByteRange range)
{
	return "bytes=" + std::to_string(range.offset) + "-" + std::to_string(range.offset + range.length - 1);
}

/* A failure that never got an HTTP answer, as an S3Error the callers can handle alike. */
S3Error localError(const Error &error, std::string_view what)
{
	S3Error e;
	e.httpStatus = 0;
	e.code = "RequestFailed";
	e.message = std::string(what) + ": " + error.toString();
	return e;
}

S3Error protocolError(const Error &error, std::string_view operation, const HttpResponse &response)
{
	S3Error e;
	e.httpStatus = response.status;
	e.code = "MalformedResponse";
	e.message = std::string(operation) + ": " + error.message();
	if (auto id = response.header("x-amz-request-id"))
		e.requestId = std::string(*id);
	return e;
}

std::optional<std::uint64_t> parseUnsigned(std::string_view s)
{
	std::uint64_t v = 0;
	auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
	if (ec != std::errc() || end != s.data() + s.size() || s.empty())
		return std::nullopt;
	return v;
}

} /* namespace */

Metadata metadataFromHeaders(const std::vector<HttpHeader> &headers)
{
	Metadata m;
	for (const HttpHeader &h : headers) {
		std::string name = lower(h.name);
		if (name.size() > kMetaPrefix.size() && name.compare(0, kMetaPrefix.size(), kMetaPrefix) == 0)
			m[name.substr(kMetaPrefix.size())] = h.value;
	}
	return m;
}

S3Client::S3Client(Endpoint endpoint, CredentialChain &credentials, HttpTransport &transport,
		   ClientOptions options)
	: endpoint_(std::move(endpoint)), credentials_(credentials), transport_(transport),
	  options_(std::move(options)), retry_(options_.retry, options_.sleep)
{
}

S3Result<HttpResponse> S3Client::send(HttpRequest request, const TransferOptions &transfer, Embedded embedded,
				      BodyCheck check)
{
	requests_.fetch_add(1, std::memory_order_relaxed);
	auto fail = [this](S3Error e) -> S3Result<HttpResponse> {
		errors_.fetch_add(1, std::memory_order_relaxed);
		return e;
	};

	auto creds = credentials_.credentials();
	if (!creds)
		return fail(localError(creds.error(), "no credentials"));

	/* Hash the body once: every retry re-sends (and so re-signs) the same bytes. */
	SigningOptions signing = SigningOptions::s3(endpoint_.region());
	bool unsignedPayload = options_.unsignedPayload && endpoint_.scheme() == "https";
	std::optional<Sha256Digest> digest;
	if (!request.body.empty() && (!unsignedPayload || check == BodyCheck::Sha256Checksum))
		digest = sha256(request.body);
	if (!request.body.empty() &&
	    (check == BodyCheck::ContentMd5 || (check == BodyCheck::Signed && unsignedPayload)))
		request.setHeader("Content-MD5", contentMd5(request.body));
	if (check == BodyCheck::Sha256Checksum)
		request.setHeader("x-amz-checksum-sha256",
				  base64(digest ? *digest : sha256(std::span<const std::byte>())));
	if (unsignedPayload) {
		signing.payload = PayloadHash::Unsigned;
	} else {
		signing.payload = PayloadHash::Explicit;
		signing.payloadHash = digest ? toHex(*digest) : std::string(kEmptyPayloadHash);
	}

	const Credentials &c = *creds;
	ResignFunction resign = [&](HttpRequest &attempt) -> Result<void> {
		attempts_.fetch_add(1, std::memory_order_relaxed);
		bytesUploaded_.fetch_add(attempt.body.size(), std::memory_order_relaxed);
		if (c.anonymous())
			return {};
		signing.time = options_.clock ? options_.clock() : std::chrono::system_clock::now();
		auto signedRequest = signRequest(attempt, c, signing);
		if (!signedRequest)
			return signedRequest.error();
		return {};
	};
	ErrorCodeFunction errorCode = [embedded](const HttpResponse &r) -> std::string {
		if (embedded == Embedded::Maybe && r.status >= 200 && r.status < 300)
			if (auto e = embeddedError(r.body))
				return e->code;
		return sniffS3ErrorCode(r);
	};

	auto response = performWithRetry(transport_, request, transfer, retry_, resign, errorCode);
	if (!response)
		return fail(localError(response.error(), request.method + " " + endpoint_.host() + request.path));

	bytesDownloaded_.fetch_add(response->downloaded + response->body.size(), std::memory_order_relaxed);
	if (response->status < 200 || response->status >= 300)
		return fail(S3Error::fromResponse(*response));
	if (embedded == Embedded::Maybe)
		if (auto e = embeddedError(response->body))
			return fail(*e);
	return std::move(*response);
}

void S3Client::applyPutOptions(HttpRequest &request, const PutOptions &options) const
{
	for (const auto &[name, value] : options.metadata)
		request.setHeader(std::string(kMetaPrefix) + lower(name), value);
	if (!options.contentType.empty())
		request.setHeader("Content-Type", options.contentType);
	if (!options.ifMatch.empty())
		request.setHeader("If-Match", options.ifMatch);
}

std::string S3Client::copySource(const std::string &key) const
{
	return "/" + endpoint_.bucket() + "/" + uriEncode(key, false);
}

S3Result<void> S3Client::headBucket()
{
	TransferOptions t;
	t.wantBody = false;
	auto r = send(endpoint_.request("HEAD", ""), t);
	if (!r)
		return r.error();
	return {};
}

S3Result<ListObjectsV2Result> S3Client::listObjects(const ListRequest &list)
{
	std::vector<std::pair<std::string, std::string>> query = {
		{ "list-type", "2" },
		{ "encoding-type", "url" },
		{ "max-keys", std::to_string(list.maxKeys) },
	};
	if (!list.prefix.empty())
		query.emplace_back("prefix", list.prefix);
	if (!list.delimiter.empty())
		query.emplace_back("delimiter", list.delimiter);
	if (!list.continuationToken.empty())
		query.emplace_back("continuation-token", list.continuationToken);
	if (!list.startAfter.empty())
		query.emplace_back("start-after", list.startAfter);

	auto r = send(endpoint_.request("GET", "", std::move(query)), TransferOptions{});
	if (!r)
		return r.error();
	auto parsed = parseListObjectsV2(r->body);
	if (!parsed)
		return protocolError(parsed.error(), "ListObjectsV2", *r);
	return std::move(*parsed);
}

S3Result<ObjectInfo> S3Client::headObject(const std::string &key)
{
	TransferOptions t;
	t.wantBody = false;
	auto r = send(endpoint_.request("HEAD", key), t);
	if (!r)
		return r.error();

	ObjectInfo info;
	info.key = key;
	auto length = r->header("Content-Length");
	auto size = length ? parseUnsigned(*length) : std::nullopt;
	if (!size)
		return protocolError(Error(EPROTO, "no valid Content-Length"), "HeadObject", *r);
	info.size = *size;
	info.etag = normalizeEtag(r->header("ETag").value_or(""));
	if (auto lm = r->header("Last-Modified"))
		if (auto when = parseHttpDate(*lm))
			info.lastModified = *when;
	info.contentType = std::string(r->header("Content-Type").value_or(""));
	info.metadata = metadataFromHeaders(r->headers);
	return info;
}

S3Result<GetResult> S3Client::getObject(const std::string &key, std::optional<ByteRange> range,
					std::span<std::byte> into, const std::string &ifMatch)
{
	HttpRequest request = endpoint_.request("GET", key);
	if (range && range->length > 0)
		request.setHeader("Range", rangeHeader(*range));
	if (!ifMatch.empty())
		request.setHeader("If-Match", ifMatch);

	TransferOptions t;
	t.downloadBuffer = into;
	auto r = send(std::move(request), t);
	if (!r)
		return r.error();

	GetResult result;
	result.bytes = r->downloaded;
	result.etag = normalizeEtag(r->header("ETag").value_or(""));
	/* Some servers (s3rver) ignore If-Match: never hand out bytes of another version. */
	if (!ifMatch.empty() && !result.etag.empty() && result.etag != normalizeEtag(ifMatch)) {
		errors_.fetch_add(1, std::memory_order_relaxed);
		S3Error e = S3Error::fromStatus(412);
		e.code = "PreconditionFailed";
		e.message = "the object changed (ETag " + result.etag + ", expected " + normalizeEtag(ifMatch) + ")";
		return e;
	}
	if (auto cr = r->header("Content-Range")) {
		/* "bytes 0-99/1234" */
		auto slash = cr->rfind('/');
		if (slash != std::string_view::npos)
			if (auto total = parseUnsigned(cr->substr(slash + 1)))
				result.objectSize = *total;
	} else {
		result.objectSize = r->downloaded;
	}
	return result;
}

S3Result<std::string> S3Client::putObject(const std::string &key, std::span<const std::byte> body,
					  const PutOptions &options)
{
	HttpRequest request = endpoint_.request("PUT", key);
	request.body = body;
	applyPutOptions(request, options);
	TransferOptions t;
	t.wantBody = false;
	auto r = send(std::move(request), t, Embedded::No, BodyCheck::Sha256Checksum);
	if (!r)
		return r.error();
	return normalizeEtag(r->header("ETag").value_or(""));
}

S3Result<std::string> S3Client::copyObject(const std::string &sourceKey, const std::string &key,
					   MetadataDirective directive, const PutOptions &options)
{
	HttpRequest request = endpoint_.request("PUT", key);
	request.setHeader("x-amz-copy-source", copySource(sourceKey));
	request.setHeader("x-amz-metadata-directive", directive == MetadataDirective::Copy ? "COPY" : "REPLACE");
	if (directive == MetadataDirective::Replace)
		applyPutOptions(request, options);
	auto r = send(std::move(request), TransferOptions{}, Embedded::Maybe);
	if (!r)
		return r.error();
	auto parsed = parseCopyObjectResult(r->body);
	if (!parsed)
		return protocolError(parsed.error(), "CopyObject", *r);
	return parsed->etag;
}

S3Result<void> S3Client::deleteObject(const std::string &key)
{
	TransferOptions t;
	t.wantBody = false;
	auto r = send(endpoint_.request("DELETE", key), t);
	if (!r)
		return r.error();
	return {};
}

S3Result<DeleteResult> S3Client::deleteObjects(const std::vector<std::string> &keys)
{
	auto body = buildDeleteObjects(keys, true);
	if (!body)
		return localError(body.error(), "DeleteObjects");
	HttpRequest request = endpoint_.request("POST", "", { { "delete", "" } });
	request.body = std::as_bytes(std::span(body->data(), body->size()));
	request.setHeader("Content-Type", "application/xml");
	auto r = send(std::move(request), TransferOptions{}, Embedded::No, BodyCheck::ContentMd5);
	if (!r)
		return r.error();
	auto parsed = parseDeleteResult(r->body);
	if (!parsed)
		return protocolError(parsed.error(), "DeleteObjects", *r);
	return std::move(*parsed);
}

S3Result<std::string> S3Client::createMultipartUpload(const std::string &key, const PutOptions &options)
{
	HttpRequest request = endpoint_.request("POST", key, { { "uploads", "" } });
	applyPutOptions(request, options);
	auto r = send(std::move(request), TransferOptions{});
	if (!r)
		return r.error();
	auto parsed = parseInitiateMultipartUpload(r->body);
	if (!parsed)
		return protocolError(parsed.error(), "CreateMultipartUpload", *r);
	return parsed->uploadId;
}

S3Result<std::string> S3Client::uploadPart(const std::string &key, const std::string &uploadId,
					   unsigned partNumber, std::span<const std::byte> body)
{
	HttpRequest request = endpoint_.request(
		"PUT", key, { { "partNumber", std::to_string(partNumber) }, { "uploadId", uploadId } });
	request.body = body;
	TransferOptions t;
	t.wantBody = false;
	auto r = send(std::move(request), t);
	if (!r)
		return r.error();
	std::string etag = normalizeEtag(r->header("ETag").value_or(""));
	if (etag.empty())
		return protocolError(Error(EPROTO, "no ETag for the part"), "UploadPart", *r);
	return etag;
}

S3Result<std::string> S3Client::uploadPartCopy(const std::string &key, const std::string &uploadId,
					       unsigned partNumber, const std::string &sourceKey,
					       ByteRange range, const std::string &sourceEtag)
{
	HttpRequest request = endpoint_.request(
		"PUT", key, { { "partNumber", std::to_string(partNumber) }, { "uploadId", uploadId } });
	request.setHeader("x-amz-copy-source", copySource(sourceKey));
	request.setHeader("x-amz-copy-source-range", rangeHeader(range));
	if (!sourceEtag.empty())
		request.setHeader("x-amz-copy-source-if-match", sourceEtag);
	auto r = send(std::move(request), TransferOptions{}, Embedded::Maybe);
	if (!r)
		return r.error();
	auto parsed = parseCopyPartResult(r->body);
	if (!parsed)
		return protocolError(parsed.error(), "UploadPartCopy", *r);
	return parsed->etag;
}

S3Result<std::string> S3Client::completeMultipartUpload(const std::string &key, const std::string &uploadId,
							const std::vector<CompletedPart> &parts)
{
	auto body = buildCompleteMultipartUpload(parts);
	if (!body)
		return localError(body.error(), "CompleteMultipartUpload");
	HttpRequest request = endpoint_.request("POST", key, { { "uploadId", uploadId } });
	request.body = std::as_bytes(std::span(body->data(), body->size()));
	request.setHeader("Content-Type", "application/xml");
	auto r = send(std::move(request), TransferOptions{}, Embedded::Maybe);
	if (!r)
		return r.error();
	auto parsed = parseCompleteMultipartUpload(r->body);
	if (!parsed)
		return protocolError(parsed.error(), "CompleteMultipartUpload", *r);
	if (!parsed->etag.empty())
		return parsed->etag;

	/* Ceph RGW 16.2 may answer an empty ETag; HEAD has the right one. */
	auto head = headObject(key);
	if (!head)
		return head.error();
	return head->etag;
}

S3Result<void> S3Client::abortMultipartUpload(const std::string &key, const std::string &uploadId)
{
	TransferOptions t;
	t.wantBody = false;
	auto r = send(endpoint_.request("DELETE", key, { { "uploadId", uploadId } }), t);
	if (!r)
		return r.error();
	return {};
}

S3Result<ListMultipartUploadsResult> S3Client::listMultipartUploads(const std::string &prefix,
								     const std::string &keyMarker,
								     const std::string &uploadIdMarker)
{
	std::vector<std::pair<std::string, std::string>> query = { { "uploads", "" } };
	if (!prefix.empty())
		query.emplace_back("prefix", prefix);
	if (!keyMarker.empty())
		query.emplace_back("key-marker", keyMarker);
	if (!uploadIdMarker.empty())
		query.emplace_back("upload-id-marker", uploadIdMarker);
	auto r = send(endpoint_.request("GET", "", std::move(query)), TransferOptions{});
	if (!r)
		return r.error();
	auto parsed = parseListMultipartUploads(r->body);
	if (!parsed)
		return protocolError(parsed.error(), "ListMultipartUploads", *r);
	return std::move(*parsed);
}

ClientMetrics S3Client::metrics() const
{
	ClientMetrics m;
	m.requests = requests_.load(std::memory_order_relaxed);
	m.attempts = attempts_.load(std::memory_order_relaxed);
	m.retries = retry_.retries();
	m.errors = errors_.load(std::memory_order_relaxed);
	m.bytesUploaded = bytesUploaded_.load(std::memory_order_relaxed);
	m.bytesDownloaded = bytesDownloaded_.load(std::memory_order_relaxed);
	return m;
}

} /* namespace vfs::s3 */
