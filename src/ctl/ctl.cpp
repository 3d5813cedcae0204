// vfsctl's commands over the generated org.vfs.Vfs1.Mount proxy.
#include "ctl/ctl.h"

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <future>
#include <map>
#include <memory>
#include <optional>

#include <sdbus-c++/sdbus-c++.h>

#include "control/bus_name.h"
#include "dbus/mount_proxy.h"
#include "vfs_config.h"

namespace vfs::ctl {

namespace {

constexpr auto kProgressInterval = std::chrono::milliseconds(200);

struct Options {
	bool system = true;
	std::string command;
	std::vector<std::string> operands;
};

/* The generated proxy; calls block on the connection's own thread, no event loop needed. */
class MountProxy final : public sdbus::ProxyInterfaces<org::vfs::Vfs1::Mount_proxy>
{
public:
	MountProxy(sdbus::IConnection &connection, std::string busName)
		: ProxyInterfaces(connection, std::move(busName), std::string(control::kObjectPath))
	{
		registerProxy();
	}
	~MountProxy() { unregisterProxy(); }
};

const char *busWord(const Options &o)
{
	return o.system ? "system" : "session";
}

std::unique_ptr<sdbus::IConnection> connect(const Options &o)
{
	return o.system ? sdbus::createSystemBusConnection() : sdbus::createSessionBusConnection();
}

/* NAME is an instance name, or a bus name as `vfsctl list` and busctl show them. */
std::string busNameOf(const std::string &name)
{
	if (name.starts_with(control::kBusNamePrefix) && control::instanceForBusName(name))
		return name;
	auto busName = control::busNameForInstance(name);
	return busName ? *busName : name;
}

/* Maps a failed call to the exit code and one line on stderr. */
int failed(Terminal &t, const Options &o, const std::string &name, const std::string &what,
	   const sdbus::Error &e)
{
	const std::string &error = e.getName();
	if (error == "org.freedesktop.DBus.Error.ServiceUnknown" ||
	    error == "org.freedesktop.DBus.Error.NameHasNoOwner" ||
	    error == "org.freedesktop.DBus.Error.UnknownObject") {
		t.err << "vfsctl: no instance '" << name << "' on the " << busWord(o)
		      << " bus (vfsctl list shows the running ones)\n";
		return kExitUnreachable;
	}
	if (error == "org.freedesktop.DBus.Error.AccessDenied" ||
	    error == "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired") {
		t.err << "vfsctl: " << what << " " << name << ": permission denied (" << e.getMessage() << ")\n";
		return kExitDenied;
	}
	t.err << "vfsctl: " << what << " " << name << " failed: " << error << ": " << e.getMessage() << "\n";
	return kExitFailed;
}

int unreachable(Terminal &t, const Options &o, const sdbus::Error &e)
{
	t.err << "vfsctl: cannot reach the " << busWord(o) << " bus: " << e.getMessage() << "\n";
	return kExitUnreachable;
}

int list(Terminal &t, const Options &o)
{
	std::unique_ptr<sdbus::IConnection> connection;
	try {
		connection = connect(o);
	} catch (const sdbus::Error &e) {
		return unreachable(t, o, e);
	}
	std::vector<std::string> names;
	try {
		auto dbus = sdbus::createProxy(*connection, "org.freedesktop.DBus", "/org/freedesktop/DBus");
		dbus->callMethod("ListNames").onInterface("org.freedesktop.DBus").storeResultsTo(names);
	} catch (const sdbus::Error &e) {
		return unreachable(t, o, e);
	}
	std::vector<std::string> instances;
	for (const auto &busName : names)
		if (auto instance = control::instanceForBusName(busName))
			instances.push_back(*instance);
	std::sort(instances.begin(), instances.end());
	for (const auto &instance : instances)
		t.out << instance << "\n";
	return kExitOk;
}

using Properties = std::map<std::string, sdbus::Variant>;

std::uint64_t number(const Properties &p, const std::string &key)
{
	auto it = p.find(key);
	if (it == p.end() || it->second.peekValueType() != "t")
		return 0;
	return it->second.get<std::uint64_t>();
}

std::string text(const Properties &p, const std::string &key)
{
	auto it = p.find(key);
	if (it == p.end() || it->second.peekValueType() != "s")
		return "?";
	return it->second.get<std::string>();
}

int status(Terminal &t, const Options &o, const std::string &name)
{
	std::string busName = busNameOf(name);
	std::unique_ptr<sdbus::IConnection> connection;
	try {
		connection = connect(o);
	} catch (const sdbus::Error &e) {
		return unreachable(t, o, e);
	}
	Properties p;
	try {
		auto proxy = sdbus::createProxy(*connection, busName, std::string(control::kObjectPath));
		proxy->callMethod("GetAll")
			.onInterface("org.freedesktop.DBus.Properties")
			.withArguments(std::string(control::kInterface))
			.storeResultsTo(p);
	} catch (const sdbus::Error &e) {
		return failed(t, o, name, "status", e);
	}

	std::uint64_t limit = number(p, "PoolLimitBytes");
	std::uint64_t used = number(p, "PoolUsedBytes");
	char percent[32];
	std::snprintf(percent, sizeof(percent), "%.1f%%", limit ? 100.0 * double(used) / double(limit) : 0.0);
	t.out << text(p, "Instance") << " (" << busName << " on the " << busWord(o) << " bus)\n"
	      << "  Bucket:        " << text(p, "Bucket") << " at " << text(p, "Endpoint") << "\n"
	      << "  Mount point:   " << text(p, "MountPoint") << "\n"
	      << "  Pool:          " << formatBytes(used) << " used of " << formatBytes(limit) << " (" << percent
	      << ")\n"
	      << "  Dirty:         " << formatBytes(number(p, "DirtyBytes")) << " in " << number(p, "DirtyBlocks")
	      << " blocks (" << formatBytes(number(p, "StagedBytes")) << " staged on disk)\n"
	      << "  Clean cache:   " << formatBytes(number(p, "CleanBytes")) << " in " << number(p, "CleanBlocks")
	      << " blocks\n"
	      << "  Reserved:      " << formatBytes(number(p, "ReservedBytes")) << " of address space\n"
	      << "  Uploads:       " << number(p, "UploadsInFlight") << " in flight, " << number(p, "FlushErrors")
	      << " failed\n"
	      << "  Transferred:   " << formatBytes(number(p, "BytesUploaded")) << " up, "
	      << formatBytes(number(p, "BytesDownloaded")) << " down\n"
	      << "  Requests:      " << number(p, "RequestsSent") << " sent, " << number(p, "RequestErrors")
	      << " errors\n";
	return kExitOk;
}

int flush(Terminal &t, const Options &o, const std::string &name)
{
	std::string busName = busNameOf(name);
	std::unique_ptr<sdbus::IConnection> calling, watching;
	try {
		calling = connect(o);
		watching = connect(o);
	} catch (const sdbus::Error &e) {
		return unreachable(t, o, e);
	}
	/* A flush of a large file takes as long as the upload. */
	calling->setMethodCallTimeout(std::chrono::hours(24 * 7));
	MountProxy caller(*calling, busName);
	MountProxy watcher(*watching, busName);

	std::uint64_t dirty = 0;
	std::uint64_t sentBefore = 0;
	try {
		dirty = watcher.DirtyBytes();
		sentBefore = watcher.BytesUploaded();
	} catch (const sdbus::Error &e) {
		return failed(t, o, name, "flush", e);
	}
	auto result = std::async(std::launch::async, [&] { return caller.Flush(); });

	/*
	 * Progress from the second connection while the first waits for the
	 * answer: dirty bytes go down as each file completes, bytes sent go up
	 * part by part within a file.
	 */
	std::string shown;
	bool rewriting = false;
	while (result.wait_for(kProgressInterval) != std::future_status::ready) {
		std::uint64_t inFlight = 0, sent = 0;
		try {
			dirty = watcher.DirtyBytes();
			inFlight = watcher.UploadsInFlight();
			sent = watcher.BytesUploaded() - sentBefore;
		} catch (const sdbus::Error &) {
			continue; /* the answer to Flush says what went wrong */
		}
		std::string line = "flushing " + name + ": " + formatBytes(dirty) + " dirty, " + formatBytes(sent) +
				   " sent, " + std::to_string(inFlight) + (inFlight == 1 ? " file" : " files") +
				   " uploading";
		if (line == shown)
			continue;
		shown = line;
		if (t.errIsTty) {
			t.err << "\r\033[K" << line << std::flush;
			rewriting = true;
		} else {
			t.err << line << "\n" << std::flush;
		}
	}
	if (rewriting)
		t.err << "\r\033[K" << std::flush;

	std::uint64_t sent = 0;
	try {
		sent = result.get();
	} catch (const sdbus::Error &e) {
		int code = failed(t, o, name, "flush", e);
		try {
			t.err << "vfsctl: " << formatBytes(watcher.DirtyBytes()) << " still dirty in " << name << "\n";
		} catch (const sdbus::Error &) {
		}
		return code;
	}
	t.out << "flushed " << name << ": uploaded " << formatBytes(sent) << " (" << sent << " bytes)\n";
	return kExitOk;
}

int shrink(Terminal &t, const Options &o, const std::string &name)
{
	std::string busName = busNameOf(name);
	std::unique_ptr<sdbus::IConnection> connection;
	try {
		connection = connect(o);
	} catch (const sdbus::Error &e) {
		return unreachable(t, o, e);
	}
	MountProxy proxy(*connection, busName);
	try {
		std::uint64_t before = proxy.PoolUsedBytes();
		std::uint64_t released = proxy.Shrink();
		std::uint64_t after = proxy.PoolUsedBytes();
		t.out << "shrunk " << name << ": released " << formatBytes(released) << " (" << released
		      << " bytes); pool " << formatBytes(before) << " -> " << formatBytes(after) << " used\n";
	} catch (const sdbus::Error &e) {
		return failed(t, o, name, "shrink", e);
	}
	return kExitOk;
}

} /* namespace */

std::string usage()
{
	return "Usage: vfsctl [--system|--user] COMMAND [NAME]\n"
	       "Control running vfsd instances over D-Bus (org.vfs.Vfs1(5)).\n"
	       "\n"
	       "Commands:\n"
	       "  list            the instances on the bus, one name a line\n"
	       "  status NAME     bucket, mount point, pool use, dirty data, uploads, requests\n"
	       "  flush NAME      upload every dirty byte now, showing progress (root)\n"
	       "  shrink NAME     release unused pool memory (root)\n"
	       "\n"
	       "NAME is the instance name (vfs@NAME, /etc/vfs/NAME.conf) or its bus name.\n"
	       "\n"
	       "Options:\n"
	       "  --system        talk to the system bus (the default)\n"
	       "  --user          talk to the session bus (vfsd with bus = session)\n"
	       "  --help          show this help\n"
	       "  --version       show the version\n"
	       "\n"
	       "Exit status: 0 done; 1 the operation failed (e.g. S3 refused an upload);\n"
	       "2 usage error; 3 no such instance, or the bus cannot be reached;\n"
	       "4 permission denied by the bus policy.\n";
}

std::string formatBytes(std::uint64_t bytes)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	if (bytes < 1024)
		return std::to_string(bytes) + " B";
	double value = double(bytes) / 1024;
	std::size_t unit = 0;
	while (value >= 1024 && unit + 1 < std::size(units)) {
		value /= 1024;
		++unit;
	}
	char buf[32];
	std::snprintf(buf, sizeof(buf), "%.1f %s", value, units[unit]);
	return buf;
}

