// The thin FUSE adapter: unpack a request, call fs::Filesystem, reply exactly once.
#pragma once

#include "fs/filesystem.h"
#include "fuse/session.h"

namespace vfs::fuse {

/* What the callbacks reach through fuse_req_userdata(). */
struct AdapterContext {
	fs::Filesystem &filesystem;
	SessionOptions options;
};

/* The low-level operation table; userdata must be an AdapterContext. */
const struct fuse_lowlevel_ops &operations();

/* st_* fields from an inode's attributes. */
struct stat toStat(const fs::Attr &attr);

} /* namespace vfs::fuse */
