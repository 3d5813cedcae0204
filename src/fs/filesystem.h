// The filesystem's semantics over a bucket: inodes, names, attributes, directories (no FUSE types).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/result.h"
#include "common/rw_lock.h"
#include "fs/attributes.h"
#include "fs/directory.h"
#include "fs/file_data.h"
#include "fs/object_store.h"

namespace vfs::fs {

using Ino = std::uint64_t;
inline constexpr Ino kRootIno = 1;

struct FilesystemOptions {
	MountDefaults defaults;
	/* How open files keep and upload their data. */
	FileDataConfig fileData;
	/* How long the kernel (and we) may trust attributes and names. */
	std::chrono::milliseconds attrTimeout{ 1000 };
	/* Called for every key a listing skips (invalid names, shadowed objects). */
	SkipLog skipLog;
	/*
	 * Listings carry no user metadata (mode, owner, mtime): readdir() asks
	 * HEAD for the entries it has no fresh attributes for, up to this many
	 * at once, starting while the next page of the listing loads, so `ls -l`
	 * shows stored attributes without one round trip per name. Keep it at
	 * or below the transport's connections. 0: no HEADs (stat() asks later).
	 */
	unsigned listMetadataRequests = 16;
};

/* What stat() shows for an inode. */
struct Attr {
	Ino ino = 0;
	Attributes attributes;
	std::uint32_t nlink = 1;
};

/* The caller of a creating operation: the owner of what it creates. */
struct Caller {
	std::uint32_t uid = 0;
	std::uint32_t gid = 0;
	std::uint32_t umask = 022;
};

struct SetAttrRequest {
	std::optional<std::uint32_t> permissions;
	std::optional<std::uint32_t> uid;
	std::optional<std::uint32_t> gid;
	std::optional<Timestamp> atime;
	std::optional<Timestamp> mtime;
	std::optional<std::uint64_t> size;
};

/* setxattr()'s XATTR_CREATE / XATTR_REPLACE. */
enum class XattrFlags { Any, Create, Replace };

struct Dirent {
	std::string name;
	Attr attr;
	/* False: attributes from the listing only (no HEAD yet); the kernel must not cache them. */
	bool complete = true;
	/* Complete entries: until when the name and attributes may be trusted (the kernel's timeouts). */
	std::chrono::steady_clock::time_point validUntil;
};

/* Upload totals since the mount (vfsd's stop line, D-Bus properties, tests). */
struct FsMetrics {
	std::uint64_t uploadsInFlight = 0; /* files being uploaded right now */
	std::uint64_t flushes = 0;         /* uploads that sent at least one request */
	std::uint64_t flushErrors = 0;     /* uploads that failed (the data stayed dirty) */
	std::uint64_t puts = 0;
	std::uint64_t uploadParts = 0;
	std::uint64_t uploadPartCopies = 0;
	std::uint64_t copyFallbacks = 0;
	std::uint64_t bytesUploaded = 0;   /* body bytes sent by PUT and UploadPart */
	std::uint64_t bytesCopied = 0;     /* bytes made server-side by UploadPartCopy */
	std::uint64_t bytesFetched = 0;    /* base bytes fetched to assemble uploads */
};

struct StatFs {
	std::uint64_t blockSize = 4096;
	std::uint64_t blocks = std::uint64_t(1) << 40; /* S3 has no capacity: show 4 PiB, all free */
	std::uint64_t blocksFree = std::uint64_t(1) << 40;
	std::uint64_t files = std::uint64_t(1) << 32;
	std::uint64_t filesFree = std::uint64_t(1) << 32;
	std::uint32_t nameMax = 255;
};

/*
 * Maps a bucket to a tree of inodes. A regular file or symlink is the object
 * at its path; a directory is its path + "/" as a prefix, with or without a
 * marker object. Inode numbers are handed out on first sight and live until
 * the kernel forgets them. Thread-safe: one mutex guards the inode table,
 * never held across a request to the store.
 */
class Filesystem
{
public:
	Filesystem(ObjectStore &store, pool::BlockPool &pool, FilesystemOptions options);
	~Filesystem();

