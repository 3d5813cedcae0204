// HttpTransport over libcurl's easy interface, one pooled handle per request in flight.
#include "s3/curl_transport.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <unistd.h>

#include <curl/curl.h>

namespace vfs::s3 {

namespace {

/* curl_global_init is not safe to race and must run once per process; never cleaned up. */
Result<void> globalInit()
{
	static const CURLcode code = curl_global_init(CURL_GLOBAL_DEFAULT);
	if (code != CURLE_OK)
		return Error(EIO, std::string("curl_global_init: ") + curl_easy_strerror(code));
	return {};
}

NetworkFailure classify(CURLcode code)
{
	switch (code) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return NetworkFailure::Dns;
	case CURLE_COULDNT_CONNECT:
		return NetworkFailure::Connect;
	case CURLE_OPERATION_TIMEDOUT:
		return NetworkFailure::Timeout;
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	/* A reused connection died and the body could not be replayed. */
	case CURLE_SEND_FAIL_REWIND:
		return NetworkFailure::Reset;
	case CURLE_SSL_CONNECT_ERROR:
		return NetworkFailure::TlsHandshake;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_ENGINE_INITFAILED:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_USE_SSL_FAILED:
		return NetworkFailure::TlsVerify;
	default:
		return NetworkFailure::Other;
	}
}

bool isSuccess(int status)
{
	return status >= 200 && status < 300;
}

std::string_view trim(std::string_view s)
{
	while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
		s.remove_prefix(1);
	while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
		s.remove_suffix(1);
	return s;
}

/* The state of one exchange, reached from libcurl's callbacks. */
struct Transfer {
	const HttpRequest &request;
	const TransferOptions &options;
	HttpResponse response;
	std::size_t uploaded = 0;  /* offset into request.body */
	bool bufferOverflow = false;
	bool bodyTooLarge = false;
	bool errorBodyCut = false;
};

std::size_t onHeader(char *data, std::size_t size, std::size_t count, void *user)
{
	Transfer &t = *static_cast<Transfer *>(user);
	std::size_t bytes = size * count;
	std::string_view line(data, bytes);

	/* Each status line starts a new response (a 100 Continue may precede the final one). */
	if (line.starts_with("HTTP/")) {
		t.response.headers.clear();
		t.response.status = 0;
		std::size_t space = line.find(' ');
		if (space != std::string_view::npos) {
			int status = 0;
			for (std::size_t i = space + 1; i < line.size() && line[i] >= '0' && line[i] <= '9'; ++i)
				status = status * 10 + (line[i] - '0');
			t.response.status = status;
		}
		return bytes;
	}

	std::string_view content = trim(line);
	if (content.empty())
		return bytes;
	/* Obsolete line folding: a continuation of the previous header's value. */
	if ((line.front() == ' ' || line.front() == '\t') && !t.response.headers.empty()) {
		t.response.headers.back().value += ' ';
		t.response.headers.back().value += content;
		return bytes;
	}
	std::size_t colon = content.find(':');
	if (colon == std::string_view::npos)
		return bytes;
	t.response.headers.push_back({ std::string(trim(content.substr(0, colon))),
				       std::string(trim(content.substr(colon + 1))) });
	return bytes;
}

std::size_t onBody(char *data, std::size_t size, std::size_t count, void *user)
{
	Transfer &t = *static_cast<Transfer *>(user);
	std::size_t bytes = size * count;
	HttpResponse &r = t.response;

	if (!isSuccess(r.status)) {
		std::size_t room = t.options.maxErrorBodySize - std::min(r.body.size(), t.options.maxErrorBodySize);
		r.body.append(data, std::min(bytes, room));
		if (bytes > room) {
			/* Enough to read the error code: stop reading rather than drain a huge body. */
			t.errorBodyCut = true;
			return 0;
		}
		return bytes;
	}

	if (t.options.downloadBuffer) {
		std::span<std::byte> buffer = *t.options.downloadBuffer;
		if (bytes > buffer.size() - r.downloaded) {
			t.bufferOverflow = true;
			return 0;
		}
		std::memcpy(buffer.data() + r.downloaded, data, bytes);
		r.downloaded += bytes;
		return bytes;
	}

	if (!t.options.wantBody)
		return bytes;
	if (bytes > t.options.maxBodySize - std::min(r.body.size(), t.options.maxBodySize)) {
		t.bodyTooLarge = true;
		return 0;
	}
	r.body.append(data, bytes);
	return bytes;
}

std::size_t onRead(char *buffer, std::size_t size, std::size_t count, void *user)
{
	Transfer &t = *static_cast<Transfer *>(user);
	std::span<const std::byte> body = t.request.body;
	std::size_t bytes = std::min(size * count, body.size() - t.uploaded);
	std::memcpy(buffer, body.data() + t.uploaded, bytes);
	t.uploaded += bytes;
	return bytes;
}

/* libcurl rewinds the body when it replays a request on a fresh connection. */
int onSeek(void *user, curl_off_t offset, int origin)
{
	Transfer &t = *static_cast<Transfer *>(user);
	if (origin != SEEK_SET || offset < 0 || static_cast<std::size_t>(offset) > t.request.body.size())
		return CURL_SEEKFUNC_CANTSEEK;
	t.uploaded = static_cast<std::size_t>(offset);
	return CURL_SEEKFUNC_OK;
}

/* Owns the header list libcurl reads during one perform. */
class HeaderList
{
public:
	HeaderList() = default;
	HeaderList(const HeaderList &) = delete;
	HeaderList &operator=(const HeaderList &) = delete;
	~HeaderList() { curl_slist_free_all(list_); }

