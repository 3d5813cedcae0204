// Jobs run while they are still being found, on threads started as work arrives, up to a bound.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

namespace vfs::fs {

/*
 * A producer push()es jobs while it is still finding more (a listing's
 * HEADs while its next page loads); up to @width threads run them. A
 * thread starts only when a job finds no idle one, so a handful of jobs
 * costs a handful of threads. finish() waits for every job; if no thread
 * could be started, the caller runs them itself. Not reusable after
 * finish() or cancel(). push() and the job function may run concurrently;
 * finish() and cancel() belong to the producer.
 */
template<typename Job>
class WorkQueue
{
public:
	WorkQueue(unsigned width, std::function<void(Job &)> run) : width_(width), run_(std::move(run)) {}
	~WorkQueue() { cancel(); }

	WorkQueue(const WorkQueue &) = delete;
	WorkQueue &operator=(const WorkQueue &) = delete;

	void push(Job job)
	{
		{
			std::lock_guard lock(mutex_);
			jobs_.push_back(std::move(job));
			if (jobs_.size() > idle_ && threads_.size() < width_) {
				try {
					threads_.emplace_back([this] { work(); });
				} catch (const std::system_error &) {
					/* No more threads to be had: the ones running (or finish()) do the work. */
					width_ = static_cast<unsigned>(threads_.size());
				}
			}
		}
		ready_.notify_one();
	}

	/* No more jobs: returns once every job pushed has run. */
	void finish() { stop(false); }
	/* Drops the jobs not started yet and waits for the running ones. */
	void cancel() { stop(true); }

	/* Threads started so far (for tests). */
	std::size_t threads() const
	{
		std::lock_guard lock(mutex_);
		return threads_.size();
	}

private:
	void work()
	{
		std::unique_lock lock(mutex_);
		for (;;) {
			if (!jobs_.empty()) {
				Job job = std::move(jobs_.front());
				jobs_.pop_front();
				lock.unlock();
				run_(job);
				lock.lock();
				continue;
			}
			if (closed_)
				return;
			++idle_;
			ready_.wait(lock);
			--idle_;
		}
	}

	void stop(bool dropQueued)
	{
		bool alone;
		{
			std::lock_guard lock(mutex_);
			if (closed_ && threads_.empty())
				return;
			closed_ = true;
			if (dropQueued)
				jobs_.clear();
			alone = threads_.empty();
		}
		ready_.notify_all();
		if (alone)
			work();
		/* Only the producer gets here, and push() is over: threads_ no longer changes. */
		for (std::thread &t : threads_)
			t.join();
		std::lock_guard lock(mutex_);
		threads_.clear();
	}

	unsigned width_;
	const std::function<void(Job &)> run_;
	mutable std::mutex mutex_;
	std::condition_variable ready_;
	std::deque<Job> jobs_;            /* guarded by mutex_ */
	std::vector<std::thread> threads_; /* guarded by mutex_ (joined by the producer alone) */
	std::size_t idle_ = 0;             /* threads waiting for a job; guarded by mutex_ */
	bool closed_ = false;              /* guarded by mutex_ */
};

} /* namespace vfs::fs */