	Result<Attr> lookup(Ino parent, std::string_view name);
	/* The kernel dropped @count references to @ino. */
	void forget(Ino ino, std::uint64_t count);
	/* The kernel took a reference to @ino without a lookup (an entry of readdirplus). */
	void addLookup(Ino ino);
	Result<Attr> getattr(Ino ino);
	Result<Attr> setattr(Ino ino, const SetAttrRequest &request);
	/*
	 * Lists @dir. Its entries stay known until releaseListing() (an open
	 * directory handle). Within attrTimeout of a listing's end, the next
	 * one of the same directory asks the store nothing (unless names
	 * changed here meanwhile): names and attributes are cached alike.
	 */
	Result<std::vector<Dirent>> readdir(Ino dir);
	/* The directory handle that held @entries is closed: inodes nobody references go. */
	void releaseListing(const std::vector<Dirent> &entries);
	Result<Attr> mkdir(Ino parent, std::string_view name, std::uint32_t permissions, const Caller &caller);
	Result<void> rmdir(Ino parent, std::string_view name);
	Result<void> unlink(Ino parent, std::string_view name);
	Result<Attr> symlink(std::string_view target, Ino parent, std::string_view name, const Caller &caller);
	Result<std::string> readlink(Ino ino);
	/*
	 * A server-side copy then a delete (not atomic: see docs/SEMANTICS.md).
	 * Files and symlinks: one CopyObject. Directories: every key under the
	 * prefix, copied kDirectoryCopies at a time, then deleted in batches;
	 * a failed copy deletes nothing from the source. @noReplace: EEXIST if
	 * @newName exists. POSIX's refusals: ENOTDIR (directory onto a
	 * non-directory), EISDIR (the reverse), ENOTEMPTY (onto a non-empty
	 * directory), EINVAL (a directory into its own subtree).
	 */
	Result<void> rename(Ino parent, std::string_view name, Ino newParent, std::string_view newName,
			    bool noReplace);
	static constexpr unsigned kDirectoryCopies = 8;
	StatFs statfs() const;

	/*
	 * Extended attributes. Only "user." names are stored, in the object's
	 * "xattr" metadata entry as s3fs does (see attributes.h); a directory's
	 * live on its marker (an implicit directory gets one). Other namespaces
	 * are answered without a request: EOPNOTSUPP (get, set, remove; ls -l
	 * then stops asking for SELinux labels and ACLs). E2BIG when the object's metadata would pass S3's 2 KiB. On a
	 * file with unsaved data the change rides with the next upload.
	 */
	Result<std::string> getxattr(Ino ino, std::string_view name);
	Result<std::vector<std::string>> listxattr(Ino ino);
	Result<void> setxattr(Ino ino, std::string_view name, std::string_view value, XattrFlags flags);
	Result<void> removexattr(Ino ino, std::string_view name);

	/* The kernel's check of @mask (R_OK, W_OK, X_OK; 0 = exists) against the mode bits, for @caller. */
	Result<void> access(Ino ino, int mask, const Caller &caller, std::span<const std::uint32_t> groups = {});

	/*
	 * Regular files. A file's data lives in a FileData from the first open
	 * to the last release (longer if an upload failed: the data is kept for
	 * a later flush). create() sends nothing: the object appears at the
	 * first flush() (close) or fsync(), which return once S3 holds the
	 * contents, or fail with the store's errno keeping every byte. Until
	 * then the name shows in this mount only (lookup, readdir, stat).
	 */
	Result<Attr> create(Ino parent, std::string_view name, std::uint32_t permissions, int flags,
			    const Caller &caller);
	Result<void> open(Ino ino, int flags);
	Result<std::size_t> read(Ino ino, std::uint64_t offset, std::span<std::byte> into);
	Result<std::size_t> write(Ino ino, std::uint64_t offset, std::span<const std::byte> bytes);
	Result<void> flush(Ino ino);
	Result<void> release(Ino ino);
	/* Uploads every file with unsaved data; returns the bytes sent (D-Bus Flush, stop). */
	Result<std::uint64_t> flushAll();
	/* From now on, opening or creating a file for writing fails with EROFS (vfsd is stopping). */
	void refuseWrites() { refuseWrites_ = true; }

