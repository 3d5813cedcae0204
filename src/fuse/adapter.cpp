// The thin FUSE adapter: unpack, call fs::, reply exactly once; errno mapping and no exception escapes.
#include "fuse/adapter.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include <sys/xattr.h>

namespace vfs::fuse {

namespace {

AdapterContext &context(fuse_req_t req)
{
	return *static_cast<AdapterContext *>(fuse_req_userdata(req));
}

/* Runs @body; an exception becomes ENOMEM (bad_alloc) or EIO, so none crosses into libfuse. */
template<typename Fn>
void guarded(fuse_req_t req, Fn &&body)
{
	try {
		body();
	} catch (const std::bad_alloc &) {
		fuse_reply_err(req, ENOMEM);
	} catch (...) {
		fuse_reply_err(req, EIO);
	}
}

struct timespec toTimespec(fs::Timestamp t)
{
	auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
	struct timespec ts;
	ts.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
	ts.tv_nsec = static_cast<long>(ns % 1'000'000'000);
	if (ts.tv_nsec < 0) {
		ts.tv_nsec += 1'000'000'000;
		--ts.tv_sec;
	}
	return ts;
}

fs::Timestamp fromTimespec(const struct timespec &ts)
{
	return fs::Timestamp(std::chrono::duration_cast<fs::Timestamp::duration>(
		std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec)));
}

double timeoutOf(fuse_req_t req)
{
	return std::chrono::duration<double>(context(req).filesystem.options().attrTimeout).count();
}

void replyEntry(fuse_req_t req, const fs::Attr &attr)
{
	struct fuse_entry_param e {};
	e.ino = attr.ino;
	e.attr = toStat(attr);
	e.attr_timeout = timeoutOf(req);
	e.entry_timeout = timeoutOf(req);
	fuse_reply_entry(req, &e);
}

template<typename T>
bool failed(fuse_req_t req, const Result<T> &r)
{
	if (r.ok())
		return false;
	fuse_reply_err(req, r.error().code());
	return true;
}

fs::Caller callerOf(fuse_req_t req)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	return fs::Caller{ ctx->uid, ctx->gid, ctx->umask };
}

/* A directory listing taken at opendir, served by offset. */
struct DirHandle {
	std::vector<fs::Dirent> entries;
};

void opInit(void *userdata, struct fuse_conn_info *conn)
{
	tuneConnection(conn, static_cast<AdapterContext *>(userdata)->options);
}

void opLookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	guarded(req, [&] {
		auto r = context(req).filesystem.lookup(parent, name);
		if (!failed(req, r))
			replyEntry(req, *r);
	});
}

void opForget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	context(req).filesystem.forget(ino, nlookup);
	fuse_reply_none(req);
}

void opForgetMulti(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	for (size_t i = 0; i < count; ++i)
		context(req).filesystem.forget(forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

void opGetattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *)
{
	guarded(req, [&] {
		auto r = context(req).filesystem.getattr(ino);
		if (failed(req, r))
			return;
		struct stat st = toStat(*r);
		fuse_reply_attr(req, &st, timeoutOf(req));
	});
}

void opSetattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int toSet, struct fuse_file_info *)
{
	guarded(req, [&] {
		fs::SetAttrRequest change;
		if (toSet & FUSE_SET_ATTR_MODE)
			change.permissions = attr->st_mode & 07777;
		if (toSet & FUSE_SET_ATTR_UID)
			change.uid = attr->st_uid;
		if (toSet & FUSE_SET_ATTR_GID)
			change.gid = attr->st_gid;
		if (toSet & FUSE_SET_ATTR_SIZE)
			change.size = static_cast<std::uint64_t>(attr->st_size);
		if (toSet & FUSE_SET_ATTR_ATIME_NOW)
			change.atime = std::chrono::system_clock::now();
		else if (toSet & FUSE_SET_ATTR_ATIME)
			change.atime = fromTimespec(attr->st_atim);
		if (toSet & FUSE_SET_ATTR_MTIME_NOW)
			change.mtime = std::chrono::system_clock::now();
		else if (toSet & FUSE_SET_ATTR_MTIME)
			change.mtime = fromTimespec(attr->st_mtim);
		auto r = context(req).filesystem.setattr(ino, change);
		if (failed(req, r))
			return;
		struct stat st = toStat(*r);
		fuse_reply_attr(req, &st, timeoutOf(req));
	});
}

