// The D-Bus names an instance owns and serves.
#include "control/bus_name.h"

#include <cerrno>
#include <cstdlib>
#include <memory>

#include <systemd/sd-bus.h>

namespace vfs::control {

Result<std::string> busNameForInstance(std::string_view instance)
{
	if (instance.empty())
		return Error(EINVAL, "empty instance name");
	if (instance.find('\0') != std::string_view::npos)
		return Error(EINVAL, "instance name contains a NUL byte");

	/* sd_bus_path_encode("/x", "a-b") = "/x/a_2db": only [A-Za-z0-9] stay, "_XX" for the rest. */
	char *encoded = nullptr;
	int r = sd_bus_path_encode("/x", std::string(instance).c_str(), &encoded);
	if (r < 0)
		return Error(-r, "cannot encode instance name");
	std::unique_ptr<char, decltype(&std::free)> owner(encoded, &std::free);

	/* The escaping also covers a leading digit, which a bus name element may not have. */
	return std::string(kBusNamePrefix) + (encoded + 3);
}

std::optional<std::string> instanceForBusName(std::string_view busName)
{
	if (!busName.starts_with(kBusNamePrefix) || busName.size() == kBusNamePrefix.size())
		return std::nullopt;
	std::string path = "/x/" + std::string(busName.substr(kBusNamePrefix.size()));
	char *decoded = nullptr;
	if (sd_bus_path_decode(path.c_str(), "/x", &decoded) <= 0 || !decoded)
		return std::nullopt;
	std::unique_ptr<char, decltype(&std::free)> owner(decoded, &std::free);
	return std::string(decoded);
}

} /* namespace vfs::control */
