// The narrow seam between the D-Bus service and a mount: what it shows and what it may ask for.
#pragma once

#include <cstdint>
#include <string>

#include "common/result.h"

namespace vfs::control {

/* What does not change while a mount lives. */
struct MountInfo {
	std::string instance;
	std::string bucket;
	std::string endpoint;
	std::string mountPoint;
	std::uint64_t poolLimitBytes = 0;
};

/* A snapshot of the pool and I/O counters (the D-Bus properties). */
struct MountMetrics {
	std::uint64_t poolUsedBytes = 0;
	std::uint64_t dirtyBytes = 0;
	std::uint64_t cleanBytes = 0;
	std::uint64_t reservedBytes = 0;
	std::uint64_t stagedBytes = 0; /* no disk staging yet: always 0 */
	std::uint64_t dirtyBlocks = 0;
	std::uint64_t cleanBlocks = 0;
	std::uint64_t uploadsInFlight = 0;
	std::uint64_t flushErrors = 0;
	std::uint64_t bytesUploaded = 0;
	std::uint64_t bytesDownloaded = 0;
	std::uint64_t requestsSent = 0;
	std::uint64_t requestErrors = 0;
};

/*
 * Implemented by the daemon over the real pool, client and filesystem, and
 * by tests with a fake. info() and metrics() are called on the bus thread for
 * every property read: they must be cheap and never wait for I/O. flush() and
 * shrink() may take long: the service calls them on its own worker thread,
 * one at a time.
 */
class MountControl
{
public:
	virtual ~MountControl() = default;

	virtual MountInfo info() const = 0;
	virtual MountMetrics metrics() const = 0;
	/* Uploads every dirty byte; returns the bytes sent, or the store's error (data stays dirty). */
	virtual Result<std::uint64_t> flush() = 0;
	/* Releases pool memory no data needs; returns the bytes released. */
	virtual Result<std::uint64_t> shrink() = 0;
};

} /* namespace vfs::control */
