// A MountControl for tests: set values, scripted results, and a gate to hold a Flush open.
#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>

#include "control/mount_control.h"

namespace vfs::test {

class FakeMountControl : public control::MountControl
{
public:
	control::MountInfo info() const override { return info_; }
	control::MountMetrics metrics() const override
	{
		std::lock_guard lock(mutex_);
		return metrics_;
	}

	Result<std::uint64_t> flush() override
	{
		std::unique_lock lock(mutex_);
		++flushes_;
		inFlush_ = true;
		changed_.notify_all();
		changed_.wait(lock, [&] { return !holdFlush_; });
		inFlush_ = false;
		if (flushError_)
			return *flushError_;
		std::uint64_t sent = metrics_.dirtyBytes;
		metrics_.bytesUploaded += sent;
		metrics_.dirtyBytes = 0;
		return sent;
	}

	Result<std::uint64_t> shrink() override
	{
		std::lock_guard lock(mutex_);
		++shrinks_;
		std::uint64_t released = metrics_.cleanBytes;
		metrics_.poolUsedBytes -= released;
		metrics_.cleanBytes = 0;
		metrics_.cleanBlocks = 0;
		return released;
	}

	void setMetrics(const control::MountMetrics &m)
	{
		std::lock_guard lock(mutex_);
		metrics_ = m;
	}
	void setDirty(std::uint64_t bytes)
	{
		std::lock_guard lock(mutex_);
		metrics_.dirtyBytes = bytes;
	}
	void failFlush(std::optional<Error> error)
	{
		std::lock_guard lock(mutex_);
		flushError_ = std::move(error);
	}
	/* While held, flush() waits (a slow upload). */
	void holdFlush(bool hold)
	{
		std::lock_guard lock(mutex_);
		holdFlush_ = hold;
		changed_.notify_all();
	}
	void waitUntilFlushing()
	{
		std::unique_lock lock(mutex_);
		changed_.wait(lock, [&] { return inFlush_; });
	}
	int flushes() const
	{
		std::lock_guard lock(mutex_);
		return flushes_;
	}
	int shrinks() const
	{
		std::lock_guard lock(mutex_);
		return shrinks_;
	}

	control::MountInfo info_{ "photos", "photo-bucket", "http://127.0.0.1:1", "/mnt/photos", 512u << 20 };

private:
	mutable std::mutex mutex_;
	std::condition_variable changed_;
	control::MountMetrics metrics_;
	std::optional<Error> flushError_;
	bool holdFlush_ = false;
	bool inFlush_ = false;
	int flushes_ = 0;
	int shrinks_ = 0;
};

} /* namespace vfs::test */
