// Directory listings: S3 listing pages turned into POSIX directory entries, hostile keys skipped.
#pragma once

#include <functional>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "fs/object_store.h"

namespace vfs::fs {

/*
 * Object: a key in the directory; HEAD tells whether it is a regular file,
 * a symlink or an old-style s3fs "dir" object (attributes.h).
 * Directory: a common prefix "name/", a marker "name/", deeper keys
 * "name/..." (an implicit directory: no marker needed), or "name_$folder$".
 */
enum class EntryType { Object, Directory };

struct DirEntry {
	std::string name;
	EntryType type = EntryType::Object;
	/* Object: its key. Directory: its prefix ("a/b/name/"). */
	std::string key;
	/* Object only, from the listing. */
	std::uint64_t size = 0;
	std::string etag;
	Timestamp lastModified;
};

/* A key or common prefix that does not show in the directory, and why. */
struct SkippedKey {
	std::string key; /* raw bytes, as listed: anything but NUL */
	std::string reason;

	/* One log line, the key escaped: "skipped key 'a//b': empty path component". */
	std::string toString() const;
};
using SkipLog = std::function<void(const SkippedKey &)>;

struct DirectoryOptions {
	/*
	 * Show an object "name_$folder$" (Hadoop s3n/EMR, S3 Organizer, old
	 * s3fs) as the directory "name", and not as a file. s3fs does the same
	 * with its compat_dir option.
	 */
	bool legacyFolderMarkers = true;
};

/*
 * The rules, for listings and for lookups alike:
 *  - A name is shown only if it is a valid POSIX name (isValidName): keys
 *    with an empty component ("a//b"), "." or "..", a component over 255
 *    bytes are skipped and reported to the SkipLog, never shown. A valid
 *    directory whose keys are all skipped shows as empty.
 *  - The directory's own marker (the key equal to the prefix) is not an
 *    entry; hasMarker() says whether it was there.
 *  - A file and a directory with the same name (keys "x" and "x/..."): the
 *    directory wins and the object "x" is reported as shadowed. The
 *    subtree stays reachable, and this is also what an old-style s3fs
 *    "x" directory object next to its "x/..." children should mean.
 *  - Entries have no attributes beyond the listing's; directories get the
 *    mount defaults or their marker's metadata from HEAD.
 */
class DirectoryListing
{
public:
	/* @prefix: "" for the root, else the directory's key prefix ending in '/'. */
	explicit DirectoryListing(std::string prefix, SkipLog log = {}, DirectoryOptions options = {});

	/* Pages must come in listing order, as S3 sends them (with delimiter "/" or none). */
	void addPage(const ListPage &page);

	/*
	 * The entries no later page can change (streaming huge directories),
	 * each once, in name order within a batch but not across batches. A
	 * name can change while keys that would make it a directory may still
	 * come; those stay until a page goes past them.
	 */
	std::vector<DirEntry> takeReady();

	/* After the last page: every entry not taken yet, in name order. */
	std::vector<DirEntry> finish();

	bool hasMarker() const { return hasMarker_; }

private:
	void addObject(const ListedObject &object);
	void addPrefix(const std::string &commonPrefix);
	void addDirectory(std::string name, const std::string &sourceKey);
	void skip(const std::string &key, std::string reason);
	/* Whether the listing has gone past every key that could still make @name a directory. */
	bool settled(const std::string &name) const;

	std::string prefix_;
	SkipLog log_;
	DirectoryOptions options_;
	std::map<std::string, DirEntry> pending_;
	/* Directories already taken that later keys may repeat; dropped once settled. */
	std::set<std::string> takenDirectories_;
	/* The greatest key or prefix listed so far. */
	std::string highWater_;
	bool hasMarker_ = false;
};

/* The reason @name cannot be a directory entry, or "" if it can. */
std::string_view invalidNameReason(std::string_view name);

struct DirectoryContents {
	std::vector<DirEntry> entries; /* in name order */
	bool hasMarker = false;        /* the directory's own "prefix/" marker exists */
};

/*
 * Lists the directory at @prefix, every page (@pageSize keys each).
 * EIO if the store's pages do not advance (the same token again).
 */
Result<DirectoryContents> listDirectory(ObjectStore &store, const std::string &prefix, const SkipLog &log = {},
					DirectoryOptions options = {}, unsigned pageSize = 1000);

/* Lists a directory batch by batch, fetching pages as they are needed. */
class DirectoryReader
{
public:
	DirectoryReader(ObjectStore &store, std::string prefix, SkipLog log = {}, DirectoryOptions options = {},
			unsigned pageSize = 1000);

	/* The next entries (never empty unless done()); an error leaves the reader able to retry. */
	Result<std::vector<DirEntry>> next();
	bool done() const { return done_; }
	bool hasMarker() const { return listing_.hasMarker(); }

private:
	ObjectStore &store_;
	std::string prefix_;
	unsigned pageSize_;
	DirectoryListing listing_;
	std::string token_;
	bool done_ = false;
};

} /* namespace vfs::fs */