	const FilesystemOptions &options() const { return options_; }
	/* Inodes currently known (for tests and metrics). */
	std::size_t inodeCount() const;
	FsMetrics metrics() const;

private:
	struct Node {
		Ino ino = 0;
		Ino parent = 0;
		std::string name;
		/* Files: the object key. Directories: the prefix ("" for the root, else "a/b/"). */
		std::string key;
		Attributes attributes;
		std::string etag;
		bool dirMarker = false; /* directories: a marker object exists */
		Metadata metadata;      /* objects: user metadata as last seen, kept on rewrite */
		std::shared_ptr<FileData> data; /* while open, or holding unsaved data */
		unsigned opens = 0;
		/* Unlinked or renamed over while open: lives on from memory, never uploaded again. */
		bool orphaned = false;
		/* Created here and not uploaded yet: S3 has no object of it, only this mount knows the name. */
		bool local = false;
		/*
		 * Directories: bumped by each change of ours to the names in it, and
		 * when a lookup finds a name appear or go (see DirNames, CachedListing).
		 */
		std::uint64_t nameChanges = 0;
		/* Shared by writes and truncates, exclusive while an unlink pulls the contents in. */
		std::shared_ptr<RwLock> writeGate = std::make_shared<RwLock>();
		std::uint64_t lookups = 0;
		unsigned listings = 0; /* open directory handles (and cached listings) naming this inode */
		std::chrono::steady_clock::time_point fresh;
	};

	/* A directory's last listing, reused until it expires or a name in it changes here. */
	struct CachedListing {
		std::vector<std::shared_ptr<Node>> entries; /* each counted in its node's listings */
		std::uint64_t nameChanges = 0;               /* the directory's, when the listing started */
		std::uint64_t renames = 0;                   /* renames_, when the listing started */
		std::chrono::steady_clock::time_point validUntil;
	};
	/* All cached listings together keep at most this many entries (and their inodes). */
	static constexpr std::size_t kMaxCachedEntries = std::size_t(1) << 18;

	/* The negative cache's bound: past it, expired entries go, then all. */
	static constexpr std::size_t kMaxAbsentNames = 4096;

	/*
	 * The names in a directory as a complete listing showed them (or none,
	 * for a directory our mkdir made), kept up to date with our own
	 * creates, unlinks and renames in it: a name not in it is absent
	 * without asking the store, until @until (the TTL, as for any name).
	 * A listing is kept only if nothing of ours changed the directory
	 * while it ran (Node::nameChanges), with our files not uploaded yet
	 * added. Renewed by one LIST when the directory fits in one page.
	 */
	struct DirNames {
		std::set<std::string, std::less<>> names;
		std::chrono::steady_clock::time_point until;
		bool onePage = true; /* the directory fits in one LIST page: one LIST renews this */
		bool renewing = false; /* a renewing LIST is on its way (others probe meanwhile) */
	};
	/* Bounds: a larger directory keeps no names; past the total, expired ones go, then the others. */
	static constexpr std::size_t kMaxDirNames = 4096;
	static constexpr std::size_t kMaxHeldNames = 65536;
	/* What one LIST page holds (S3's maximum), and what a renewing LIST asks for. */
	static constexpr unsigned kListPage = 1000;
	enum class NameState { Unknown, Absent, Present };

