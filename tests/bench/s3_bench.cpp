// PUT and GET of one large object with vfs's S3 client, single stream and multipart, for scripts/bench-s3.sh.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "s3/client.h"
#include "s3/curl_transport.h"

using namespace vfs::s3;
using Clock = std::chrono::steady_clock;

namespace {

std::string env(const char *name)
{
	const char *v = std::getenv(name);
	return v ? v : "";
}

double mbps(std::size_t bytes, Clock::duration d)
{
	return static_cast<double>(bytes) / 1e6 / std::chrono::duration<double>(d).count();
}

[[noreturn]] void die(const std::string &what, const S3Error &e)
{
	std::fprintf(stderr, "s3_bench: %s: %s\n", what.c_str(), e.toString().c_str());
	std::exit(1);
}

} /* namespace */

/*
 * Usage: s3_bench BUCKET SIZE_MIB [PART_MIB] [THREADS]
 * Env: S3_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY.
 * Prints "name MB/s" lines: put_single get_single put_multipart get_parallel.
 */
int main(int argc, char **argv)
{
	if (argc < 3) {
		std::fprintf(stderr, "usage: s3_bench BUCKET SIZE_MIB [PART_MIB] [THREADS]\n");
		return 2;
	}
	std::string bucket = argv[1];
	std::size_t size = std::stoul(argv[2]) << 20;
	std::size_t part = (argc > 3 ? std::stoul(argv[3]) : 16) << 20;
	unsigned threads = argc > 4 ? static_cast<unsigned>(std::stoul(argv[4])) : 4;

	CredentialsConfig creds;
	creds.accessKeyId = env("AWS_ACCESS_KEY_ID");
	creds.secretAccessKey = env("AWS_SECRET_ACCESS_KEY");
	CredentialChain chain(creds, CredentialsEnvironment::process());
	auto transport = CurlTransport::create(CurlTransportConfig{});
	if (!transport) {
		std::fprintf(stderr, "s3_bench: %s\n", transport.error().toString().c_str());
		return 1;
	}
	auto endpoint = Endpoint::resolve({ bucket, "us-east-1", env("S3_ENDPOINT"), true });
	if (!endpoint) {
		std::fprintf(stderr, "s3_bench: %s\n", endpoint.error().toString().c_str());
		return 1;
	}
	S3Client client(*endpoint, chain, **transport);

	std::vector<std::byte> data(size);
	std::mt19937_64 rng(42);
	for (std::size_t i = 0; i + 8 <= size; i += 8) {
		std::uint64_t x = rng();
		std::memcpy(&data[i], &x, 8);
	}
	std::vector<std::byte> back(size);

	/* One stream each way: the same shape as one curl transfer. */
	auto t0 = Clock::now();
	auto put = client.putObject("bench/single", data);
	if (!put)
		die("put", put.error());
	std::printf("put_single %.1f\n", mbps(size, Clock::now() - t0));

	t0 = Clock::now();
	auto get = client.getObject("bench/single", std::nullopt, back);
	if (!get)
		die("get", get.error());
	std::printf("get_single %.1f\n", mbps(size, Clock::now() - t0));
	if (back != data) {
		std::fprintf(stderr, "s3_bench: GET returned different bytes\n");
		return 1;
	}

	/* How vfs really moves large files: parts in parallel, hashing overlapped with sending. */
	std::size_t parts = (size + part - 1) / part;
	t0 = Clock::now();
	auto id = client.createMultipartUpload("bench/multi");
	if (!id)
		die("create", id.error());
	std::vector<CompletedPart> done(parts);
	std::atomic<std::size_t> next{ 0 };
	std::atomic<bool> failed{ false };
	std::vector<std::thread> pool;
	for (unsigned t = 0; t < threads; ++t)
		pool.emplace_back([&] {
			for (std::size_t i; (i = next++) < parts;) {
				std::size_t len = std::min(part, size - i * part);
				auto e = client.uploadPart("bench/multi", *id, static_cast<unsigned>(i + 1),
							   std::span(data).subspan(i * part, len));
				if (!e) {
					std::fprintf(stderr, "s3_bench: part: %s\n", e.error().toString().c_str());
					failed = true;
					return;
				}
				done[i] = { static_cast<int>(i + 1), *e };
			}
		});
	for (auto &t : pool)
		t.join();
	if (failed)
		return 1;
	auto complete = client.completeMultipartUpload("bench/multi", *id, done);
	if (!complete)
		die("complete", complete.error());
	std::printf("put_multipart %.1f\n", mbps(size, Clock::now() - t0));

	std::fill(back.begin(), back.end(), std::byte{ 0 });
	next = 0;
	pool.clear();
	t0 = Clock::now();
	for (unsigned t = 0; t < threads; ++t)
		pool.emplace_back([&] {
			for (std::size_t i; (i = next++) < parts;) {
				std::size_t len = std::min(part, size - i * part);
				auto g = client.getObject("bench/multi", ByteRange{ i * part, len },
							  std::span(back).subspan(i * part, len));
				if (!g || g->bytes != len)
					failed = true;
			}
		});
	for (auto &t : pool)
		t.join();
	if (failed || back != data) {
		std::fprintf(stderr, "s3_bench: parallel GET failed or returned different bytes\n");
		return 1;
	}
	std::printf("get_parallel %.1f\n", mbps(size, Clock::now() - t0));
	return 0;
}
