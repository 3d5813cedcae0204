// vfsd's lifecycle: config to a mounted, serving filesystem and a clean exit.
#include "daemon/mount.h"

#include <algorithm>
#include <cstdio>
#include <memory>
#include <optional>
#include <thread>

#include <csignal>
#include <linux/magic.h>
#include <sys/signalfd.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "control/control_service.h"
#include "daemon/daemon_control.h"
#include "daemon/monitor.h"
#include "daemon/notify.h"

#include "fs/filesystem.h"
#include "fs/s3_object_store.h"
#include "fuse/adapter.h"
#include "pool/block_pool.h"
#include "s3/client.h"
#include "s3/curl_transport.h"

namespace vfs::daemon {

namespace {

void say(const std::string &line)
{
	std::fprintf(stderr, "vfsd: %s\n", line.c_str());
}

/*
 * The liveness check: statfs() of our own mountpoint. The kernel never
 * caches it, so it passes only when the FUSE loop received the request and
 * answered; before the INIT exchange it waits, on a dead loop it hangs.
 */
bool mountAnswers(const std::string &mountpoint)
{
	struct statfs st;
	return statfs(mountpoint.c_str(), &st) == 0 && st.f_type == FUSE_SUPER_MAGIC;
}

/*
 * SIGTERM, SIGINT and SIGHUP are blocked in every thread (FUSE workers and
 * upload threads inherit the mask) and read from a signalfd by the lifecycle
 * thread, which stops in order: flush, then unmount.
 */
int blockStopSignals()
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (pthread_sigmask(SIG_BLOCK, &set, nullptr) != 0)
		return -1;
	std::signal(SIGPIPE, SIG_IGN);
	return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

} /* namespace */

int runMount(const Config &config)
{
	s3::CredentialsConfig credentials;
	credentials.accessKeyId = config.accessKeyId;
	credentials.secretAccessKey = config.secretAccessKey;
	credentials.sessionToken = config.sessionToken;
	credentials.credentialsFile = config.credentialsFile;
	credentials.profile = config.profile;
	credentials.useImds = config.useImds;
	s3::CredentialChain chain(credentials, s3::CredentialsEnvironment::process());

	s3::CurlTransportConfig transportConfig;
	transportConfig.maxConnections = config.maxConnections;
	transportConfig.caBundle = config.caBundle;
	auto transport = s3::CurlTransport::create(transportConfig);
	if (!transport) {
		say("cannot set up HTTP: " + transport.error().toString());
		return kExitFailure;
	}

	auto endpoint = s3::Endpoint::resolve({ config.bucket, config.region, config.endpoint, config.pathStyle });
	if (!endpoint) {
		say(endpoint.error().message());
		return kExitConfig;
	}

	s3::ClientOptions clientOptions;
	clientOptions.unsignedPayload = config.unsignedPayload;
	s3::S3Client client(*endpoint, chain, **transport, clientOptions);
	fs::S3ObjectStore store(client);

	/* Nothing is mounted until the bucket answers. */
	auto reached = store.checkBucket();
	if (!reached) {
		/* HEAD answers carry no body; a one-key listing names S3's reason (SignatureDoesNotMatch, ...). */
		std::string why = reached.error().toString();
		if (reached.error().code() == EACCES || reached.error().code() == ENODEV) {
			fs::ListRequest probe;
			probe.maxKeys = 1;
			auto listed = store.list(probe);
			if (!listed)
				why = listed.error().toString();
		}
		say("cannot reach bucket '" + config.bucket + "' at " + endpoint->scheme() + "://" +
		    endpoint->host() + ": " + why);
		return kExitFailure;
	}

	fs::FilesystemOptions options;
	options.defaults.uid = config.uid.value_or(getuid());
	options.defaults.gid = config.gid.value_or(getgid());
	options.defaults.umask = config.umask;
	options.attrTimeout = config.metadataTtl;
	/* More would only wait for a connection, and hold up every other request meanwhile. */
	options.listMetadataRequests = std::min(config.metadataRequests, config.maxConnections);
	options.skipLog = [](const fs::SkippedKey &k) { say("skipping key: " + k.toString()); };
	options.fileData.bucket = config.bucket;
	options.fileData.partSize = config.partSize;
	options.fileData.readaheadMax = config.readahead;
	options.fileData.readThreads = config.readThreads;
	options.fileData.uploadThreads = config.uploadThreads;
	options.fileData.streamUploads = config.streamUploads;
	pool::BlockPool pool(pool::PoolConfig{ config.chunkSize, config.memoryLimit });
	fs::Filesystem filesystem(store, pool, options);

	fuse::SessionOptions sessionOptions;
	sessionOptions.mountpoint = config.mountpoint;
	sessionOptions.fsname = "vfs:" + config.bucket;
	sessionOptions.allowOther = config.allowOther;
	sessionOptions.readOnly = config.readOnly;
	fuse::AdapterContext context{ filesystem, sessionOptions };

	auto stale = fuse::cleanStaleMount(config.mountpoint);
	if (!stale) {
		say(stale.error().toString());
		return kExitFailure;
	}
	if (*stale)
		say("detached a stale mount at " + config.mountpoint);

	/* Before any thread exists: until here a signal simply ends us, with nothing mounted yet. */
	int stopFd = blockStopSignals();
	if (stopFd < 0) {
		say("cannot set up signal handling");
		return kExitFailure;
	}
	auto session = fuse::Session::mount(fuse::operations(), &context, sessionOptions);
	if (!session) {
		close(stopFd);
		say(session.error().message());
		return kExitFailure;
	}

	/*
	 * D-Bus: the bus name is owned before "mounted" is said and before
	 * READY=1 (sent by the lifecycle thread below). Started after
	 * blockStopSignals(), so the bus threads inherit the blocked mask and a
	 * SIGTERM cannot land on one of them and kill vfsd unflushed.
	 */
	control::MountInfo info{ config.instance, config.bucket, endpoint->scheme() + "://" + endpoint->host(),
				 config.mountpoint, pool.config().memoryLimit };
	DaemonControl mountControl(info, pool, client, filesystem);
	std::unique_ptr<control::ControlService> service;
	if (config.bus != BusKind::None) {
		auto started = control::ControlService::start(mountControl,
							      config.bus == BusKind::System ? control::BusType::System
											    : control::BusType::Session,
							      config.instance);
		if (!started) {
			close(stopFd);
			say(started.error().toString() + " (bus = none runs without D-Bus)");
			return kExitFailure;
		}
		service = std::move(*started);
		say("serving " + service->busName() + " on the " +
		    (config.bus == BusKind::System ? "system" : "session") + " bus");
	}

	SystemdNotifySink sink;
	LivenessProbe probe([mountpoint = config.mountpoint] { return mountAnswers(mountpoint); });
	MonitorOptions monitorOptions;
	monitorOptions.watchdogTimeout = watchdogTimeout();
	monitorOptions.stopFd = stopFd;
	ServiceMonitor monitor(sink, probe, [&] {
		return StatusFacts{ config.bucket, config.mountpoint, pool.metrics().dirtyBytes,
				    filesystem.metrics().uploadsInFlight, false };
	}, monitorOptions);

	/* Stop, part one, while the loop still serves open files: no new writers, upload everything. */
	std::uint64_t uploaded = 0;
	std::thread lifecycle([&] {
		if (monitor.announceReady())
			monitor.serve();
		monitor.announceStopping();
		/*
		 * Off the bus before the final flush: a running D-Bus Flush finishes
		 * and is answered, later calls are refused, so only this flush is left.
		 */
		if (service)
			service->stop();
		filesystem.refuseWrites();
		auto flushed = monitor.whileStopping([&] { return filesystem.flushAll(); });
		if (flushed)
			uploaded += *flushed;
		else
			say("upload before unmounting failed, retrying once the mount is quiet: " +
			    flushed.error().toString());
		/*
		 * The loop notices the exit flag only when a request arrives: the
		 * probe's statfs is that request. libfuse drops it unanswered, so
		 * it is not waited for; the unmount ends it.
		 */
		(*session)->exit();
		probe.check(std::chrono::milliseconds(0));
	});

	say("mounted bucket '" + config.bucket + "' on " + config.mountpoint);
	auto served = (*session)->run();
	monitor.requestStop();
	lifecycle.join();
	close(stopFd);
	if (!served) {
		say(served.error().toString());
		return kExitFailure;
	}
	/* Stop, part two: what open files wrote since, then the destructor unmounts. */
	auto flushed = monitor.whileStopping([&] { return filesystem.flushAll(); });
	if (!flushed) {
		say("could not upload every file before stopping: " + flushed.error().toString());
		return kExitFailure;
	}
	uploaded += *flushed;
	auto totals = filesystem.metrics();
	say("uploaded " + std::to_string(uploaded) + " bytes at stop; session totals: " +
	    std::to_string(totals.bytesUploaded) + " bytes uploaded, " + std::to_string(totals.bytesCopied) +
	    " bytes copied server-side, " + std::to_string(totals.puts) + " PUTs, " +
	    std::to_string(totals.uploadParts) + " parts, " + std::to_string(totals.uploadPartCopies) +
	    " part copies, " + std::to_string(totals.flushErrors) + " failed uploads, " +
	    std::to_string((*transport)->metrics().requests) + " S3 requests; unmounting " +
	    config.mountpoint);
	return kExitOk;
}

} /* namespace vfs::daemon */
