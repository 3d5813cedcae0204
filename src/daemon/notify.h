// sd_notify(3) messages vfsd sends systemd, behind a sink that tests can replace.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vfs::daemon {

/* Where notification messages go: systemd's socket, or a test's recorder. */
class NotifySink
{
public:
	virtual ~NotifySink() = default;
	/* One datagram, e.g. "READY=1\nSTATUS=...". Never blocks for long, never fails loudly. */
	virtual void send(std::string_view message) = 0;
};

/* $NOTIFY_SOCKET through libsystemd; a no-op when vfsd was not started by systemd. */
class SystemdNotifySink : public NotifySink
{
public:
	void send(std::string_view message) override;
};

/* What a STATUS= line says while the mount is serving. */
struct StatusFacts {
	std::string bucket;
	std::string mountpoint;
	std::uint64_t dirtyBytes = 0;
	std::uint64_t uploadsInFlight = 0;
	bool stopping = false;
};

/* "STATUS=Mounted photos on /run/vfs/photos; 0 dirty bytes, 0 uploads in flight" */
std::string statusMessage(const StatusFacts &facts);
/* "READY=1\nSTATUS=..." */
std::string readyMessage(const StatusFacts &facts);
/* "STOPPING=1\nSTATUS=Stopping: ..." */
std::string stoppingMessage(const StatusFacts &facts);
/* "EXTEND_TIMEOUT_USEC=N" */
std::string extendTimeoutMessage(std::chrono::microseconds extension);
inline constexpr std::string_view kWatchdogMessage = "WATCHDOG=1";

/*
 * The watchdog timeout systemd expects pings within ($WATCHDOG_USEC, only if
 * $WATCHDOG_PID is unset or names this process), or nothing.
 */
std::optional<std::chrono::microseconds> watchdogTimeout();
/* Pings go out at half the timeout, as sd_watchdog_enabled(3) advises; never more often than 10 ms. */
std::chrono::microseconds watchdogPingPeriod(std::chrono::microseconds timeout);

} /* namespace vfs::daemon */
