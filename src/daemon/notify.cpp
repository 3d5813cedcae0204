// sd_notify(3) messages: formatting, systemd's sink, the watchdog period.
#include "daemon/notify.h"

#include <algorithm>

#include <systemd/sd-daemon.h>

namespace vfs::daemon {

void SystemdNotifySink::send(std::string_view message)
{
	/* Failure to notify is not worth failing the mount for: systemd would time out anyway. */
	std::string text(message);
	sd_notify(0, text.c_str());
}

namespace {

std::string counts(const StatusFacts &facts)
{
	return std::to_string(facts.dirtyBytes) + " dirty bytes, " + std::to_string(facts.uploadsInFlight) +
	       " uploads in flight";
}

} /* namespace */

std::string statusMessage(const StatusFacts &facts)
{
	if (facts.stopping)
		return "STATUS=Stopping: uploading to " + facts.bucket + " before unmounting " + facts.mountpoint +
		       "; " + counts(facts);
	return "STATUS=Mounted " + facts.bucket + " on " + facts.mountpoint + "; " + counts(facts);
}

std::string readyMessage(const StatusFacts &facts)
{
	return "READY=1\n" + statusMessage(facts);
}

std::string stoppingMessage(const StatusFacts &facts)
{
	StatusFacts stopping = facts;
	stopping.stopping = true;
	return "STOPPING=1\n" + statusMessage(stopping);
}

std::string extendTimeoutMessage(std::chrono::microseconds extension)
{
	return "EXTEND_TIMEOUT_USEC=" + std::to_string(extension.count());
}

std::optional<std::chrono::microseconds> watchdogTimeout()
{
	std::uint64_t usec = 0;
	if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0)
		return std::nullopt;
	return std::chrono::microseconds(usec);
}

std::chrono::microseconds watchdogPingPeriod(std::chrono::microseconds timeout)
{
	return std::max(timeout / 2, std::chrono::microseconds(10000));
}

} /* namespace vfs::daemon */
