// The daemon's MountControl over the real pool, client and filesystem.
#include "daemon/daemon_control.h"

#include "fs/filesystem.h"
#include "pool/block_pool.h"
#include "s3/client.h"

namespace vfs::daemon {

control::MountMetrics DaemonControl::metrics() const
{
	pool::PoolMetrics p = pool_.metrics();
	s3::ClientMetrics c = client_.metrics();
	fs::FsMetrics f = filesystem_.metrics();

	control::MountMetrics m;
	m.poolUsedBytes = p.usedBytes;
	m.dirtyBytes = p.dirtyBytes;
	m.cleanBytes = p.cleanBytes;
	m.reservedBytes = p.reservedBytes;
	m.stagedBytes = 0; /* no disk staging yet */
	m.dirtyBlocks = p.dirtyBlocks;
	m.cleanBlocks = p.cleanBlocks;
	m.uploadsInFlight = f.uploadsInFlight;
	m.flushErrors = f.flushErrors;
	m.bytesUploaded = c.bytesUploaded;
	m.bytesDownloaded = c.bytesDownloaded;
	m.requestsSent = c.attempts;
	m.requestErrors = c.errors;
	return m;
}

Result<std::uint64_t> DaemonControl::flush()
{
	return filesystem_.flushAll();
}

Result<std::uint64_t> DaemonControl::shrink()
{
	return static_cast<std::uint64_t>(pool_.shrink().total());
}

} /* namespace vfs::daemon */
