// A tiny HTTP/1.1 keep-alive server on loopback (optionally TLS), for transport tests.
#pragma once

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <list>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <csignal>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

namespace vfs::test {

struct ServerRequest {
	std::string method;
	std::string target;
	std::map<std::string, std::string> headers; /* names lower-cased */
	std::string body;
	std::size_t connection = 0; /* which accepted connection carried it, from 1 */

	bool has(const std::string &name) const { return headers.count(name) != 0; }
	std::string get(const std::string &name) const
	{
		auto it = headers.find(name);
		return it == headers.end() ? std::string() : it->second;
	}
};

struct ServerResponse {
	int status = 200;
	std::vector<std::pair<std::string, std::string>> headers;
	std::string body;
	/* Send a body of this many bytes cycled from pattern instead of body (large transfers). */
	std::size_t generatedLength = 0;
	const std::string *pattern = nullptr;
	/* Announce this Content-Length instead of the real size (to cut a body short). */
	std::optional<std::size_t> contentLength;
	/* After this many body bytes: stall until the server stops, or close the connection. */
	std::optional<std::size_t> stallAfter;
	std::optional<std::size_t> closeAfter;
	/* Close without answering at all. */
	bool dropConnection = false;
	/* Close after answering, announcing "Connection: close". */
	bool closeConnection = false;
	/* HEAD: headers as for GET, no body. */
	bool headersOnly = false;
};

/*
 * Accepts connections on 127.0.0.1 (port picked by the kernel), one thread
 * per connection, and serves requests with a handler until destroyed. It
 * counts connections, requests, and the most requests in service at once.
 * Request bodies are kept only up to keepBodyLimit (the rest is counted).
 */
class TestHttpServer
{
public:
	using Handler = std::function<ServerResponse(const ServerRequest &)>;

