// The daemon's MountControl: D-Bus Flush, Shrink and metrics over the real pool, client and filesystem.
#pragma once

#include <utility>

#include "control/mount_control.h"

namespace vfs::fs {
class Filesystem;
}
namespace vfs::pool {
class BlockPool;
}
namespace vfs::s3 {
class S3Client;
}

namespace vfs::daemon {

/* Borrows everything: the mount's objects outlive the service that calls it. */
class DaemonControl : public control::MountControl
{
public:
	DaemonControl(control::MountInfo info, pool::BlockPool &pool, s3::S3Client &client,
		      fs::Filesystem &filesystem)
		: info_(std::move(info)), pool_(pool), client_(client), filesystem_(filesystem) {}

	control::MountInfo info() const override { return info_; }
	/* Lock-free counters and two short leaf locks: safe on the bus thread (and for STATUS= lines). */
	control::MountMetrics metrics() const override;
	/* Filesystem::flushAll(): files being written keep being written meanwhile. */
	Result<std::uint64_t> flush() override;
	/* BlockPool::shrink(): clean blocks, dirty blocks' spare capacity, the allocator's free memory. */
	Result<std::uint64_t> shrink() override;

private:
	const control::MountInfo info_;
	pool::BlockPool &pool_;
	s3::S3Client &client_;
	fs::Filesystem &filesystem_;
};

} /* namespace vfs::daemon */
