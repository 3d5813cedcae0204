// The D-Bus service of one instance: the bus thread, the worker, and the generated adaptor.
#include "control/control_service.h"

#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <exception>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <systemd/sd-bus.h>

#include "control/bus_name.h"
#include "dbus/mount_adaptor.h"

namespace vfs::control {

namespace {

/* The errno an sdbus::Error stands for (sd-bus maps names like FileExists back to EEXIST). */
int errnoOf(const sdbus::Error &e)
{
	sd_bus_error error = SD_BUS_ERROR_NULL;
	sd_bus_error_set(&error, e.getName().c_str(), e.getMessage().c_str());
	int code = sd_bus_error_get_errno(&error);
	sd_bus_error_free(&error);
	return code > 0 ? code : EIO;
}

Error errorOf(const sdbus::Error &e, const std::string &what)
{
	return Error(errnoOf(e), what + ": " + e.getName() + ": " + e.getMessage());
}

void log(const std::string &line)
{
	std::fprintf(stderr, "vfsd: D-Bus: %s\n", line.c_str());
}

/* Property getters: only sdbus::Error may leave a callback into sd-bus. */
template<typename Fn>
auto guarded(Fn &&fn)
{
	try {
		return fn();
	} catch (const sdbus::Error &) {
		throw;
	} catch (const std::exception &e) {
		throw sdbus::Error(kErrorInternal, e.what());
	}
}

} /* namespace */

class MountAdaptor;

class ControlService::Private
{
public:
	enum class Kind { Flush, Shrink };

	Private(MountControl &control, std::string busName)
		: control_(control), busName_(std::move(busName)) {}
	~Private();

	/* Bus thread: a Flush or Shrink arrived. */
	void submit(Kind kind, sdbus::Result<std::uint64_t> &&result);
	void stop();

	MountControl &control_;
	const std::string busName_;
	std::unique_ptr<sdbus::IConnection> connection_;
	std::unique_ptr<MountAdaptor> adaptor_;
	int wakeFd_ = -1;
	std::thread busThread_;
	std::thread worker_;

private:
	friend class ControlService;

	struct Job {
		std::uint64_t id;
		Kind kind;
	};
	struct Done {
		std::uint64_t id;
		Kind kind;
		Result<std::uint64_t> result;
	};

	void runBus();
	void runWorker();
	void wake();
	/* Bus thread: answers every finished job. */
	void reply();

	/* Bus thread only: the callers waiting for an answer, by job id. */
	std::map<std::uint64_t, sdbus::Result<std::uint64_t>> waiting_;
	std::uint64_t nextId_ = 1;

	std::mutex mutex_;
	std::condition_variable jobReady_;
	std::deque<Job> jobs_;  /* guarded by mutex_ */
	std::deque<Done> done_; /* guarded by mutex_ */
	bool stopping_ = false; /* guarded by mutex_ */
	bool workerDone_ = false; /* guarded by mutex_ */
	bool stopped_ = false;  /* stop() ran (caller's thread only) */
};

/* The generated adaptor, each call forwarded to the service. */
class MountAdaptor final : public sdbus::AdaptorInterfaces<org::vfs::Vfs1::Mount_adaptor>
{
public:
	MountAdaptor(sdbus::IConnection &connection, ControlService::Private &service)
		: AdaptorInterfaces(connection, std::string(kObjectPath)), service_(service),
		  info_(service.control_.info())
	{
		registerAdaptor();
	}
	~MountAdaptor() { unregisterAdaptor(); }

private:
	using Kind = ControlService::Private::Kind;

	void Flush(sdbus::Result<std::uint64_t> &&result) override { service_.submit(Kind::Flush, std::move(result)); }
	void Shrink(sdbus::Result<std::uint64_t> &&result) override { service_.submit(Kind::Shrink, std::move(result)); }

	std::string Instance() override { return info_.instance; }
	std::string Bucket() override { return info_.bucket; }
	std::string Endpoint() override { return info_.endpoint; }
	std::string MountPoint() override { return info_.mountPoint; }
	std::uint64_t PoolLimitBytes() override { return info_.poolLimitBytes; }

