// vfsd's command line.
#include "daemon/command_line.h"

#include <cerrno>

namespace vfs::daemon {

Result<CommandLine> parseCommandLine(const std::vector<std::string> &args)
{
	CommandLine cl;
	for (std::size_t i = 0; i < args.size(); ++i) {
		const std::string &arg = args[i];
		auto takeValue = [&](const std::string &flag) -> Result<std::string> {
			if (arg.size() > flag.size() && arg.compare(0, flag.size() + 1, flag + "=") == 0)
				return arg.substr(flag.size() + 1);
			if (arg == flag) {
				if (i + 1 >= args.size())
					return Error(EINVAL, flag + " needs a value");
				return args[++i];
			}
			return Error(ENOENT, {});
		};

		if (arg == "--help" || arg == "-h") {
			cl.help = true;
		} else if (arg == "--version") {
			cl.version = true;
		} else if (arg.rfind("--config", 0) == 0) {
			auto v = takeValue("--config");
			if (!v)
				return v.error().code() == ENOENT ? Error(EINVAL, "unknown option " + arg) : v.error();
			cl.configPath = *v;
		} else if (arg.rfind("--instance", 0) == 0) {
			auto v = takeValue("--instance");
			if (!v)
				return v.error().code() == ENOENT ? Error(EINVAL, "unknown option " + arg) : v.error();
			if (v->empty())
				return Error(EINVAL, "--instance needs a non-empty name");
			cl.instance = *v;
		} else if (arg.rfind("--set", 0) == 0) {
			auto v = takeValue("--set");
			if (!v)
				return v.error().code() == ENOENT ? Error(EINVAL, "unknown option " + arg) : v.error();
			auto eq = v->find('=');
			if (eq == std::string::npos || eq == 0)
				return Error(EINVAL, "--set needs KEY=VALUE, got '" + *v + "'");
			cl.overrides.emplace_back(v->substr(0, eq), v->substr(eq + 1));
		} else {
			return Error(EINVAL, "unknown argument '" + arg + "'");
		}
	}
	return cl;
}

std::string usage(const std::string &program)
{
	return "Usage: " + program + " --config FILE [--instance NAME] [--set KEY=VALUE]...\n"
	       "Mount an S3 bucket as a filesystem (runs in the foreground).\n"
	       "\n"
	       "  --config FILE      configuration file (see vfs.conf(5))\n"
	       "  --instance NAME    instance name: D-Bus name org.vfs.Vfs1.NAME (escaped);\n"
	       "                     default: the configuration file's name without .conf\n"
	       "  --set KEY=VALUE    override one configuration key\n"
	       "  --help             show this help\n"
	       "  --version          show the version\n";
}

} /* namespace vfs::daemon */
