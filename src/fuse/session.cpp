// A mounted FUSE low-level session.
#include "fuse/session.h"

#include <cerrno>
#include <cstring>
#include <vector>

#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace vfs::fuse {

void tuneConnection(struct fuse_conn_info *conn, const SessionOptions &options)
{
	conn->max_write = options.maxWrite;
	conn->max_readahead = conn->max_readahead < options.maxWrite ? conn->max_readahead : options.maxWrite;
	conn->max_background = 64;
	conn->congestion_threshold = 48;
	if (conn->capable & FUSE_CAP_ASYNC_READ)
		conn->want |= FUSE_CAP_ASYNC_READ;
	if (conn->capable & FUSE_CAP_PARALLEL_DIROPS)
		conn->want |= FUSE_CAP_PARALLEL_DIROPS;
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	/* Writes arrive as the application made them, not page by page through a cache. */
	conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
}

Result<bool> cleanStaleMount(const std::string &mountpoint)
{
	struct stat st;
	if (stat(mountpoint.c_str(), &st) == 0 || errno != ENOTCONN)
		return false;

	/* root can detach directly; others go through the setuid helper. */
	if (umount2(mountpoint.c_str(), MNT_DETACH) == 0)
		return true;
	int umountErrno = errno;

	pid_t pid = fork();
	if (pid < 0)
		return Error(errno, "cannot run fusermount3");
	if (pid == 0) {
		execlp("fusermount3", "fusermount3", "-u", "-z", "-q", "--", mountpoint.c_str(), nullptr);
		_exit(127);
	}
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return true;
	return Error(umountErrno, "cannot detach the stale mount at " + mountpoint);
}

Session::Session(struct fuse_session *se, SessionOptions options)
	: se_(se), options_(std::move(options))
{
}

Result<std::unique_ptr<Session>> Session::mount(const struct fuse_lowlevel_ops &ops, void *userdata,
						 const SessionOptions &options)
{
	std::vector<std::string> argStrings = { "vfs", "-o", "default_permissions",
						 "-o", "fsname=" + options.fsname, "-o", "subtype=" + options.subtype };
	if (options.allowOther)
		argStrings.insert(argStrings.end(), { "-o", "allow_other" });
	if (options.readOnly)
		argStrings.insert(argStrings.end(), { "-o", "ro" });
	std::vector<char *> argv;
	for (std::string &s : argStrings)
		argv.push_back(s.data());
	struct fuse_args args = FUSE_ARGS_INIT(static_cast<int>(argv.size()), argv.data());

	struct fuse_session *se = fuse_session_new(&args, &ops, sizeof(ops), userdata);
	fuse_opt_free_args(&args);
	if (!se)
		return Error(EINVAL, "cannot create the FUSE session");

	std::unique_ptr<Session> session(new Session(se, options));
	if (fuse_session_mount(se, options.mountpoint.c_str()) != 0)
		return Error(EIO, "cannot mount on " + options.mountpoint +
					  " (does it exist, and may this user mount there?)");
	session->mounted_ = true;
	return session;
}

Session::~Session()
{
	if (signalHandlers_)
		fuse_remove_signal_handlers(se_);
	if (mounted_)
		fuse_session_unmount(se_);
	fuse_session_destroy(se_);
}

Result<void> Session::run()
{
	struct fuse_loop_config *config = fuse_loop_cfg_create();
	fuse_loop_cfg_set_max_threads(config, options_.maxThreads);
	fuse_loop_cfg_set_idle_threads(config, options_.maxIdleThreads);
	int r = fuse_session_loop_mt(se_, config);
	fuse_loop_cfg_destroy(config);
	/* A positive value is the signal that ended the loop: a normal exit. */
	if (r < 0)
		return Error(-r, "the FUSE loop failed");
	return {};
}

void Session::exit()
{
	fuse_session_exit(se_);
}

int Session::fd() const
{
	return fuse_session_fd(se_);
}

bool Session::installSignalHandlers()
{
	signalHandlers_ = fuse_set_signal_handlers(se_) == 0;
	return signalHandlers_;
}

} /* namespace vfs::fuse */
