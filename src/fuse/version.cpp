// The libfuse this build runs with, for --version and logs.
#define FUSE_USE_VERSION 314
#include "fuse/version.h"

#include <fuse_lowlevel.h>

namespace vfs::fuse {

std::string libfuseVersion()
{
	return fuse_pkgversion();
}

} /* namespace vfs::fuse */
