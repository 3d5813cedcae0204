// The s3fs-compatible attribute codec: POSIX attributes to and from x-amz-meta-* headers.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "fs/object_store.h"

namespace vfs::fs {

/*
 * How s3fs (s3fs-fuse) keeps POSIX attributes in user metadata, which vfs
 * reads and writes the same way so that either can mount the other's
 * bucket. Names below are without the "x-amz-meta-" prefix.
 *
 *  mode   st_mode *including the file type bits*, written in decimal
 *         ("33188" = S_IFREG|0644, "16877" = S_IFDIR|0755, "41471" =
 *         S_IFLNK|0777). s3fs reads it with strtol base 0, so "0100644"
 *         (octal) and "0x81a4" are accepted too.
 *  uid    decimal (read with base 0 as well)
 *  gid    decimal
 *  mtime  seconds since the epoch, decimal; recent s3fs appends
 *  atime  ".nnnnnnnnn" (nine digits of nanoseconds) when they are not
 *  ctime  zero. rclone writes a fraction of any length: read as a decimal.
 *
 * Fallbacks s3fs also reads, and so do we: "permissions", "owner", "group"
 * (s3sync), "goog-reserved-posix-mode" (octal), "goog-reserved-posix-uid",
 * "goog-reserved-posix-gid", "goog-reserved-file-mtime" (Google Cloud
 * Storage). A missing or malformed time falls back to Last-Modified.
 *
 * Symlinks: the object's body is the target; mode has S_IFLNK. Directories:
 * a "dir/" marker object (Content-Type application/x-directory) carries the
 * directory's metadata. An object without a mode (awscli, the console)
 * gets the mount's defaults: 0666 & ~umask for files, 0777 & ~umask for
 * directories, the mount's uid and gid (s3fs itself defaults to 0640/0750
 * and the daemon's own ids; vfs takes the config's umask, uid, gid).
 */

enum class FileType { Regular, Directory, Symlink, Fifo, Socket, CharDevice, BlockDevice };

/* What the mount assumes for attributes an object does not carry. */
struct MountDefaults {
	std::uint32_t uid = 0;
	std::uint32_t gid = 0;
	/* Applied to 0666 (files) and 0777 (directories) when an object has no mode. */
	std::uint32_t umask = 022;
};

struct Attributes {
	FileType type = FileType::Regular;
	std::uint32_t permissions = 0644; /* 07777: rwx bits, setuid, setgid, sticky */
	std::uint32_t uid = 0;
	std::uint32_t gid = 0;
	std::uint64_t size = 0;
	Timestamp mtime;
	Timestamp atime;
	Timestamp ctime;

	/* st_mode: the type bits and the permissions. */
	std::uint32_t mode() const;
};

/* The metadata names (without "x-amz-meta-"), as s3fs writes them. */
inline constexpr std::string_view kMetaMode = "mode";
inline constexpr std::string_view kMetaUid = "uid";
inline constexpr std::string_view kMetaGid = "gid";
inline constexpr std::string_view kMetaMtime = "mtime";
inline constexpr std::string_view kMetaAtime = "atime";
inline constexpr std::string_view kMetaCtime = "ctime";

/* Content-Type of directory markers (s3fs's, and what s3fs recognises). */
inline constexpr std::string_view kDirectoryContentType = "application/x-directory";

/*
 * The attributes of an object from what HEAD returned. @isDirMarker: the
 * key is a directory marker ("dir/", "dir_$folder$") or an implicit
 * directory (no object at all: pass size 0 and no metadata); the result is
 * then a directory whatever the mode's type bits say. Otherwise the type
 * comes from the mode's type bits: an object "dir" whose mode says S_IFDIR
 * is a directory (s3fs before 1.63 made those), S_IFLNK a symlink, no
 * type bits a regular file. Never fails: bad values fall back to defaults.
 */
Attributes fromObject(std::uint64_t size, Timestamp lastModified, const Metadata &metadata, bool isDirMarker,
		      const MountDefaults &defaults);

/*
 * The metadata s3fs writes for @attributes: mode (decimal, type bits
 * included), uid, gid, mtime, atime, ctime. Merge it into an object's other
 * metadata (xattrs, others' keys) to keep those.
 */
Metadata toMetadata(const Attributes &attributes);

/* Overwrites the attribute entries of @metadata, keeping every other entry. */
void storeAttributes(const Attributes &attributes, Metadata &metadata);

/*
 * Extended attributes as s3fs keeps them: one metadata entry "xattr" whose
 * value is the percent-encoding of {"name":"base64(value)",...} (full names
 * such as "user.colour", values base64 with padding, no spaces). s3fs
 * splits that text at ',' and the first ':' and strips the quotes, so a
 * name holding '"', ',' or ':' cannot be stored (xattrNameStorable()).
 */
inline constexpr std::string_view kMetaXattr = "xattr";
using Xattrs = std::map<std::string, std::string>;

/* The "xattr" entry's attributes; malformed pairs are skipped, as s3fs does. */
Xattrs parseXattrs(std::string_view encoded);
/* The "xattr" entry for @xattrs (every name storable). */
std::string formatXattrs(const Xattrs &xattrs);
bool xattrNameStorable(std::string_view name);
/* What S3 counts against its 2 KiB user-metadata limit: every name and value byte. */
std::size_t metadataBytes(const Metadata &metadata);

/* st_mode type bits for @type, and back (nullopt for bits that are no type). */
std::uint32_t typeBits(FileType type);
std::optional<FileType> typeFromBits(std::uint32_t mode);

/* The codec's pieces, exposed for tests. */
/* strtol base 0 syntax (decimal, 0octal, 0xhex), no sign, fits 32 bits. */
std::optional<std::uint32_t> parseNumber(std::string_view text);
/* "1700000000", "1700000000.123456789", "1592834640.5", "-1"; nullopt when malformed or out of range. */
std::optional<Timestamp> parseTime(std::string_view text);
/* Seconds, then ".nnnnnnnnn" when there are nanoseconds (negative times: whole seconds, rounded down). */
std::string formatTime(Timestamp time);

} /* namespace vfs::fs */
