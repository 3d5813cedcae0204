// A null FUSE filesystem on vfs's session layer: the ceiling of the FUSE transport for the benchmarks.
//
// Every name in the root is a regular file; writes are discarded (the file
// only grows), reads return zeros. Same session options, threading and
// max_write as vfsd, so its throughput is what FUSE itself allows here.
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <sys/stat.h>
#include <unistd.h>

#include "fuse/session.h"

namespace {

constexpr fuse_ino_t kFileIno = 2;

struct NullFs {
	vfs::fuse::SessionOptions options;
	std::atomic<std::uint64_t> size{ 0 };
	std::vector<char> zeros;
};

NullFs &fs(fuse_req_t req)
{
	return *static_cast<NullFs *>(fuse_req_userdata(req));
}

struct stat attrOf(NullFs &nfs, fuse_ino_t ino)
{
	struct stat st {};
	st.st_ino = ino;
	st.st_uid = getuid();
	st.st_gid = getgid();
	if (ino == FUSE_ROOT_ID) {
		st.st_mode = S_IFDIR | 0755;
		st.st_nlink = 2;
	} else {
		st.st_mode = S_IFREG | 0644;
		st.st_nlink = 1;
		st.st_size = static_cast<off_t>(nfs.size.load());
	}
	return st;
}

void nullInit(void *userdata, struct fuse_conn_info *conn)
{
	vfs::fuse::tuneConnection(conn, static_cast<NullFs *>(userdata)->options);
}

void nullLookup(fuse_req_t req, fuse_ino_t parent, const char *)
{
	if (parent != FUSE_ROOT_ID) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	struct fuse_entry_param e {};
	e.ino = kFileIno;
	e.attr = attrOf(fs(req), kFileIno);
	fuse_reply_entry(req, &e);
}

void nullGetattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *)
{
	struct stat st = attrOf(fs(req), ino);
	fuse_reply_attr(req, &st, 0);
}

void nullSetattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int toSet, struct fuse_file_info *)
{
	if (toSet & FUSE_SET_ATTR_SIZE)
		fs(req).size = static_cast<std::uint64_t>(attr->st_size);
	struct stat st = attrOf(fs(req), ino);
	fuse_reply_attr(req, &st, 0);
}

void nullOpen(fuse_req_t req, fuse_ino_t, struct fuse_file_info *fi)
{
	if (fi->flags & O_TRUNC)
		fs(req).size = 0;
	fuse_reply_open(req, fi);
}

void nullCreate(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t, struct fuse_file_info *fi)
{
	struct fuse_entry_param e {};
	(void)name;
	(void)parent;
	fs(req).size = 0;
	e.ino = kFileIno;
	e.attr = attrOf(fs(req), kFileIno);
	fuse_reply_create(req, &e, fi);
}

void nullRead(fuse_req_t req, fuse_ino_t, size_t size, off_t off, struct fuse_file_info *)
{
	NullFs &nfs = fs(req);
	std::uint64_t end = nfs.size.load();
	std::size_t n = 0;
	if (static_cast<std::uint64_t>(off) < end)
		n = static_cast<std::size_t>(std::min<std::uint64_t>(size, end - static_cast<std::uint64_t>(off)));
	n = std::min(n, nfs.zeros.size());
	fuse_reply_buf(req, nfs.zeros.data(), n);
}

void nullWrite(fuse_req_t req, fuse_ino_t, const char *, size_t size, off_t off, struct fuse_file_info *)
{
	NullFs &nfs = fs(req);
	std::uint64_t end = static_cast<std::uint64_t>(off) + size;
	std::uint64_t cur = nfs.size.load();
	while (cur < end && !nfs.size.compare_exchange_weak(cur, end)) {
	}
	fuse_reply_write(req, size);
}

void nullOk(fuse_req_t req, fuse_ino_t, struct fuse_file_info *)
{
	fuse_reply_err(req, 0);
}

void nullFsync(fuse_req_t req, fuse_ino_t, int, struct fuse_file_info *)
{
	fuse_reply_err(req, 0);
}

void nullUnlink(fuse_req_t req, fuse_ino_t, const char *)
{
	fuse_reply_err(req, 0);
}

} /* namespace */

int main(int argc, char **argv)
{
	if (argc != 2) {
		std::fprintf(stderr, "usage: %s MOUNTPOINT\n", argv[0]);
		return 2;
	}
	NullFs nfs;
	nfs.options.mountpoint = argv[1];
	nfs.options.fsname = "vfs-null";
	nfs.zeros.assign(nfs.options.maxWrite, 0);

	struct fuse_lowlevel_ops ops {};
	ops.init = nullInit;
	ops.lookup = nullLookup;
	ops.getattr = nullGetattr;
	ops.setattr = nullSetattr;
	ops.open = nullOpen;
	ops.create = nullCreate;
	ops.read = nullRead;
	ops.write = nullWrite;
	ops.flush = nullOk;
	ops.release = nullOk;
	ops.fsync = nullFsync;
	ops.unlink = nullUnlink;

	auto stale = vfs::fuse::cleanStaleMount(nfs.options.mountpoint);
	if (!stale) {
		std::fprintf(stderr, "vfs-nullfs: %s\n", stale.error().toString().c_str());
		return 1;
	}
	if (*stale)
		std::fprintf(stderr, "vfs-nullfs: detached a stale mount at %s\n", argv[1]);

	auto session = vfs::fuse::Session::mount(ops, &nfs, nfs.options);
	if (!session) {
		std::fprintf(stderr, "vfs-nullfs: %s\n", session.error().toString().c_str());
		return 1;
	}
	if (!(*session)->installSignalHandlers()) {
		std::fprintf(stderr, "vfs-nullfs: cannot install signal handlers\n");
		return 1;
	}
	auto r = (*session)->run();
	if (!r) {
		std::fprintf(stderr, "vfs-nullfs: %s\n", r.error().toString().c_str());
		return 1;
	}
	return 0;
}
