// Which S3 key components can be shown as POSIX file names.
#include "fs/names.h"

namespace vfs::fs {

bool isValidName(std::string_view name)
{
	if (name.empty() || name.size() > kMaxNameBytes)
		return false;
	if (name == "." || name == "..")
		return false;
	return name.find_first_of(std::string_view("/\0", 2)) == std::string_view::npos;
}

} /* namespace vfs::fs */
