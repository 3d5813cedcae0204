// The metadata ceiling of an S3 server: LIST pages and HEADs per second with vfs's S3 client, for `ls -l`.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
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

double seconds(Clock::duration d)
{
	return std::chrono::duration<double>(d).count();
}

/* Runs @task(i) for i in [0, count) on @threads threads; false if any failed. */
template<typename Task>
bool parallel(std::size_t count, unsigned threads, Task task)
{
	std::atomic<std::size_t> next{ 0 };
	std::atomic<bool> ok{ true };
	std::vector<std::thread> pool;
	for (unsigned t = 0; t < threads; ++t)
		pool.emplace_back([&] {
			for (std::size_t i; (i = next++) < count;)
				if (!task(i))
					ok = false;
		});
	for (auto &t : pool)
		t.join();
	return ok;
}

std::string keyOf(const std::string &prefix, std::size_t i)
{
	char name[32];
	std::snprintf(name, sizeof(name), "f%05zu", i);
	return prefix + name;
}

} /* namespace */

/*
 * Usage: head_bench BUCKET PREFIX COUNT [THREADS...]
 * Env: S3_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY; HEAD_BENCH_POPULATE=1
 * first PUTs COUNT objects PREFIXf00000... of 100 bytes with s3fs's mode metadata.
 * Prints "list_pages N seconds", then per thread count "heads THREADS COUNT seconds HEADs/s".
 */
int main(int argc, char **argv)
{
	if (argc < 4) {
		std::fprintf(stderr, "usage: head_bench BUCKET PREFIX COUNT [THREADS...]\n");
		return 2;
	}
	std::string bucket = argv[1];
	std::string prefix = argv[2];
	std::size_t count = std::stoul(argv[3]);
	std::vector<unsigned> widths;
	for (int i = 4; i < argc; ++i)
		widths.push_back(static_cast<unsigned>(std::stoul(argv[i])));
	if (widths.empty())
		widths = { 1, 4, 8, 16, 32, 64 };

	CredentialsConfig creds;
	creds.accessKeyId = env("AWS_ACCESS_KEY_ID");
	creds.secretAccessKey = env("AWS_SECRET_ACCESS_KEY");
	CredentialChain chain(creds, CredentialsEnvironment::process());
	CurlTransportConfig config;
	config.maxConnections = *std::max_element(widths.begin(), widths.end());
	auto transport = CurlTransport::create(config);
	if (!transport) {
		std::fprintf(stderr, "head_bench: %s\n", transport.error().toString().c_str());
		return 1;
	}
	auto endpoint = Endpoint::resolve({ bucket, "us-east-1", env("S3_ENDPOINT"), true });
	if (!endpoint) {
		std::fprintf(stderr, "head_bench: %s\n", endpoint.error().toString().c_str());
		return 1;
	}
	S3Client client(*endpoint, chain, **transport);

	if (env("HEAD_BENCH_POPULATE") == "1") {
		
		std::string body(100, 'x');
		PutOptions options;
		options.metadata["mode"] = "33188";
		auto t0 = Clock::now();
		bool ok = parallel(count, 16, [&](std::size_t i) {
			return client.putObject(keyOf(prefix, i), std::as_bytes(std::span(body)), options).ok();
		});
		if (!ok) {
			std::fprintf(stderr, "head_bench: populating failed\n");
			return 1;
		}
		std::printf("populate %zu %.3f\n", count, seconds(Clock::now() - t0));
	}

	/* The listing alone: pages of 1000, one after the other (each needs the previous token). */
	auto t0 = Clock::now();
	ListRequest list;
	list.prefix = prefix;
	list.delimiter = "/";
	std::size_t pages = 0, keys = 0;
	for (;;) {
		auto page = client.listObjects(list);
		if (!page) {
			std::fprintf(stderr, "head_bench: list: %s\n", page.error().toString().c_str());
			return 1;
		}
		++pages;
		keys += page->contents.size();
		if (page->nextContinuationToken.empty())
			break;
		list.continuationToken = page->nextContinuationToken;
	}
	std::printf("list_pages %zu keys %zu %.3f\n", pages, keys, seconds(Clock::now() - t0));

	for (unsigned width : widths) {
		t0 = Clock::now();
		bool ok = parallel(count, width, [&](std::size_t i) { return client.headObject(keyOf(prefix, i)).ok(); });
		double s = seconds(Clock::now() - t0);
		std::printf("heads %u %zu %.3f %.0f%s\n", width, count, s, static_cast<double>(count) / s,
			    ok ? "" : " (some failed)");
		std::fflush(stdout);
	}
	return 0;
}
