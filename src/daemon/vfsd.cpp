// vfsd: the mount daemon's entry point; all logic lives in the layer libraries.
#include <cstdio>
#include <string>
#include <vector>

#include "daemon/command_line.h"
#include "daemon/config.h"
#include "daemon/mount.h"
#include "fuse/version.h"
#include "vfs_config.h"

int main(int argc, char **argv)
{
	std::vector<std::string> args(argv + 1, argv + argc);
	auto cl = vfs::daemon::parseCommandLine(args);
	if (!cl) {
		std::fprintf(stderr, "vfsd: %s\n", cl.error().message().c_str());
		return vfs::daemon::kExitConfig;
	}
	if (cl->help) {
		std::fputs(vfs::daemon::usage("vfsd").c_str(), stdout);
		return 0;
	}
	if (cl->version) {
		std::printf("vfsd %s (libfuse %s)\n", VFS_VERSION, vfs::fuse::libfuseVersion().c_str());
		return 0;
	}
	if (cl->configPath.empty()) {
		std::fprintf(stderr, "vfsd: --config FILE is required (see vfsd --help)\n");
		return vfs::daemon::kExitConfig;
	}
	auto config = vfs::daemon::loadConfig(cl->configPath, cl->overrides);
	if (!config) {
		std::fprintf(stderr, "vfsd: %s\n", config.error().message().c_str());
		return vfs::daemon::kExitConfig;
	}
	if (!cl->instance.empty())
		config->instance = cl->instance;
	return vfs::daemon::runMount(*config);
}