	static bool isDir(const Node &n) { return n.attributes.type == FileType::Directory; }
	/* Whether anything still needs inode @n: the kernel, an open listing, or unsaved data. */
	static bool referenced(const Node &n) { return n.lookups > 0 || n.listings > 0 || n.data; }
	/* Forgets @ino (and its name) if nothing references it. Needs mutex_. */
	void dropIfUnreferenced(Ino ino);
	Result<std::shared_ptr<Node>> node(Ino ino) const;
	/* The child's key under @parent: "a/b/" + name (+ "/" for a directory prefix). */
	static std::string childKey(const Node &parent, std::string_view name);
	/* childKey() after checking the name, that @parent is a directory, and S3's key length. */
	Result<std::string> childKeyOf(Ino parent, std::string_view name) const;
	/*
	 * Asks the store what @key is: an object, a directory (marker or
	 * implied), or nothing. The LIST and the HEAD go out together.
	 */
	Result<std::optional<Node>> probe(const std::string &fileKey);
	/*
	 * Records @probed as the child @name of @parent (reusing its inode if
	 * known). @made: we just made the name (create, mkdir, symlink), not
	 * merely found it.
	 */
	std::shared_ptr<Node> remember(Ino parent, std::string_view name, Node probed, bool countLookup,
				       bool made = false);
	/* Adds @dir's files not uploaded yet that the listing @out lacks, counted as listed. Needs mutex_. */
	void addLocalEntriesLocked(Ino dir, std::vector<Dirent> &out, std::vector<std::shared_ptr<Node>> &nodes);
	/* The node for listed entry @e of @dir, counted as listed: the known one if of the same kind, else a new one. */
	std::shared_ptr<Node> listed(Ino dir, const DirEntry &e);
	/* The known child @name of @parent, if it is (still) of the same kind. */
	std::shared_ptr<Node> known(Ino parent, std::string_view name, bool directory) const;
	void dropChild(Ino parent, std::string_view name);
	void dropChildLocked(Ino parent, std::string_view name);
	/* Our not yet uploaded file @name in @parent, if there is one. Needs mutex_. */
	std::shared_ptr<Node> localChildLocked(Ino parent, std::string_view name) const;
	/* Whether @dir holds a file of ours not uploaded yet. Needs mutex_. */
	bool hasLocalChildLocked(Ino dir) const;
	/* Sets @n's local flag, keeping localFiles_. Needs mutex_. */
	void setLocalLocked(Node &n, bool local);
	/*
	 * The directory names (DirNames). Locked ones need mutex_.
	 * noteNameLocked: @name now exists in @dir (or not); @ours: our own
	 * change (a listing running meanwhile is not kept), else something we saw.
	 */
	NameState nameStateLocked(Ino dir, std::string_view name) const;
	void noteNameLocked(Ino dir, std::string_view name, bool exists, bool ours);
	/* Keeps @names as @dir's, unless our changes since @changes make them stale; our local files join. */
	void keepNamesLocked(Ino dir, std::uint64_t changes, std::set<std::string, std::less<>> names, bool onePage);
	void dropNamesLocked(Ino dir);
	/* Lists @dir again (one page) if its names were known and fit in one; false if that could not be done. */
	bool renewNames(Ino dir);
	/*
	 * The negative cache: a lookup that found nothing makes (parent, name)
	 * known absent for attrTimeout, so that the create that usually follows
	 * asks the store nothing before its PUT. Anything of ours that may make
	 * the name exist (create, mkdir, symlink, rename, a listing showing it)
	 * forgets it. Needs mutex_ (the Locked ones) or takes it.
	 */
	/* Not recorded if a name may have appeared since @generation (a create racing the probe). */
	void noteAbsent(Ino parent, std::string_view name, std::uint64_t generation);
	void noteAbsentLocked(Ino parent, std::string_view name, std::uint64_t generation);
	std::uint64_t namesGeneration() const;
	bool knownAbsent(Ino parent, std::string_view name) const;
	void forgetAbsentLocked(Ino parent, std::string_view name);
	Result<bool> directoryEmpty(const std::string &prefix);
	/* HEADs listed node @n's object (a directory's marker) and records it; false if that failed. */
	bool fetchMetadata(const std::shared_ptr<Node> &n);
	/* Names in directory @dir changed (its nameChanges): listings of it are stale. Needs mutex_. */
	void namesChangedLocked(Ino dir);
	/* Drops the cached listings that expired, and the oldest until @room more entries fit. Needs mutex_. */
	void sweepListingsLocked(std::size_t room);
	void releaseCachedLocked(CachedListing &listing);
	using MetadataEdit = std::function<Result<void>(Metadata &)>;
	/* Rewrites @n's metadata: the stored entries, @edit applied, then @n's attributes. */
	Result<void> storeMetadata(Node &n, const MetadataEdit &edit = {});
	/* @ino's xattrs as last stored (all namespaces s3fs may have written). */
	Result<Xattrs> xattrsOf(Ino ino);
	/* Applies @edit to @ino's xattrs, stored now or with the pending upload. */
	Result<void> editXattrs(Ino ino, const std::function<Result<void>(Xattrs &)> &edit);
	/* Before @n's object goes away while open: every byte into the pool (ENOBUFS if it cannot hold them). */
	Result<void> keepContents(const std::shared_ptr<Node> &n);
	/* Opens @data's streaming upload if whole parts wait for one, with @n's metadata as of now. */
	void startStream(Node &n, FileData &data);
	/* After @n's object went away: open, it lives on from memory; closed, its unsaved data is dropped. */
	void retire(const std::shared_ptr<Node> &n);
	Result<void> moveDirectory(Ino parent, std::string_view name, Ino newParent, std::string_view newName,
				   const Node &source, const std::string &to, bool replacing);
	/* A node for a new child @name of @parent: EEXIST if the name is taken, without counting a lookup. */
	Result<Node> newChild(Ino parent, std::string_view name, FileType type, std::uint32_t permissions,
			      const Caller &caller);
	/* The FileData of regular file @n, made on first use. */
	Result<std::shared_ptr<FileData>> fileData(const std::shared_ptr<Node> &n);
	Result<std::shared_ptr<FileData>> fileDataLocked(Node &n); /* mutex_ held */
	/* Inode @ino and its FileData under one lock: every FUSE read and write asks. */
	Result<std::pair<std::shared_ptr<Node>, std::shared_ptr<FileData>>> fileOf(Ino ino);
	Result<std::uint64_t> upload(const std::shared_ptr<Node> &n);

