// A writer-preferring reader-writer lock.
#include "common/rw_lock.h"

namespace vfs {

RwLock::RwLock()
{
	pthread_rwlockattr_t attr;
	pthread_rwlockattr_init(&attr);
	pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&lock_, &attr);
	pthread_rwlockattr_destroy(&attr);
}

RwLock::~RwLock()
{
	pthread_rwlock_destroy(&lock_);
}

} /* namespace vfs */
