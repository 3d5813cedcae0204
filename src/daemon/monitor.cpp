// The systemd side of vfsd's lifecycle: readiness, watchdog, status and stop progress.
#include "daemon/monitor.h"

#include <algorithm>
#include <future>
#include <thread>

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

namespace vfs::daemon {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

struct LivenessProbe::State {
	std::function<bool()> check;
	std::mutex mutex;
	std::condition_variable changed;
	bool requested = false;       /* guarded by mutex */
	bool running = false;         /* guarded by mutex */
	bool passed = false;          /* the last finished check's result; guarded by mutex */
	std::uint64_t finished = 0;   /* checks completed so far; guarded by mutex */
	bool quit = false;            /* guarded by mutex */
};

LivenessProbe::LivenessProbe(std::function<bool()> check)
	: state_(std::make_shared<State>())
{
	state_->check = std::move(check);
	/* Detached and owning its state: a check hung in the kernel cannot hang our exit. */
	std::thread([state = state_] {
		std::unique_lock lock(state->mutex);
		while (true) {
			state->changed.wait(lock, [&] { return state->requested || state->quit; });
			if (state->quit)
				return;
			state->requested = false;
			lock.unlock();
			bool passed = state->check();
			lock.lock();
			state->passed = passed;
			state->running = false;
			++state->finished;
			state->changed.notify_all();
		}
	}).detach();
}

LivenessProbe::~LivenessProbe()
{
	std::lock_guard lock(state_->mutex);
	state_->quit = true;
	state_->changed.notify_all();
}

bool LivenessProbe::check(milliseconds deadline)
{
	std::unique_lock lock(state_->mutex);
	/* A check still running is the one we wait for: starting another would pile them up. */
	if (!state_->running) {
		state_->running = true;
		state_->requested = true;
		state_->changed.notify_all();
	}
	std::uint64_t target = state_->finished + 1;
	if (!state_->changed.wait_for(lock, deadline, [&] { return state_->finished >= target; }))
		return false;
	return state_->passed;
}

ServiceMonitor::ServiceMonitor(NotifySink &sink, LivenessProbe &probe, std::function<StatusFacts()> facts,
			       MonitorOptions options)
	: sink_(sink), probe_(probe), facts_(std::move(facts)), options_(options)
{
	if (options_.watchdogTimeout)
		pingPeriod_ = std::chrono::duration_cast<milliseconds>(watchdogPingPeriod(*options_.watchdogTimeout));
	wakeFd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

ServiceMonitor::~ServiceMonitor()
{
	if (wakeFd_ >= 0)
		close(wakeFd_);
}

void ServiceMonitor::requestStop()
{
	std::uint64_t one = 1;
	/* Stays readable: every later wait sees the stop too. */
	[[maybe_unused]] ssize_t n = write(wakeFd_, &one, sizeof(one));
}

bool ServiceMonitor::waitForStop(milliseconds timeout)
{
	struct pollfd fds[2] = { { wakeFd_, POLLIN, 0 }, { options_.stopFd, POLLIN, 0 } };
	auto until = Clock::now() + timeout;
	while (true) {
		auto left = std::chrono::duration_cast<milliseconds>(until - Clock::now());
		int r = poll(fds, options_.stopFd >= 0 ? 2 : 1, static_cast<int>(std::max<milliseconds::rep>(left.count(), 0)));
		if (r > 0)
			return true;
		if (r == 0 || (r < 0 && errno != EINTR))
			return false;
	}
}

bool ServiceMonitor::stopRequested() const
{
	struct pollfd fds[2] = { { wakeFd_, POLLIN, 0 }, { options_.stopFd, POLLIN, 0 } };
	return poll(fds, options_.stopFd >= 0 ? 2 : 1, 0) > 0;
}

bool ServiceMonitor::announceReady()
{
	/* The probe blocks in the kernel until the FUSE INIT exchange is done and our statfs answered. */
	while (!probe_.check(milliseconds(200))) {
		if (stopRequested())
			return false;
	}
	StatusFacts facts = facts_();
	std::string message = readyMessage(facts);
	lastStatus_ = statusMessage(facts);
	sink_.send(message);
	auto now = Clock::now();
	nextStatus_ = now + options_.statusPeriod;
	nextPing_ = now;
	return true;
}

void ServiceMonitor::pingIfAlive()
{
	/* Half a period at most: a late pass still lands before systemd's deadline. */
	auto deadline = std::max(milliseconds(5), *pingPeriod_ / 2);
	if (probe_.check(deadline))
		sink_.send(kWatchdogMessage);
}

void ServiceMonitor::refreshStatus()
{
	std::string status = statusMessage(facts_());
	if (status == lastStatus_)
		return;
	lastStatus_ = status;
	sink_.send(status);
}

void ServiceMonitor::serve()
{
	while (true) {
		auto next = nextStatus_;
		if (pingPeriod_)
			next = std::min(next, nextPing_);
		auto wait = std::chrono::duration_cast<milliseconds>(next - Clock::now());
		if (waitForStop(std::max(wait, milliseconds(0))))
			return;
		auto now = Clock::now();
		if (pingPeriod_ && now >= nextPing_) {
			pingIfAlive();
			nextPing_ = std::max(nextPing_ + *pingPeriod_, Clock::now());
		}
		if (now >= nextStatus_) {
			refreshStatus();
			nextStatus_ = now + options_.statusPeriod;
		}
	}
}

void ServiceMonitor::announceStopping()
{
	StatusFacts facts = facts_();
	facts.stopping = true;
	lastStatus_ = statusMessage(facts);
	sink_.send(stoppingMessage(facts));
}

Result<std::uint64_t> ServiceMonitor::whileStopping(const std::function<Result<std::uint64_t>()> &work)
{
	auto extension = std::chrono::duration_cast<std::chrono::microseconds>(3 * options_.extendPeriod);
	auto result = std::async(std::launch::async, work);
	auto now = Clock::now();
	auto nextExtend = now;
	nextPing_ = now;
	nextStatus_ = now + options_.statusPeriod;
	while (true) {
		now = Clock::now();
		if (now >= nextExtend) {
			sink_.send(extendTimeoutMessage(extension));
			nextExtend = now + options_.extendPeriod;
		}
		if (pingPeriod_ && now >= nextPing_) {
			pingIfAlive();
			nextPing_ = std::max(nextPing_ + *pingPeriod_, Clock::now());
		}
		if (now >= nextStatus_) {
			StatusFacts facts = facts_();
			facts.stopping = true;
			std::string status = statusMessage(facts);
			if (status != lastStatus_)
				sink_.send(status);
			lastStatus_ = status;
			nextStatus_ = now + options_.statusPeriod;
		}
		auto next = std::min(nextExtend, nextStatus_);
		if (pingPeriod_)
			next = std::min(next, nextPing_);
		if (result.wait_until(next) == std::future_status::ready)
			return result.get();
	}
}

} /* namespace vfs::daemon */