	template<typename Field>
	std::uint64_t metric(Field field)
	{
		return guarded([&] { return service_.control_.metrics().*field; });
	}
	std::uint64_t PoolUsedBytes() override { return metric(&MountMetrics::poolUsedBytes); }
	std::uint64_t DirtyBytes() override { return metric(&MountMetrics::dirtyBytes); }
	std::uint64_t CleanBytes() override { return metric(&MountMetrics::cleanBytes); }
	std::uint64_t ReservedBytes() override { return metric(&MountMetrics::reservedBytes); }
	std::uint64_t StagedBytes() override { return metric(&MountMetrics::stagedBytes); }
	std::uint64_t DirtyBlocks() override { return metric(&MountMetrics::dirtyBlocks); }
	std::uint64_t CleanBlocks() override { return metric(&MountMetrics::cleanBlocks); }
	std::uint64_t UploadsInFlight() override { return metric(&MountMetrics::uploadsInFlight); }
	std::uint64_t FlushErrors() override { return metric(&MountMetrics::flushErrors); }
	std::uint64_t BytesUploaded() override { return metric(&MountMetrics::bytesUploaded); }
	std::uint64_t BytesDownloaded() override { return metric(&MountMetrics::bytesDownloaded); }
	std::uint64_t RequestsSent() override { return metric(&MountMetrics::requestsSent); }
	std::uint64_t RequestErrors() override { return metric(&MountMetrics::requestErrors); }