	ObjectStore &store_;
	pool::BlockPool &pool_;
	FilesystemOptions options_;
	std::atomic<bool> refuseWrites_ = false;

	/*
	 * Lock order: a Node's writeGate, then FileData's locks; mutex_ is never
	 * held while either is taken for I/O.
	 */
	mutable std::mutex metricsMutex_; /* a leaf: nothing is locked under it */
	FsMetrics metrics_;               /* guarded by metricsMutex_ */

	mutable std::mutex mutex_;
	Ino nextIno_ = kRootIno + 1;                                     /* guarded by mutex_ */
	std::unordered_map<Ino, std::shared_ptr<Node>> nodes_;           /* guarded by mutex_ */
	std::map<std::pair<Ino, std::string>, Ino, std::less<>> children_; /* guarded by mutex_ */
	/* (parent, name) -> until when the name is known absent; guarded by mutex_ */
	std::map<std::pair<Ino, std::string>, std::chrono::steady_clock::time_point, std::less<>> absent_;
	std::uint64_t namesGeneration_ = 0; /* bumped whenever a name may appear; guarded by mutex_ */
	std::unordered_map<Ino, DirNames> dirNames_; /* guarded by mutex_ */
	std::size_t namesHeld_ = 0;                  /* names in dirNames_; guarded by mutex_ */
	std::size_t localFiles_ = 0;                 /* nodes with local set; guarded by mutex_ */
	std::unordered_map<Ino, CachedListing> cachedListings_; /* by directory; guarded by mutex_ */
	std::size_t cachedEntries_ = 0;                         /* in cachedListings_; guarded by mutex_ */
	/* (validUntil, directory) of each listing cached, oldest first; guarded by mutex_. */
	std::deque<std::pair<std::chrono::steady_clock::time_point, Ino>> cacheOrder_;
	/* Bumped by every rename: a moved directory changes keys below it. Guarded by mutex_. */
	std::uint64_t renames_ = 0;
};

} /* namespace vfs::fs */
