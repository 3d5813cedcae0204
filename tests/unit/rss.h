// Reads this process's resident set size, for tests that check memory is not touched.
#pragma once

#include <cstddef>
#include <fstream>

#include <unistd.h>

namespace vfs::test {

inline std::size_t residentBytes()
{
	std::ifstream statm("/proc/self/statm");
	std::size_t pages = 0, resident = 0;
	statm >> pages >> resident;
	return resident * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

} /* namespace vfs::test */
