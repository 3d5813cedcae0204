// vfsd: the mount daemon's entry point; all logic lives in the layer libraries.
#include <cstdio>
#include <string>
#include <vector>

#include "daemon/command_line.h"
#include "fuse/version.h"
#include "vfs_config.h"

int main(int argc, char **argv)
{
	std::vector<std::string> args(argv + 1, argv + argc);
	auto cl = vfs::daemon::parseCommandLine(args);
	if (!cl) {
		std::fprintf(stderr, "vfsd: %s\n", cl.error().message().c_str());
		return 2;
	}
	if (cl->help) {
		std::fputs(vfs::daemon::usage("vfsd").c_str(), stdout);
		return 0;
	}
	if (cl->version) {
		std::printf("vfsd %s (libfuse %s)\n", VFS_VERSION, vfs::fuse::libfuseVersion().c_str());
		return 0;
	}
	/* The mount itself is the next milestone (issue 4); say so instead of pretending. */
	std::fprintf(stderr, "vfsd: mounting is not implemented in this version yet\n");
	return 2;
}
