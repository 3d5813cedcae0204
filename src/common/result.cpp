// Error formatting for logs and D-Bus replies.
#include "common/result.h"

#include <cstring>

namespace vfs {

std::string Error::toString() const
{
	std::string s = message_;
	if (!s.empty())
		s += ": ";
	s += std::strerror(code_);
	return s;
}

} /* namespace vfs */
