// The s3fs-compatible attribute codec: parsing with s3fs's fallbacks, writing what s3fs writes.
#include "fs/attributes.h"

#include <charconv>

#include <sys/stat.h>

namespace vfs::fs {

namespace {

using std::chrono::nanoseconds;
using std::chrono::seconds;

/* Seconds a system_clock time_point (nanoseconds, 64 bits) can hold, with margin: ~285 years. */
constexpr std::int64_t kMaxSeconds = 9'000'000'000;

constexpr std::uint32_t kPermissionBits = 07777;

const std::string *find(const Metadata &metadata, std::string_view name)
{
	auto it = metadata.find(std::string(name));
	return it == metadata.end() ? nullptr : &it->second;
}

std::optional<std::uint32_t> parseIn(std::string_view text, int base)
{
	if (text.empty())
		return std::nullopt;
	std::uint32_t v = 0;
	auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v, base);
	if (ec != std::errc() || end != text.data() + text.size())
		return std::nullopt;
	return v;
}

/* The first of @names that is present and parses. */
template<typename Parse>
auto firstValid(const Metadata &metadata, std::initializer_list<std::string_view> names, Parse parse)
	-> decltype(parse(std::string_view()))
{
	for (std::string_view name : names)
		if (const std::string *value = find(metadata, name))
			if (auto parsed = parse(*value))
				return parsed;
	return std::nullopt;
}

std::optional<std::uint32_t> parseOctal(std::string_view text)
{
	return parseIn(text, 8);
}

/* A mode that makes sense: permission bits and at most one known file type. */
std::optional<std::uint32_t> parseMode(std::string_view text)
{
	auto mode = parseNumber(text);
	if (!mode || (*mode & ~(kPermissionBits | S_IFMT)) != 0)
		return std::nullopt;
	if ((*mode & S_IFMT) != 0 && !typeFromBits(*mode))
		return std::nullopt;
	return mode;
}

std::optional<std::uint32_t> parseGcsMode(std::string_view text)
{
	auto mode = parseOctal(text);
	if (!mode || (*mode & ~(kPermissionBits | S_IFMT)) != 0)
		return std::nullopt;
	if ((*mode & S_IFMT) != 0 && !typeFromBits(*mode))
		return std::nullopt;
	return mode;
}

} /* namespace */

std::uint32_t Attributes::mode() const
{
	return typeBits(type) | (permissions & kPermissionBits);
}

std::uint32_t typeBits(FileType type)
{
	switch (type) {
	case FileType::Regular: return S_IFREG;
	case FileType::Directory: return S_IFDIR;
	case FileType::Symlink: return S_IFLNK;
	case FileType::Fifo: return S_IFIFO;
	case FileType::Socket: return S_IFSOCK;
	case FileType::CharDevice: return S_IFCHR;
	case FileType::BlockDevice: return S_IFBLK;
	}
	return S_IFREG;
}

std::optional<FileType> typeFromBits(std::uint32_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG: return FileType::Regular;
	case S_IFDIR: return FileType::Directory;
	case S_IFLNK: return FileType::Symlink;
	case S_IFIFO: return FileType::Fifo;
	case S_IFSOCK: return FileType::Socket;
	case S_IFCHR: return FileType::CharDevice;
	case S_IFBLK: return FileType::BlockDevice;
	default: return std::nullopt;
	}
}

std::optional<std::uint32_t> parseNumber(std::string_view text)
{
	/* strtol's base 0, minus the sign and the blanks s3fs never writes. */
	if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X'))
		return parseIn(text.substr(2), 16);
	if (text.size() > 1 && text[0] == '0')
		return parseIn(text.substr(1), 8);
	return parseIn(text, 10);
}