	bool append(const std::string &line)
	{
		curl_slist *next = curl_slist_append(list_, line.c_str());
		if (!next)
			return false;
		list_ = next;
		return true;
	}
	curl_slist *get() const { return list_; }

private:
	curl_slist *list_ = nullptr;
};

} /* namespace */

struct CurlTransport::Share {
	CURLSH *handle = nullptr;
	std::array<std::mutex, CURL_LOCK_DATA_LAST> locks;

	~Share()
	{
		if (handle)
			curl_share_cleanup(handle);
	}

	static void lock(CURL *, curl_lock_data data, curl_lock_access, void *user)
	{
		static_cast<Share *>(user)->locks[static_cast<std::size_t>(data)].lock();
	}
	static void unlock(CURL *, curl_lock_data data, void *user)
	{
		static_cast<Share *>(user)->locks[static_cast<std::size_t>(data)].unlock();
	}
};

struct CurlTransport::Handle {
	CURL *easy = nullptr;
	char errorBuffer[CURL_ERROR_SIZE] = {};

	Handle() = default;
	Handle(const Handle &) = delete;
	Handle &operator=(const Handle &) = delete;
	~Handle()
	{
		if (easy)
			curl_easy_cleanup(easy);
	}
};

CurlTransport::CurlTransport(CurlTransportConfig config)
	: config_(std::move(config)),
	  slots_(static_cast<std::ptrdiff_t>(std::max<std::size_t>(config_.maxConnections, 1)))
{
}

CurlTransport::~CurlTransport()
{
	/* Easy handles go before the share they point to. */
	idle_.clear();
}

Result<std::unique_ptr<CurlTransport>> CurlTransport::create(CurlTransportConfig config)
{
	if (config.maxConnections == 0 ||
	    config.maxConnections > static_cast<std::size_t>(std::numeric_limits<std::ptrdiff_t>::max()))
		return Error(EINVAL, "maxConnections must be at least 1");
	if (!config.caBundle.empty() && access(config.caBundle.c_str(), R_OK) != 0)
		return Error(errno, "CA bundle " + config.caBundle);
	if (config.receiveBufferSize < 1024 || config.receiveBufferSize > CURL_MAX_READ_SIZE)
		return Error(EINVAL, "receiveBufferSize out of libcurl's range");
	/* libcurl's range for the upload buffer: 16 KiB to 2 MiB. */
	if (config.uploadBufferSize < (std::size_t(16) << 10) || config.uploadBufferSize > (std::size_t(2) << 20))
		return Error(EINVAL, "uploadBufferSize out of libcurl's range");

	std::unique_ptr<CurlTransport> transport(new CurlTransport(std::move(config)));
	auto ok = transport->init();
	if (!ok)
		return ok.error();
	return transport;
}

Result<void> CurlTransport::init()
{
	auto ok = globalInit();
	if (!ok)
		return ok;

	share_ = std::make_unique<Share>();
	share_->handle = curl_share_init();
	if (!share_->handle)
		return Error(ENOMEM, "curl_share_init");
	CURLSH *sh = share_->handle;
	if (curl_share_setopt(sh, CURLSHOPT_LOCKFUNC, &Share::lock) != CURLSHE_OK ||
	    curl_share_setopt(sh, CURLSHOPT_UNLOCKFUNC, &Share::unlock) != CURLSHE_OK ||
	    curl_share_setopt(sh, CURLSHOPT_USERDATA, share_.get()) != CURLSHE_OK ||
	    curl_share_setopt(sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) != CURLSHE_OK ||
	    curl_share_setopt(sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION) != CURLSHE_OK)
		return Error(EIO, "curl_share_setopt");
	return {};
}

