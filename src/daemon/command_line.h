// vfsd's command line: --config FILE, --instance NAME, --set KEY=VALUE, --help, --version.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "common/result.h"

namespace vfs::daemon {

struct CommandLine {
	std::string configPath;
	/* --instance NAME: the D-Bus name's label; the config file's stem if empty. */
	std::string instance;
	/* --set KEY=VALUE overrides, in order. */
	std::vector<std::pair<std::string, std::string>> overrides;
	bool help = false;
	bool version = false;
};

Result<CommandLine> parseCommandLine(const std::vector<std::string> &args);

std::string usage(const std::string &program);

} /* namespace vfs::daemon */