std::optional<Timestamp> parseTime(std::string_view text)
{
	bool negative = !text.empty() && text.front() == '-';
	if (negative)
		text.remove_prefix(1);
	std::string_view whole = text.substr(0, text.find('.'));
	std::string_view fraction;
	if (whole.size() < text.size()) {
		fraction = text.substr(whole.size() + 1);
		if (fraction.empty())
			return std::nullopt;
	}
	if (whole.empty() || whole.front() < '0' || whole.front() > '9')
		return std::nullopt;
	std::int64_t secs = 0;
	auto [end, ec] = std::from_chars(whole.data(), whole.data() + whole.size(), secs);
	if (ec != std::errc() || end != whole.data() + whole.size() || secs > kMaxSeconds)
		return std::nullopt;

	/* A decimal fraction of a second: nanoseconds are its first nine digits. */
	std::int64_t nanos = 0;
	for (std::size_t i = 0; i < fraction.size(); ++i) {
		char c = fraction[i];
		if (c < '0' || c > '9')
			return std::nullopt;
		if (i < 9)
			nanos = nanos * 10 + (c - '0');
	}
	for (std::size_t i = fraction.size(); i < 9; ++i)
		nanos *= 10;

	nanoseconds total = seconds(secs) + nanoseconds(nanos);
	return Timestamp(std::chrono::duration_cast<Timestamp::duration>(negative ? -total : total));
}

std::string formatTime(Timestamp time)
{
	auto total = std::chrono::duration_cast<nanoseconds>(time.time_since_epoch());
	auto secs = std::chrono::floor<seconds>(total);
	auto nanos = (total - secs).count();
	std::string s = std::to_string(secs.count());
	/* "-2.5" would read as -2.5 s, not -2 s + 0.5 s: negative times keep whole seconds. */
	if (nanos != 0 && secs.count() >= 0) {
		std::string frac = std::to_string(nanos);
		s += "." + std::string(9 - frac.size(), '0') + frac;
	}
	return s;
}

Attributes fromObject(std::uint64_t size, Timestamp lastModified, const Metadata &metadata, bool isDirMarker,
		      const MountDefaults &defaults)
{
	Attributes a;
	a.size = size;

	std::optional<std::uint32_t> mode = firstValid(metadata, { kMetaMode, "permissions" }, parseMode);
	if (!mode)
		mode = firstValid(metadata, { "goog-reserved-posix-mode" }, parseGcsMode);

	if (isDirMarker) {
		/* A "dir/" key can only be a directory here, whatever its mode claims. */
		a.type = FileType::Directory;
		a.permissions = mode ? (*mode & kPermissionBits) : (0777 & ~defaults.umask);
	} else if (mode) {
		a.type = typeFromBits(*mode).value_or(FileType::Regular);
		a.permissions = *mode & kPermissionBits;
	} else {
		a.type = FileType::Regular;
		a.permissions = 0666 & ~defaults.umask;
	}

	a.uid = firstValid(metadata, { kMetaUid, "owner", "goog-reserved-posix-uid" }, parseNumber)
			.value_or(defaults.uid);
	a.gid = firstValid(metadata, { kMetaGid, "group", "goog-reserved-posix-gid" }, parseNumber)
			.value_or(defaults.gid);

	a.mtime = firstValid(metadata, { kMetaMtime, "goog-reserved-file-mtime" }, parseTime).value_or(lastModified);
	a.atime = firstValid(metadata, { kMetaAtime }, parseTime).value_or(lastModified);
	a.ctime = firstValid(metadata, { kMetaCtime }, parseTime).value_or(lastModified);
	return a;
}

Metadata toMetadata(const Attributes &attributes)
{
	Metadata m;
	storeAttributes(attributes, m);
	return m;
}

void storeAttributes(const Attributes &a, Metadata &metadata)
{
	metadata[std::string(kMetaMode)] = std::to_string(a.mode());
	metadata[std::string(kMetaUid)] = std::to_string(a.uid);
	metadata[std::string(kMetaGid)] = std::to_string(a.gid);
	metadata[std::string(kMetaMtime)] = formatTime(a.mtime);
	metadata[std::string(kMetaAtime)] = formatTime(a.atime);
	metadata[std::string(kMetaCtime)] = formatTime(a.ctime);
}

} /* namespace vfs::fs */