void opReadlink(fuse_req_t req, fuse_ino_t ino)
{
	guarded(req, [&] {
		auto r = context(req).filesystem.readlink(ino);
		if (!failed(req, r))
			fuse_reply_readlink(req, r->c_str());
	});
}

void opMkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	guarded(req, [&] {
		auto r = context(req).filesystem.mkdir(parent, name, mode & 07777, callerOf(req));
		if (!failed(req, r))
			replyEntry(req, *r);
	});
}

void opUnlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	guarded(req, [&] {
		auto r = context(req).filesystem.unlink(parent, name);
		fuse_reply_err(req, r.ok() ? 0 : r.error().code());
	});
}

void opRmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	guarded(req, [&] {
		auto r = context(req).filesystem.rmdir(parent, name);
		fuse_reply_err(req, r.ok() ? 0 : r.error().code());
	});
}

void opSymlink(fuse_req_t req, const char *target, fuse_ino_t parent, const char *name)
{
	guarded(req, [&] {
		auto r = context(req).filesystem.symlink(target, parent, name, callerOf(req));
		if (!failed(req, r))
			replyEntry(req, *r);
	});
}

void opRename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newParent, const char *newName,
	      unsigned int flags)
{
	guarded(req, [&] {
		if (flags & ~RENAME_NOREPLACE) {
			/* RENAME_EXCHANGE, RENAME_WHITEOUT: nothing S3 can do atomically. */
			fuse_reply_err(req, EINVAL);
			return;
		}
		auto r = context(req).filesystem.rename(parent, name, newParent, newName, flags & RENAME_NOREPLACE);
		fuse_reply_err(req, r.ok() ? 0 : r.error().code());
	});
}

void opLink(fuse_req_t req, fuse_ino_t, fuse_ino_t, const char *)
{
	/* Objects cannot share a key: hard links are refused (docs/SEMANTICS.md). */
	fuse_reply_err(req, EPERM);
}

void opOpendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	guarded(req, [&] {
		auto r = context(req).filesystem.readdir(ino);
		if (failed(req, r))
			return;
		auto handle = std::make_unique<DirHandle>();
		handle->entries = std::move(*r);
		fi->fh = reinterpret_cast<std::uint64_t>(handle.get());
		if (fuse_reply_open(req, fi) == 0)
			handle.release();
		else
			context(req).filesystem.releaseListing(handle->entries);
	});
}

void opReaddir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	guarded(req, [&] {
		auto *handle = reinterpret_cast<DirHandle *>(fi->fh);
		std::vector<char> buf(size);
		std::size_t used = 0;
		/* Offsets: 0 ".", 1 "..", then entry i at i + 2. */
		for (off_t i = off; i < static_cast<off_t>(handle->entries.size()) + 2; ++i) {
			struct stat st {};
			const char *name;
			if (i < 2) {
				st.st_ino = ino;
				st.st_mode = S_IFDIR;
				name = i == 0 ? "." : "..";
			} else {
				const fs::Dirent &e = handle->entries[static_cast<std::size_t>(i - 2)];
				st = toStat(e.attr);
				name = e.name.c_str();
			}
			std::size_t n = fuse_add_direntry(req, buf.data() + used, size - used, name, &st, i + 1);
			if (n > size - used)
				break;
			used += n;
		}
		fuse_reply_buf(req, buf.data(), used);
	});
}

void opReaddirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	guarded(req, [&] {
		auto *handle = reinterpret_cast<DirHandle *>(fi->fh);
		auto &filesystem = context(req).filesystem;
		std::vector<char> buf(size);
		std::size_t used = 0;
		/* Offsets as in opReaddir. The kernel counts a lookup for every entry but "." and "..". */
		for (off_t i = off; i < static_cast<off_t>(handle->entries.size()) + 2; ++i) {
			struct fuse_entry_param e {};
			const char *name;
			const fs::Dirent *entry = nullptr;
			if (i < 2) {
				e.attr.st_ino = ino;
				e.attr.st_mode = S_IFDIR;
				name = i == 0 ? "." : "..";
			} else {
				entry = &handle->entries[static_cast<std::size_t>(i - 2)];
				e.attr = toStat(entry->attr);
				name = entry->name.c_str();
				/*
				 * Attributes from the listing alone may even have the wrong type (a
				 * symlink lists as a file), and the kernel fails an inode whose type
				 * changes: ino 0 gives the name without an inode, so a LOOKUP asks.
				 */
				if (!entry->complete) {
					entry = nullptr;
				} else {
					/* What is left of the listing's TTL: the kernel trusts it no longer than we do. */
					double left = std::chrono::duration<double>(entry->validUntil -
										    std::chrono::steady_clock::now())
							      .count();
					e.ino = e.attr.st_ino;
					e.entry_timeout = left > 0 ? left : 0;
					e.attr_timeout = e.entry_timeout;
				}
			}
			std::size_t n = fuse_add_direntry_plus(req, buf.data() + used, size - used, name, &e, i + 1);
			if (n > size - used)
				break;
			used += n;
			if (entry)
				filesystem.addLookup(entry->attr.ino);
		}
		fuse_reply_buf(req, buf.data(), used);
	});
}

void opReleasedir(fuse_req_t req, fuse_ino_t, struct fuse_file_info *fi)
{
	std::unique_ptr<DirHandle> handle(reinterpret_cast<DirHandle *>(fi->fh));
	context(req).filesystem.releaseListing(handle->entries);
	fuse_reply_err(req, 0);
}

void opCreate(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, struct fuse_file_info *fi)
{
	guarded(req, [&] {
		auto r = context(req).filesystem.create(parent, name, mode & 07777, fi->flags, callerOf(req));
		if (failed(req, r))
			return;
		struct fuse_entry_param e {};
		e.ino = r->ino;
		e.attr = toStat(*r);
		e.attr_timeout = timeoutOf(req);
		e.entry_timeout = timeoutOf(req);
		fi->fh = r->ino;
		if (fuse_reply_create(req, &e, fi) != 0)
			(void)context(req).filesystem.release(r->ino);
	});
}

void opOpen(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	guarded(req, [&] {
		auto r = context(req).filesystem.open(ino, fi->flags);
		if (failed(req, r))
			return;
		fi->fh = ino;
		if (fuse_reply_open(req, fi) != 0)
			(void)context(req).filesystem.release(ino);
	});
}

void opRead(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *)
{
	guarded(req, [&] {
		std::unique_ptr<std::byte[]> buf(new std::byte[size]);
		auto r = context(req).filesystem.read(ino, static_cast<std::uint64_t>(off), std::span(buf.get(), size));
		if (!failed(req, r))
			fuse_reply_buf(req, reinterpret_cast<const char *>(buf.get()), *r);
	});
}

void opWrite(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off, struct fuse_file_info *)
{
	guarded(req, [&] {
		auto r = context(req).filesystem.write(ino, static_cast<std::uint64_t>(off),
						       std::as_bytes(std::span(buf, size)));
		if (!failed(req, r))
			fuse_reply_write(req, *r);
	});
}

void opFlush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *)
{
	guarded(req, [&] {
		auto r = context(req).filesystem.flush(ino);
		fuse_reply_err(req, r.ok() ? 0 : r.error().code());
	});
}

void opFsync(fuse_req_t req, fuse_ino_t ino, int, struct fuse_file_info *)
{
	guarded(req, [&] {
		auto r = context(req).filesystem.flush(ino);
		fuse_reply_err(req, r.ok() ? 0 : r.error().code());
	});
}

void opRelease(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *)
{
	guarded(req, [&] {
		auto r = context(req).filesystem.release(ino);
		fuse_reply_err(req, r.ok() ? 0 : r.error().code());
	});
}

/* The size probe (@size 0: how many bytes), ERANGE when @size is too small, else the bytes. */
void replyXattrBytes(fuse_req_t req, const std::string &bytes, size_t size)
{
	if (size == 0)
		fuse_reply_xattr(req, bytes.size());
	else if (size < bytes.size())
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, bytes.data(), bytes.size());
}

void opSetxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value, size_t size, int flags)
{
	guarded(req, [&] {
		fs::XattrFlags mode = fs::XattrFlags::Any;
		if (flags & XATTR_CREATE)
			mode = fs::XattrFlags::Create;
		else if (flags & XATTR_REPLACE)
			mode = fs::XattrFlags::Replace;
		auto r = context(req).filesystem.setxattr(ino, name, std::string_view(value, size), mode);
		fuse_reply_err(req, r.ok() ? 0 : r.error().code());
	});
}

void opGetxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	guarded(req, [&] {
		auto r = context(req).filesystem.getxattr(ino, name);
		if (!failed(req, r))
			replyXattrBytes(req, *r, size);
	});
}

void opListxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	guarded(req, [&] {
		auto r = context(req).filesystem.listxattr(ino);
		if (failed(req, r))
			return;
		std::string names;
		for (const std::string &name : *r) {
			names += name;
			names += '\0';
		}
		replyXattrBytes(req, names, size);
	});
}

void opRemovexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	guarded(req, [&] {
		auto r = context(req).filesystem.removexattr(ino, name);
		fuse_reply_err(req, r.ok() ? 0 : r.error().code());
	});
}

/* Only reached without default_permissions (the session sets it, so the kernel checks itself). */
void opAccess(fuse_req_t req, fuse_ino_t ino, int mask)
{
	guarded(req, [&] {
		gid_t groups[64];
		int count = fuse_req_getgroups(req, 64, groups);
		std::vector<std::uint32_t> list;
		for (int i = 0; i < count && i < 64; ++i)
			list.push_back(groups[i]);
		auto r = context(req).filesystem.access(ino, mask, callerOf(req), list);
		fuse_reply_err(req, r.ok() ? 0 : r.error().code());
	});
}

void opStatfs(fuse_req_t req, fuse_ino_t)
{
	fs::StatFs s = context(req).filesystem.statfs();
	struct statvfs st {};
	st.f_bsize = s.blockSize;
	st.f_frsize = s.blockSize;
	st.f_blocks = s.blocks;
	st.f_bfree = s.blocksFree;
	st.f_bavail = s.blocksFree;
	st.f_files = s.files;
	st.f_ffree = s.filesFree;
	st.f_favail = s.filesFree;
	st.f_namemax = s.nameMax;
	fuse_reply_statfs(req, &st);
}

} /* namespace */

struct stat toStat(const fs::Attr &attr)
{
	struct stat st {};
	st.st_ino = attr.ino;
	st.st_mode = attr.attributes.mode();
	st.st_nlink = attr.nlink;
	st.st_uid = attr.attributes.uid;
	st.st_gid = attr.attributes.gid;
	st.st_size = static_cast<off_t>(attr.attributes.size);
	st.st_blksize = 1 << 20;
	st.st_blocks = static_cast<blkcnt_t>((attr.attributes.size + 511) / 512);
	st.st_atim = toTimespec(attr.attributes.atime);
	st.st_mtim = toTimespec(attr.attributes.mtime);
	st.st_ctim = toTimespec(attr.attributes.ctime);
	return st;
}

const struct fuse_lowlevel_ops &operations()
{
	static const struct fuse_lowlevel_ops ops = [] {
		struct fuse_lowlevel_ops o {};
		o.init = opInit;
		o.lookup = opLookup;
		o.forget = opForget;
		o.forget_multi = opForgetMulti;
		o.getattr = opGetattr;
		o.setattr = opSetattr;
		o.readlink = opReadlink;
		o.mkdir = opMkdir;
		o.unlink = opUnlink;
		o.rmdir = opRmdir;
		o.symlink = opSymlink;
		o.link = opLink;
		o.rename = opRename;
		o.opendir = opOpendir;
		o.readdir = opReaddir;
		o.readdirplus = opReaddirplus;
		o.releasedir = opReleasedir;
		o.statfs = opStatfs;
		o.create = opCreate;
		o.open = opOpen;
		o.read = opRead;
		o.write = opWrite;
		o.flush = opFlush;
		o.fsync = opFsync;
		o.release = opRelease;
		o.setxattr = opSetxattr;
		o.getxattr = opGetxattr;
		o.listxattr = opListxattr;
		o.removexattr = opRemovexattr;
		o.access = opAccess;
		return o;
	}();
	return ops;
}

} /* namespace vfs::fuse */
