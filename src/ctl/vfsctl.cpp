// vfsctl: the human front end to a running instance's D-Bus interface.
#include <cstdio>
#include <cstring>

#include "vfs_config.h"

int main(int argc, char **argv)
{
	if (argc >= 2 && std::strcmp(argv[1], "--version") == 0) {
		std::printf("vfsctl %s\n", VFS_VERSION);
		return 0;
	}
	if (argc >= 2 && (std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0)) {
		std::puts("Usage: vfsctl status|flush|shrink NAME | list");
		return 0;
	}
	std::fprintf(stderr, "vfsctl: commands are not implemented in this version yet\n");
	return 2;
}
