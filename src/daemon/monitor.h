// Tells systemd how the mount is doing: READY once it answers, STATUS, WATCHDOG pings, stop progress.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "common/result.h"
#include "daemon/notify.h"

namespace vfs::daemon {

/*
 * Runs a check (vfsd: statfs() of its own mountpoint, which goes through the
 * kernel to the FUSE loop) on its own thread, so a check stuck in the kernel
 * never holds up the caller past a deadline. At most one check runs at a time.
 */
class LivenessProbe
{
public:
	explicit LivenessProbe(std::function<bool()> check);
	/* A check still stuck in the kernel is abandoned, not waited for. */
	~LivenessProbe();

	LivenessProbe(const LivenessProbe &) = delete;
	LivenessProbe &operator=(const LivenessProbe &) = delete;

	/*
	 * Starts a check unless one is still running, and waits for it up to
	 * @deadline. True only if it completed in time and passed.
	 */
	bool check(std::chrono::milliseconds deadline);

private:
	struct State;
	std::shared_ptr<State> state_;
};

struct MonitorOptions {
	/* From $WATCHDOG_USEC (watchdogTimeout()); no pings without it. */
	std::optional<std::chrono::microseconds> watchdogTimeout;
	/* How often STATUS= is refreshed (only sent when it changed). */
	std::chrono::milliseconds statusPeriod{ 2000 };
	/* While stop flushes: EXTEND_TIMEOUT_USEC= this often, each extending by three periods. */
	std::chrono::milliseconds extendPeriod{ 5000 };
	/* Also returns from waits when this fd is readable (vfsd: a signalfd for SIGTERM/SIGINT/SIGHUP). */
	int stopFd = -1;
};

/*
 * The systemd side of vfsd's lifecycle. announceReady() and serve() run on
 * one thread (vfsd's lifecycle thread); requestStop() may be called from any.
 */
class ServiceMonitor
{
public:
	ServiceMonitor(NotifySink &sink, LivenessProbe &probe, std::function<StatusFacts()> facts,
		       MonitorOptions options);
	~ServiceMonitor();

	ServiceMonitor(const ServiceMonitor &) = delete;
	ServiceMonitor &operator=(const ServiceMonitor &) = delete;

	/* Waits until the probe passes, then READY=1 with a STATUS=. False if a stop came first. */
	bool announceReady();
	/* WATCHDOG=1 only after a passing probe, STATUS= refreshes, until a stop is requested. */
	void serve();
	/* STOPPING=1 and a stopping STATUS=. */
	void announceStopping();
	/*
	 * Runs @work (a flush) on another thread, sending EXTEND_TIMEOUT_USEC=
	 * and STATUS= (and watchdog pings, while the probe passes) until it
	 * returns; returns what it returned.
	 */
	Result<std::uint64_t> whileStopping(const std::function<Result<std::uint64_t>()> &work);
	/* Ends announceReady() and serve() soon. Thread-safe. */
	void requestStop();
	bool stopRequested() const;

private:
	/* Waits up to @timeout for a stop; true if one is pending. */
	bool waitForStop(std::chrono::milliseconds timeout);
	void pingIfAlive();
	void refreshStatus();

	NotifySink &sink_;
	LivenessProbe &probe_;
	std::function<StatusFacts()> facts_;
	MonitorOptions options_;
	std::optional<std::chrono::milliseconds> pingPeriod_;
	std::chrono::steady_clock::time_point nextPing_;
	std::chrono::steady_clock::time_point nextStatus_;
	std::string lastStatus_;
	int wakeFd_ = -1; /* an eventfd requestStop() writes */
};

} /* namespace vfs::daemon */