	ControlService::Private &service_;
	const MountInfo info_;
};

ControlService::Private::~Private()
{
	stop();
	adaptor_.reset();
	connection_.reset();
	if (wakeFd_ >= 0)
		close(wakeFd_);
}

void ControlService::Private::wake()
{
	std::uint64_t one = 1;
	/* Only fails if the counter would overflow: the loop is awake then anyway. */
	[[maybe_unused]] ssize_t n = write(wakeFd_, &one, sizeof(one));
}

void ControlService::Private::submit(Kind kind, sdbus::Result<std::uint64_t> &&result)
{
	std::lock_guard lock(mutex_);
	if (stopping_) {
		result.returnError(sdbus::Error(kErrorStopping, "vfsd is stopping"));
		return;
	}
	std::uint64_t id = nextId_++;
	waiting_.emplace(id, std::move(result));
	jobs_.push_back(Job{ id, kind });
	jobReady_.notify_one();
}

void ControlService::Private::runWorker()
{
	for (;;) {
		Job job;
		{
			std::unique_lock lock(mutex_);
			jobReady_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
			if (stopping_) {
				/* Queued jobs never started: their callers hear why. */
				for (const Job &queued : jobs_)
					done_.push_back(Done{ queued.id, queued.kind,
							      Error(ESHUTDOWN, "vfsd is stopping") });
				jobs_.clear();
				workerDone_ = true;
				break;
			}
			job = jobs_.front();
			jobs_.pop_front();
		}

		Result<std::uint64_t> result = Error(EIO, "not run");
		try {
			result = job.kind == Kind::Flush ? control_.flush() : control_.shrink();
		} catch (const std::exception &e) {
			result = Error(EIO, std::string("internal error: ") + e.what());
		}
		{
			std::lock_guard lock(mutex_);
			done_.push_back(Done{ job.id, job.kind, std::move(result) });
		}
		wake();
	}
	wake();
}

void ControlService::Private::reply()
{
	std::deque<Done> done;
	{
		std::lock_guard lock(mutex_);
		done.swap(done_);
	}
	for (Done &d : done) {
		auto it = waiting_.find(d.id);
		if (it == waiting_.end())
			continue;
		try {
			if (d.result) {
				it->second.returnResults(*d.result);
			} else if (d.result.error().code() == ESHUTDOWN) {
				it->second.returnError(sdbus::Error(kErrorStopping, d.result.error().toString()));
			} else {
				const char *name = d.kind == Kind::Flush ? kErrorUploadFailed : kErrorShrinkFailed;
				it->second.returnError(sdbus::Error(name, d.result.error().toString()));
			}
		} catch (const sdbus::Error &e) {
			/* The caller may have left the bus; nothing else to do. */
			log("cannot send a reply: " + e.getMessage());
		}
		waiting_.erase(it);
	}
}

void ControlService::Private::runBus()
{
	for (;;) {
		try {
			while (connection_->processPendingRequest()) {
			}
		} catch (const sdbus::Error &e) {
			log(e.getName() + ": " + e.getMessage());
		}
		reply();
		{
			std::lock_guard lock(mutex_);
			if (workerDone_ && done_.empty())
				break;
		}

		sdbus::IConnection::PollData poll;
		try {
			poll = connection_->getEventLoopPollData();
		} catch (const sdbus::Error &e) {
			log("the bus connection failed: " + e.getMessage());
			break;
		}
		pollfd fds[2] = { { poll.fd, poll.events, 0 }, { wakeFd_, POLLIN, 0 } };
		int r = ::poll(fds, 2, poll.getPollTimeout());
		if (r < 0 && errno != EINTR) {
			log("poll failed");
			break;
		}
		if (fds[1].revents & POLLIN) {
			std::uint64_t count;
			[[maybe_unused]] ssize_t n = read(wakeFd_, &count, sizeof(count));
		}
	}

	/* A broken connection ends the loop early: still answer and drop every caller. */
	reply();
	try {
		connection_->releaseName(busName_);
	} catch (const sdbus::Error &) {
		/* The bus is gone: so is the name. */
	}
	try {
		connection_->processPendingRequest();
	} catch (const sdbus::Error &) {
	}
}

void ControlService::Private::stop()
{
	if (stopped_)
		return;
	stopped_ = true;
	{
		std::lock_guard lock(mutex_);
		stopping_ = true;
	}
	jobReady_.notify_all();
	if (worker_.joinable())
		worker_.join();
	wake();
	if (busThread_.joinable())
		busThread_.join();
}

Result<std::unique_ptr<ControlService>> ControlService::start(MountControl &control, BusType bus,
							       const std::string &instance)
{
	auto name = busNameForInstance(instance);
	if (!name)
		return name.error();
	auto d = std::make_unique<Private>(control, *name);

	d->wakeFd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (d->wakeFd_ < 0)
		return Error(errno, "cannot create an eventfd");

	const char *which = bus == BusType::System ? "system" : "session";
	try {
		d->connection_ = bus == BusType::System ? sdbus::createSystemBusConnection()
							 : sdbus::createSessionBusConnection();
	} catch (const sdbus::Error &e) {
		return errorOf(e, std::string("cannot connect to the ") + which + " bus");
	}
	try {
		d->adaptor_ = std::make_unique<MountAdaptor>(*d->connection_, *d);
	} catch (const sdbus::Error &e) {
		return errorOf(e, "cannot publish " + std::string(kObjectPath));
	}
	try {
		d->connection_->requestName(*name);
	} catch (const sdbus::Error &e) {
		Error error = errorOf(e, "cannot own " + *name + " on the " + which + " bus");
		if (error.code() == EEXIST)
			return Error(EEXIST, "cannot own " + *name + " on the " + which +
					     " bus: another process owns it (is instance '" + instance +
					     "' running already?)");
		return error;
	}

	/* The daemon's signals (SIGTERM ends the FUSE loop) must reach its own threads, not ours. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	d->worker_ = std::thread([p = d.get()] { p->runWorker(); });
	d->busThread_ = std::thread([p = d.get()] { p->runBus(); });
	pthread_sigmask(SIG_SETMASK, &old, nullptr);
	return std::unique_ptr<ControlService>(new ControlService(std::move(d)));
}

ControlService::ControlService(std::unique_ptr<Private> d)
	: d_(std::move(d))
{
}

ControlService::~ControlService() = default;

void ControlService::stop()
{
	d_->stop();
}

const std::string &ControlService::busName() const
{
	return d_->busName_;
}

} /* namespace vfs::control */
