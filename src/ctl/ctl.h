// vfsctl's commands (list, status, flush, shrink) as a library: the binary and the tests call run().
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace vfs::ctl {

/* Exit codes scripts can rely on (vfsctl(8)). */
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;      /* the operation ran and failed (e.g. S3 refused an upload) */
inline constexpr int kExitUsage = 2;       /* bad command line */
inline constexpr int kExitUnreachable = 3; /* no such instance, or the bus cannot be reached */
inline constexpr int kExitDenied = 4;      /* the bus policy refused the call (Flush and Shrink need root) */

struct Terminal {
	std::ostream &out;
	std::ostream &err;
	/* Progress rewrites one line on a terminal; elsewhere it prints a line per change. */
	bool errIsTty = false;
};

/* Runs vfsctl with @args (argv without argv[0]); returns the exit code. */
int run(const std::vector<std::string> &args, Terminal &terminal);

std::string usage();

/* "0 B", "512 B", "1.5 KiB", "12.0 MiB", ... */
std::string formatBytes(std::uint64_t bytes);

} /* namespace vfs::ctl */
