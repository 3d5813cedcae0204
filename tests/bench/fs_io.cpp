// The timed file operations of scripts/bench.sh: one process, monotonic clock, no shell in the loop.
//
//   fs_io write FILE SRC BLOCK LENGTH [fsync]   LENGTH bytes of SRC into FILE, BLOCK per write()
//   fs_io read FILE BLOCK                        FILE to its end, BLOCK per read()
//   fs_io patch FILE OFFSET LENGTH               pwrite() LENGTH bytes at OFFSET, fsync, close
//   fs_io smallfiles DIR COUNT SIZE              COUNT files DIR/fNNNNN: create, write SIZE, close
//
// Prints one line of key=value pairs (seconds, bytes) for the script to parse; write's
// write_s counts from after open() to the last write()'s return. Sizes take
// a K, M or G suffix (powers of 1024). The written bytes come from SRC, mapped into memory
// before the clock starts, so that the page cache of the source is not what is measured.
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point t0)
{
	return std::chrono::duration<double>(Clock::now() - t0).count();
}

[[noreturn]] void die(const std::string &what)
{
	std::fprintf(stderr, "fs_io: %s: %s\n", what.c_str(), std::strerror(errno));
	std::exit(1);
}

std::uint64_t parseSize(const char *text)
{
	char *end = nullptr;
	errno = 0;
	std::uint64_t v = std::strtoull(text, &end, 10);
	if (errno || end == text) {
		std::fprintf(stderr, "fs_io: '%s' is not a size\n", text);
		std::exit(2);
	}
	switch (*end) {
	case 'G':
		v <<= 10;
		[[fallthrough]];
	case 'M':
		v <<= 10;
		[[fallthrough]];
	case 'K':
		v <<= 10;
		break;
	case '\0':
		break;
	default:
		std::fprintf(stderr, "fs_io: '%s' is not a size\n", text);
		std::exit(2);
	}
	return v;
}

/* Writes all of [data, data + n) with as many write() calls as the kernel wants. */
void writeAll(int fd, const char *data, std::size_t n, const std::string &what)
{
	while (n > 0) {
		ssize_t w = write(fd, data, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			die("write " + what);
		}
		data += w;
		n -= static_cast<std::size_t>(w);
	}
}

int cmdWrite(int argc, char **argv)
{
	if (argc < 6 || argc > 7 || (argc == 7 && std::strcmp(argv[6], "fsync") != 0)) {
		std::fprintf(stderr, "usage: fs_io write FILE SRC BLOCK LENGTH [fsync]\n");
		return 2;
	}
	const std::string file = argv[2];
	std::uint64_t block = parseSize(argv[4]);
	std::uint64_t length = parseSize(argv[5]);
	bool doFsync = argc == 7;

	int src = open(argv[3], O_RDONLY);
	if (src < 0)
		die(std::string("open ") + argv[3]);
	struct stat st {};
	if (fstat(src, &st) < 0)
		die("stat source");
	if (static_cast<std::uint64_t>(st.st_size) < length || block == 0) {
		std::fprintf(stderr, "fs_io: source is %lld bytes, shorter than %llu (or block is 0)\n",
			     static_cast<long long>(st.st_size), static_cast<unsigned long long>(length));
		return 2;
	}
	void *map = mmap(nullptr, length, PROT_READ, MAP_PRIVATE | MAP_POPULATE, src, 0);
	if (map == MAP_FAILED)
		die("mmap source");
	close(src);
	const char *data = static_cast<const char *>(map);

	auto t0 = Clock::now();
	int fd = open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		die("open " + file);
	double openS = since(t0);
	/* write_s is the writes alone: what creating a file costs is workload 6's figure. */
	auto tw = Clock::now();
	for (std::uint64_t off = 0; off < length; off += block)
		writeAll(fd, data + off, static_cast<std::size_t>(std::min(block, length - off)), file);
	double writeS = since(tw);
	double fsyncS = 0;
	if (doFsync) {
		auto t1 = Clock::now();
		if (fsync(fd) < 0)
			die("fsync " + file);
		fsyncS = since(t1);
	}
	auto t2 = Clock::now();
	if (close(fd) < 0)
		die("close " + file);
	double closeS = since(t2);
	std::printf("bytes=%llu open_s=%.6f write_s=%.6f fsync_s=%.6f close_s=%.6f total_s=%.6f\n",
		    static_cast<unsigned long long>(length), openS, writeS, fsyncS, closeS, since(t0));
	munmap(map, length);
	return 0;
}