	explicit TestHttpServer(Handler handler, SSL_CTX *tls = nullptr)
		: handler_(std::move(handler)), tls_(tls)
	{
		/* OpenSSL writes with write(2): a client hanging up mid-handshake must not kill the test. */
		::signal(SIGPIPE, SIG_IGN);
		listenFd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int one = 1;
		::setsockopt(listenFd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		sockaddr_in addr{};
		addr.sin_family = AF_INET;
		addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		addr.sin_port = 0;
		if (::bind(listenFd_, reinterpret_cast<sockaddr *>(&addr), sizeof(addr)) != 0 ||
		    ::listen(listenFd_, 64) != 0)
			std::abort();
		socklen_t len = sizeof(addr);
		::getsockname(listenFd_, reinterpret_cast<sockaddr *>(&addr), &len);
		port_ = ntohs(addr.sin_port);
		if (::pipe2(wakeFds_, O_CLOEXEC) != 0)
			std::abort();
		acceptThread_ = std::thread([this] { acceptLoop(); });
	}

	~TestHttpServer()
	{
		{
			std::lock_guard lock(mutex_);
			stopping_ = true;
			for (int fd : openFds_)
				::shutdown(fd, SHUT_RDWR);
		}
		stopped_.notify_all();
		char c = 0;
		[[maybe_unused]] auto n = ::write(wakeFds_[1], &c, 1);
		acceptThread_.join();
		for (std::thread &t : connectionThreads_)
			t.join();
		::close(listenFd_);
		::close(wakeFds_[0]);
		::close(wakeFds_[1]);
	}

	TestHttpServer(const TestHttpServer &) = delete;
	TestHttpServer &operator=(const TestHttpServer &) = delete;

	int port() const { return port_; }
	std::string host() const { return "127.0.0.1:" + std::to_string(port_); }
	std::size_t connectionsAccepted() const { return accepted_.load(); }
	/* The most requests that were between fully received and answered at once. */
	std::size_t maxConcurrentRequests() const { return maxActive_.load(); }
	std::size_t requestsReceived() const { return received_.load(); }
	std::size_t keepBodyLimit = std::size_t(64) << 20;
	/* Bytes of request bodies received in all. */
	std::size_t bodyBytesReceived() const { return bodyBytes_.load(); }
	/* Close every idle or open connection now (as a server's idle timeout would). */
	void closeConnections()
	{
		std::lock_guard lock(mutex_);
		for (int fd : openFds_)
			::shutdown(fd, SHUT_RDWR);
	}

private:
	struct Connection {
		int fd = -1;
		SSL *ssl = nullptr;
		std::string buffered;

		long readSome(char *out, std::size_t size)
		{
			if (ssl) {
				int n = SSL_read(ssl, out, static_cast<int>(std::min<std::size_t>(size, 1 << 30)));
				return n > 0 ? n : -1;
			}
			ssize_t n;
			do
				n = ::recv(fd, out, size, 0);
			while (n < 0 && errno == EINTR);
			return n > 0 ? n : -1;
		}
		bool writeAll(const char *data, std::size_t size)
		{
			while (size > 0) {
				long n;
				if (ssl) {
					n = SSL_write(ssl, data, static_cast<int>(std::min<std::size_t>(size, 1 << 30)));
				} else {
					n = ::send(fd, data, size, MSG_NOSIGNAL);
					if (n < 0 && errno == EINTR)
						continue;
				}
				if (n <= 0)
					return false;
				data += n;
				size -= static_cast<std::size_t>(n);
			}
			return true;
		}
	};

	void acceptLoop()
	{
		for (;;) {
			pollfd fds[2] = { { listenFd_, POLLIN, 0 }, { wakeFds_[0], POLLIN, 0 } };
			if (::poll(fds, 2, -1) < 0 && errno == EINTR)
				continue;
			if (fds[1].revents)
				return;
			int fd = ::accept4(listenFd_, nullptr, nullptr, SOCK_CLOEXEC);
			if (fd < 0)
				continue;
			int one = 1;
			::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
			std::size_t id = ++accepted_;
			std::lock_guard lock(mutex_);
			if (stopping_) {
				::close(fd);
				return;
			}
			openFds_.push_back(fd);
			connectionThreads_.emplace_back([this, fd, id] { serve(fd, id); });
		}
	}

	void serve(int fd, std::size_t id)
	{
		Connection c;
		c.fd = fd;
		if (tls_) {
			c.ssl = SSL_new(tls_);
			SSL_set_fd(c.ssl, fd);
			if (SSL_accept(c.ssl) != 1) {
				ERR_clear_error();
				finish(c);
				return;
			}
		}
		while (serveOne(c, id)) {
		}
		finish(c);
	}

	void finish(Connection &c)
	{
		if (c.ssl) {
			SSL_free(c.ssl);
			ERR_clear_error();
		}
		std::lock_guard lock(mutex_);
		openFds_.erase(std::find(openFds_.begin(), openFds_.end(), c.fd));
		::close(c.fd);
	}

	static std::string lower(std::string s)
	{
		for (char &ch : s)
			ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
		return s;
	}

	/* Reads one request and answers it; false when the connection is done. */
	bool serveOne(Connection &c, std::size_t id)
	{
		std::size_t end;
		std::vector<char> chunk(256 << 10);
		while ((end = c.buffered.find("\r\n\r\n")) == std::string::npos) {
			long n = c.readSome(chunk.data(), chunk.size());
			if (n <= 0)
				return false;
			c.buffered.append(chunk.data(), static_cast<std::size_t>(n));
		}
		ServerRequest request;
		request.connection = id;
		std::string head = c.buffered.substr(0, end);
		c.buffered.erase(0, end + 4);

		std::size_t lineEnd = head.find("\r\n");
		std::string requestLine = head.substr(0, lineEnd);
		std::size_t sp1 = requestLine.find(' '), sp2 = requestLine.rfind(' ');
		request.method = requestLine.substr(0, sp1);
		request.target = requestLine.substr(sp1 + 1, sp2 - sp1 - 1);
		std::size_t pos = lineEnd == std::string::npos ? head.size() : lineEnd + 2;
		while (pos < head.size()) {
			std::size_t next = head.find("\r\n", pos);
			if (next == std::string::npos)
				next = head.size();
			std::string line = head.substr(pos, next - pos);
			std::size_t colon = line.find(':');
			if (colon != std::string::npos) {
				std::size_t v = line.find_first_not_of(' ', colon + 1);
				request.headers[lower(line.substr(0, colon))] =
					v == std::string::npos ? std::string() : line.substr(v);
			}
			pos = next + 2;
		}

		std::size_t length = request.has("content-length") ? std::stoull(request.get("content-length")) : 0;
		while (length > 0) {
			if (c.buffered.empty()) {
				long n = c.readSome(chunk.data(), chunk.size());
				if (n <= 0)
					return false;
				c.buffered.append(chunk.data(), static_cast<std::size_t>(n));
			}
			std::size_t take = std::min(length, c.buffered.size());
			bodyBytes_ += take;
			if (request.body.size() < keepBodyLimit)
				request.body.append(c.buffered, 0, std::min(take, keepBodyLimit - request.body.size()));
			c.buffered.erase(0, take);
			length -= take;
		}

		/*
		 * Counted before answering: once the client has the answer it may
		 * check the counts or send its next request at once.
		 */
		++received_;
		std::size_t active = ++active_;
		std::size_t seen = maxActive_.load();
		while (active > seen && !maxActive_.compare_exchange_weak(seen, active)) {
		}
		ServerResponse response = handler_(request);
		--active_;
		return respond(c, request, response);
	}

	bool respond(Connection &c, const ServerRequest &request, const ServerResponse &r)
	{
		if (r.dropConnection)
			return false;
		const bool head = request.method == "HEAD" || r.headersOnly;
		const std::size_t bodySize = r.pattern ? r.generatedLength : r.body.size();
		std::string out = "HTTP/1.1 " + std::to_string(r.status) + " Whatever\r\n";
		bool hasLength = false;
		for (const auto &[name, value] : r.headers) {
			out += name + ": " + value + "\r\n";
			hasLength = hasLength || lower(name) == "content-length";
		}
		if (!hasLength)
			out += "Content-Length: " + std::to_string(r.contentLength.value_or(bodySize)) + "\r\n";
		if (r.closeConnection)
			out += "Connection: close\r\n";
		out += "\r\n";
		if (!c.writeAll(out.data(), out.size()))
			return false;
		if (head)
			return !r.closeConnection;

		std::size_t limit = bodySize;
		if (r.stallAfter)
			limit = std::min(limit, *r.stallAfter);
		if (r.closeAfter)
			limit = std::min(limit, *r.closeAfter);
		if (r.pattern) {
			for (std::size_t sent = 0; sent < limit;) {
				std::size_t n = std::min(limit - sent, r.pattern->size());
				if (!c.writeAll(r.pattern->data(), n))
					return false;
				sent += n;
			}
		} else if (!c.writeAll(r.body.data(), limit)) {
			return false;
		}
		if (r.stallAfter) {
			std::unique_lock lock(mutex_);
			stopped_.wait(lock, [this] { return stopping_; });
			return false;
		}
		if (r.closeAfter)
			return false;
		return !r.closeConnection;
	}

	Handler handler_;
	SSL_CTX *tls_;
	int listenFd_ = -1;
	int wakeFds_[2] = { -1, -1 };
	int port_ = 0;
	std::thread acceptThread_;
	std::mutex mutex_;
	std::condition_variable stopped_;
	bool stopping_ = false;                 /* guarded by mutex_ */
	std::vector<int> openFds_;              /* guarded by mutex_ */
	std::list<std::thread> connectionThreads_; /* guarded by mutex_ until the accept thread ends */
	std::atomic<std::size_t> accepted_{ 0 };
	std::atomic<std::size_t> active_{ 0 };
	std::atomic<std::size_t> maxActive_{ 0 };
	std::atomic<std::size_t> received_{ 0 };
	std::atomic<std::size_t> bodyBytes_{ 0 };
};

} /* namespace vfs::test */
