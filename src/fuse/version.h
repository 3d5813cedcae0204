// The libfuse this build runs with, for --version and logs.
#pragma once

#include <string>

namespace vfs::fuse {

std::string libfuseVersion();

} /* namespace vfs::fuse */
