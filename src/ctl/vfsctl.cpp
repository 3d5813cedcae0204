// vfsctl: the human front end to a running instance's D-Bus interface.
#include <iostream>
#include <string>
#include <vector>

#include <unistd.h>

#include "ctl/ctl.h"

int main(int argc, char **argv)
{
	std::vector<std::string> args(argv + 1, argv + argc);
	vfs::ctl::Terminal terminal{ std::cout, std::cerr, isatty(STDERR_FILENO) == 1 };
	return vfs::ctl::run(args, terminal);
}