int cmdRead(int argc, char **argv)
{
	if (argc != 4) {
		std::fprintf(stderr, "usage: fs_io read FILE BLOCK\n");
		return 2;
	}
	const std::string file = argv[2];
	std::uint64_t block = parseSize(argv[3]);
	std::vector<char> buf(block);

	auto t0 = Clock::now();
	int fd = open(file.c_str(), O_RDONLY);
	if (fd < 0)
		die("open " + file);
	std::uint64_t total = 0;
	for (;;) {
		ssize_t r = read(fd, buf.data(), buf.size());
		if (r < 0) {
			if (errno == EINTR)
				continue;
			die("read " + file);
		}
		if (r == 0)
			break;
		total += static_cast<std::uint64_t>(r);
	}
	close(fd);
	std::printf("bytes=%llu total_s=%.6f\n", static_cast<unsigned long long>(total), since(t0));
	return 0;
}

int cmdPatch(int argc, char **argv)
{
	if (argc != 5) {
		std::fprintf(stderr, "usage: fs_io patch FILE OFFSET LENGTH\n");
		return 2;
	}
	const std::string file = argv[2];
	std::uint64_t offset = parseSize(argv[3]);
	std::vector<char> patch(parseSize(argv[4]));
	/* Bytes that cannot already be there: the object came from /dev/urandom. */
	for (std::size_t i = 0; i < patch.size(); i++)
		patch[i] = static_cast<char>('A' + i % 26);

	auto t0 = Clock::now();
	int fd = open(file.c_str(), O_WRONLY);
	if (fd < 0)
		die("open " + file);
	ssize_t w = pwrite(fd, patch.data(), patch.size(), static_cast<off_t>(offset));
	if (w != static_cast<ssize_t>(patch.size()))
		die("pwrite " + file);
	double writeS = since(t0);
	auto t1 = Clock::now();
	if (fsync(fd) < 0)
		die("fsync " + file);
	double fsyncS = since(t1);
	auto t2 = Clock::now();
	if (close(fd) < 0)
		die("close " + file);
	double closeS = since(t2);
	std::printf("bytes=%zu write_s=%.6f fsync_s=%.6f close_s=%.6f total_s=%.6f\n", patch.size(), writeS,
		    fsyncS, closeS, since(t0));
	return 0;
}

int cmdSmallFiles(int argc, char **argv)
{
	if (argc != 5) {
		std::fprintf(stderr, "usage: fs_io smallfiles DIR COUNT SIZE\n");
		return 2;
	}
	const std::string dir = argv[2];
	std::uint64_t count = parseSize(argv[3]);
	std::vector<char> data(parseSize(argv[4]));
	for (std::size_t i = 0; i < data.size(); i++)
		data[i] = static_cast<char>(i * 131 + 7);

	auto t0 = Clock::now();
	for (std::uint64_t i = 0; i < count; i++) {
		char name[32];
		std::snprintf(name, sizeof(name), "/f%05llu", static_cast<unsigned long long>(i));
		std::string path = dir + name;
		int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0)
			die("open " + path);
		writeAll(fd, data.data(), data.size(), path);
		if (close(fd) < 0)
			die("close " + path);
	}
	double total = since(t0);
	std::printf("files=%llu total_s=%.6f files_per_s=%.1f\n", static_cast<unsigned long long>(count), total,
		    static_cast<double>(count) / total);
	return 0;
}

} /* namespace */

int main(int argc, char **argv)
{
	std::string cmd = argc > 1 ? argv[1] : "";
	if (cmd == "write")
		return cmdWrite(argc, argv);
	if (cmd == "read")
		return cmdRead(argc, argv);
	if (cmd == "patch")
		return cmdPatch(argc, argv);
	if (cmd == "smallfiles")
		return cmdSmallFiles(argc, argv);
	std::fprintf(stderr, "usage: fs_io write|read|patch|smallfiles ...\n");
	return 2;
}
