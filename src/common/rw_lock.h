// A reader-writer lock that lets a waiting writer in before new readers.
#pragma once

#include <pthread.h>

namespace vfs {

/*
 * std::shared_mutex on glibc prefers readers: a steady stream of FUSE reads
 * on a block would starve its writers forever. This one queues new readers
 * behind a waiting writer. Meets the SharedMutex requirements, so it works
 * with std::unique_lock and std::shared_lock. Not recursive.
 */
class RwLock
{
public:
	RwLock();
	~RwLock();
	RwLock(const RwLock &) = delete;
	RwLock &operator=(const RwLock &) = delete;

	void lock() { pthread_rwlock_wrlock(&lock_); }
	bool try_lock() { return pthread_rwlock_trywrlock(&lock_) == 0; }
	void unlock() { pthread_rwlock_unlock(&lock_); }
	void lock_shared() { pthread_rwlock_rdlock(&lock_); }
	bool try_lock_shared() { return pthread_rwlock_tryrdlock(&lock_) == 0; }
	void unlock_shared() { pthread_rwlock_unlock(&lock_); }

private:
	pthread_rwlock_t lock_;
};

} /* namespace vfs */
