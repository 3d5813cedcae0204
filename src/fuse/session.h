// A mounted FUSE low-level session: mount, the multi-threaded loop, clean exit and unmount.
#pragma once

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>

#include <atomic>
#include <memory>
#include <string>

#include "common/result.h"

namespace vfs::fuse {

struct SessionOptions {
	std::string mountpoint;
	/* Shown in /proc/mounts as "fsname type": e.g. "vfs:photos fuse.vfs". */
	std::string fsname = "vfs";
	std::string subtype = "vfs";
	bool allowOther = false;
	bool readOnly = false;
	/* Largest write the kernel sends in one request (it is also what reads may get). */
	unsigned maxWrite = 1u << 20;
	/* Worker threads at most; idle ones beyond maxIdleThreads exit. */
	unsigned maxThreads = 16;
	unsigned maxIdleThreads = 4;
};

/*
 * Sets what vfsd and the benchmark's null filesystem both ask of the kernel:
 * large writes, async reads, parallel directory operations. Call from the
 * init callback.
 */
void tuneConnection(struct fuse_conn_info *conn, const SessionOptions &options);

/*
 * If @mountpoint is a dead FUSE mount left by a killed daemon ("Transport
 * endpoint is not connected"), detaches it. Returns whether it did. Any
 * other state is left alone.
 */
Result<bool> cleanStaleMount(const std::string &mountpoint);

/*
 * One mounted session. run() serves requests until exit() is called (from any
 * thread or a signal handler), the filesystem is unmounted from outside
 * (fusermount3 -u, umount), or a fatal error; the destructor unmounts.
 */
class Session
{
public:
	static Result<std::unique_ptr<Session>> mount(const struct fuse_lowlevel_ops &ops, void *userdata,
						      const SessionOptions &options);
	~Session();

	Session(const Session &) = delete;
	Session &operator=(const Session &) = delete;

	/* Blocks serving requests; returns an error only if the loop failed. */
	Result<void> run();
	/* Makes run() return soon. Async-signal-safe. */
	void exit();
	/* The fd of /dev/fuse, for liveness checks. */
	int fd() const;
	/*
	 * SIGTERM, SIGINT and SIGHUP end the loop (libfuse's handlers: they
	 * interrupt the workers' reads of /dev/fuse); SIGPIPE is ignored.
	 */
	bool installSignalHandlers();
	const SessionOptions &options() const { return options_; }

private:
	Session(struct fuse_session *se, SessionOptions options);

	struct fuse_session *se_;
	SessionOptions options_;
	bool mounted_ = false;
	bool signalHandlers_ = false;
};

} /* namespace vfs::fuse */
