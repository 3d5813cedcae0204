// The D-Bus service of one instance: org.vfs.Vfs1.<instance> serving org.vfs.Vfs1.Mount.
#pragma once

#include <memory>
#include <string>

#include "common/result.h"
#include "control/mount_control.h"

namespace vfs::control {

enum class BusType { System, Session };

/* The D-Bus error names the service answers with (org.vfs.Vfs1(5)). */
inline constexpr const char *kErrorUploadFailed = "org.vfs.Vfs1.Error.UploadFailed";
inline constexpr const char *kErrorShrinkFailed = "org.vfs.Vfs1.Error.ShrinkFailed";
inline constexpr const char *kErrorStopping = "org.vfs.Vfs1.Error.Stopping";
inline constexpr const char *kErrorInternal = "org.vfs.Vfs1.Error.Internal";

/*
 * Serves a MountControl on the bus. The service has two threads of its own:
 * the bus thread runs the event loop (property reads, replies) and is the
 * only one touching the connection once start() returned; the worker runs
 * Flush and Shrink, so a long flush never stalls property reads, and
 * nothing here ever runs on a FUSE thread.
 */
class ControlService
{
public:
	/*
	 * Connects to @bus, publishes the object and owns busNameForInstance(@instance);
	 * returns once the name is owned (a caller may then tell systemd READY=1).
	 * EEXIST if another connection owns the name, EACCES if the bus policy
	 * refuses it, another errno if the bus cannot be reached.
	 */
	static Result<std::unique_ptr<ControlService>> start(MountControl &control, BusType bus,
							      const std::string &instance);
	~ControlService();

	ControlService(const ControlService &) = delete;
	ControlService &operator=(const ControlService &) = delete;

	/*
	 * Lets the running Flush or Shrink finish and answers it, refuses the
	 * queued ones and any new one (org.vfs.Vfs1.Error.Stopping), gives up
	 * the name and joins both threads. Idempotent; the destructor calls it.
	 */
	void stop();

	const std::string &busName() const;

	class Private;

private:
	explicit ControlService(std::unique_ptr<Private> d);
	std::unique_ptr<Private> d_;
};

} /* namespace vfs::control */
