// vfsd's lifecycle: from a validated config to a mounted, serving filesystem and a clean exit.
#pragma once

#include "daemon/config.h"

namespace vfs::daemon {

/* Exit codes scripts and systemd can rely on. */
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1; /* the bucket or the mount could not be reached */
inline constexpr int kExitConfig = 2;  /* bad command line or configuration */

/*
 * Reaches the bucket (HeadBucket: wrong endpoints or credentials fail here,
 * before anything is mounted), detaches a stale mount left by a killed run,
 * mounts and serves until SIGTERM/SIGINT/SIGHUP or an unmount. Tells systemd
 * (when it is there) READY=1 once the mount answers, STATUS=, WATCHDOG=1 while
 * it keeps answering, and STOPPING=1 / EXTEND_TIMEOUT_USEC= while a stop
 * uploads everything (vfsd(8)). Returns the exit code; every failure is one
 * line on stderr.
 */
int runMount(const Config &config);

} /* namespace vfs::daemon */