Result<std::unique_ptr<CurlTransport::Handle>> CurlTransport::takeHandle()
{
	{
		std::lock_guard lock(idleMutex_);
		if (!idle_.empty()) {
			std::unique_ptr<Handle> handle = std::move(idle_.back());
			idle_.pop_back();
			return handle;
		}
	}

	auto handle = std::make_unique<Handle>();
	handle->easy = curl_easy_init();
	if (!handle->easy)
		return Error(ENOMEM, "curl_easy_init");
	CURL *e = handle->easy;

	/* Everything that does not change between requests is set once per handle. */
	CURLcode rc = CURLE_OK;
	auto set = [&](CURLoption option, auto value) {
		if (rc == CURLE_OK)
			rc = curl_easy_setopt(e, option, value);
	};
	set(CURLOPT_NOSIGNAL, 1L);
	set(CURLOPT_SHARE, share_->handle);
	set(CURLOPT_ERRORBUFFER, handle->errorBuffer);
	set(CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));
#if LIBCURL_VERSION_NUM >= 0x075500
	set(CURLOPT_PROTOCOLS_STR, "http,https");
#else
	set(CURLOPT_PROTOCOLS, static_cast<long>(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	set(CURLOPT_FOLLOWLOCATION, 0L);
	/* S3 objects stored with Content-Encoding: gzip must come back byte for byte. */
	set(CURLOPT_HTTP_CONTENT_DECODING, 0L);
	set(CURLOPT_TCP_KEEPALIVE, 1L);
	set(CURLOPT_TCP_KEEPIDLE, static_cast<long>(config_.tcpKeepAliveIdle.count()));
	set(CURLOPT_TCP_KEEPINTVL, static_cast<long>(config_.tcpKeepAliveIdle.count()));
	set(CURLOPT_TCP_NODELAY, 1L);
	set(CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(config_.connectTimeout.count()));
	set(CURLOPT_LOW_SPEED_LIMIT, static_cast<long>(config_.lowSpeedLimit));
	set(CURLOPT_LOW_SPEED_TIME, static_cast<long>(config_.lowSpeedTime.count()));
	set(CURLOPT_TIMEOUT_MS, static_cast<long>(config_.requestTimeout.count()));
	set(CURLOPT_SSL_VERIFYPEER, 1L);
	set(CURLOPT_SSL_VERIFYHOST, 2L);
	if (!config_.caBundle.empty())
		set(CURLOPT_CAINFO, config_.caBundle.c_str());
	set(CURLOPT_BUFFERSIZE, static_cast<long>(config_.receiveBufferSize));
	set(CURLOPT_UPLOAD_BUFFERSIZE, static_cast<long>(config_.uploadBufferSize));
	set(CURLOPT_HEADERFUNCTION, &onHeader);
	set(CURLOPT_WRITEFUNCTION, &onBody);
	set(CURLOPT_READFUNCTION, &onRead);
	set(CURLOPT_SEEKFUNCTION, &onSeek);
	if (rc != CURLE_OK)
		return Error(EINVAL, std::string("curl_easy_setopt: ") + curl_easy_strerror(rc));
	return handle;
}

void CurlTransport::returnHandle(std::unique_ptr<Handle> handle)
{
	std::lock_guard lock(idleMutex_);
	idle_.push_back(std::move(handle));
}

Result<HttpResponse> CurlTransport::perform(const HttpRequest &request, const TransferOptions &options)
{
	requests_.fetch_add(1, std::memory_order_relaxed);

	/* The semaphore bounds requests in flight, and so the handles and connections in use. */
	slots_.acquire();
	auto handle = takeHandle();
	Result<HttpResponse> result = handle ? performOn(**handle, request, options) : handle.error();
	if (handle)
		returnHandle(std::move(*handle));
	slots_.release();

	if (!result)
		failures_.fetch_add(1, std::memory_order_relaxed);
	else if (result->status >= 400)
		errorResponses_.fetch_add(1, std::memory_order_relaxed);
	return result;
}

Result<HttpResponse> CurlTransport::performOn(Handle &handle, const HttpRequest &request,
					      const TransferOptions &options)
{
	CURL *e = handle.easy;
	Transfer t{ request, options, {} };

	auto length = request.header("Content-Length");
	if (length && *length != std::to_string(request.body.size()))
		return Error(EINVAL, "Content-Length header does not match the body size");

	HeaderList headers;
	bool ok = true;
	for (const HttpHeader &h : request.headers) {
		/* "Name;" is libcurl's spelling of a header with an empty value. */
		ok = ok && headers.append(h.value.empty() ? h.name + ";" : h.name + ": " + h.value);
	}
	/*
	 * Without Expect: 100-continue a body goes out at once instead of after a
	 * round trip (or curl's 1 s wait for servers that never answer 100).
	 */
	if (!request.header("Expect"))
		ok = ok && headers.append("Expect:");
	if (!ok)
		return Error(ENOMEM, "curl_slist_append");

	const std::string url = request.url();
	const bool upload = request.method == "PUT" || request.method == "POST" || !request.body.empty();

	CURLcode rc = CURLE_OK;
	auto set = [&](CURLoption option, auto value) {
		if (rc == CURLE_OK)
			rc = curl_easy_setopt(e, option, value);
	};
	/* Undo the previous request's method before choosing this one. */
	set(CURLOPT_NOBODY, 0L);
	set(CURLOPT_UPLOAD, 0L);
	set(CURLOPT_CUSTOMREQUEST, static_cast<const char *>(nullptr));
	set(CURLOPT_HTTPGET, 1L);
	set(CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(-1));
	if (request.method == "HEAD") {
		set(CURLOPT_NOBODY, 1L);
	} else if (upload) {
		set(CURLOPT_UPLOAD, 1L);
		set(CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
		if (request.method != "PUT")
			set(CURLOPT_CUSTOMREQUEST, request.method.c_str());
	} else if (request.method != "GET") {
		set(CURLOPT_CUSTOMREQUEST, request.method.c_str());
	}
	set(CURLOPT_URL, url.c_str());
	set(CURLOPT_HTTPHEADER, headers.get());
	set(CURLOPT_HEADERDATA, static_cast<void *>(&t));
	set(CURLOPT_WRITEDATA, static_cast<void *>(&t));
	set(CURLOPT_READDATA, static_cast<void *>(&t));
	set(CURLOPT_SEEKDATA, static_cast<void *>(&t));
	if (rc != CURLE_OK)
		return Error(EINVAL, std::string("curl_easy_setopt: ") + curl_easy_strerror(rc));

	handle.errorBuffer[0] = '\0';
	rc = curl_easy_perform(e);

	/* The list dies with this frame: never leave libcurl pointing at it. */
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, static_cast<curl_slist *>(nullptr));

	curl_off_t up = 0, down = 0;
	long connects = 0;
	curl_easy_getinfo(e, CURLINFO_SIZE_UPLOAD_T, &up);
	curl_easy_getinfo(e, CURLINFO_SIZE_DOWNLOAD_T, &down);
	curl_easy_getinfo(e, CURLINFO_NUM_CONNECTS, &connects);
	bytesUp_.fetch_add(static_cast<std::uint64_t>(up), std::memory_order_relaxed);
	bytesDown_.fetch_add(static_cast<std::uint64_t>(down), std::memory_order_relaxed);
	connections_.fetch_add(static_cast<std::uint64_t>(connects), std::memory_order_relaxed);

	if (rc == CURLE_WRITE_ERROR && t.errorBodyCut)
		rc = CURLE_OK;
	if (rc == CURLE_WRITE_ERROR && t.bufferOverflow)
		return Error(EMSGSIZE, request.method + " " + request.path + ": response body larger than the " +
					       std::to_string(options.downloadBuffer->size()) + "-byte download buffer");
	if (rc == CURLE_WRITE_ERROR && t.bodyTooLarge)
		return Error(EMSGSIZE, request.method + " " + request.path + ": response body larger than " +
					       std::to_string(options.maxBodySize) + " bytes");
	if (rc != CURLE_OK) {
		std::string message = request.method + " " + url + ": " + curl_easy_strerror(rc);
		if (handle.errorBuffer[0])
			message += std::string(" (") + handle.errorBuffer + ")";
		switch (rc) {
		case CURLE_URL_MALFORMAT:
		case CURLE_UNSUPPORTED_PROTOCOL:
		case CURLE_BAD_FUNCTION_ARGUMENT:
			return Error(EINVAL, message);
		case CURLE_OUT_OF_MEMORY:
			return Error(ENOMEM, message);
		default:
			return networkError(classify(rc), message);
		}
	}

	long status = 0;
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
	t.response.status = static_cast<int>(status);
	return std::move(t.response);
}

TransportMetrics CurlTransport::metrics() const
{
	TransportMetrics m;
	m.requests = requests_.load(std::memory_order_relaxed);
	m.bytesUp = bytesUp_.load(std::memory_order_relaxed);
	m.bytesDown = bytesDown_.load(std::memory_order_relaxed);
	m.failures = failures_.load(std::memory_order_relaxed);
	m.errorResponses = errorResponses_.load(std::memory_order_relaxed);
	m.connections = connections_.load(std::memory_order_relaxed);
	return m;
}

} /* namespace vfs::s3 */