int run(const std::vector<std::string> &args, Terminal &terminal)
{
	Options o;
	for (const auto &arg : args) {
		if (arg == "--help" || arg == "-h") {
			terminal.out << usage();
			return kExitOk;
		} else if (arg == "--version") {
			terminal.out << "vfsctl " << VFS_VERSION << "\n";
			return kExitOk;
		} else if (arg == "--system") {
			o.system = true;
		} else if (arg == "--user") {
			o.system = false;
		} else if (arg.starts_with("-")) {
			terminal.err << "vfsctl: unknown option '" << arg << "' (see vfsctl --help)\n";
			return kExitUsage;
		} else if (o.command.empty()) {
			o.command = arg;
		} else {
			o.operands.push_back(arg);
		}
	}

	if (o.command == "list" && o.operands.empty())
		return list(terminal, o);
	const bool named = o.command == "status" || o.command == "flush" || o.command == "shrink";
	if (named && o.operands.size() == 1 && !o.operands[0].empty()) {
		const std::string &name = o.operands[0];
		if (o.command == "status")
			return status(terminal, o, name);
		if (o.command == "flush")
			return flush(terminal, o, name);
		return shrink(terminal, o, name);
	}

	if (o.command.empty())
		terminal.err << "vfsctl: a command is needed (see vfsctl --help)\n";
	else if (o.command == "list" || named)
		terminal.err << "vfsctl: " << o.command << (named ? " takes one NAME" : " takes no NAME")
			     << " (see vfsctl --help)\n";
	else
		terminal.err << "vfsctl: unknown command '" << o.command << "' (see vfsctl --help)\n";
	return kExitUsage;
}

} /* namespace vfs::ctl */
