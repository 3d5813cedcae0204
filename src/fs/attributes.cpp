// The s3fs-compatible attribute codec: parsing with s3fs's fallbacks, writing what s3fs writes.
#include "fs/attributes.h"

#include <charconv>

#include <sys/stat.h>

#include "common/text.h"

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

namespace {

constexpr std::string_view kBase64Digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string encodeBase64(std::string_view bytes)
{
	std::string out;
	out.reserve((bytes.size() + 2) / 3 * 4);
	std::size_t i = 0;
	for (; i + 2 < bytes.size(); i += 3) {
		std::uint32_t v = std::uint32_t(static_cast<unsigned char>(bytes[i])) << 16 |
				  std::uint32_t(static_cast<unsigned char>(bytes[i + 1])) << 8 |
				  static_cast<unsigned char>(bytes[i + 2]);
		for (int shift = 18; shift >= 0; shift -= 6)
			out += kBase64Digits[(v >> shift) & 63];
	}
	std::size_t rest = bytes.size() - i;
	if (rest > 0) {
		std::uint32_t v = std::uint32_t(static_cast<unsigned char>(bytes[i])) << 16;
		if (rest == 2)
			v |= std::uint32_t(static_cast<unsigned char>(bytes[i + 1])) << 8;
		out += kBase64Digits[(v >> 18) & 63];
		out += kBase64Digits[(v >> 12) & 63];
		out += rest == 2 ? kBase64Digits[(v >> 6) & 63] : '=';
		out += '=';
	}
	return out;
}

/* Standard alphabet; padding optional; nullopt on any other character. */
std::optional<std::string> decodeBase64(std::string_view text)
{
	std::string out;
	std::uint32_t acc = 0;
	int bits = 0;
	for (char c : text) {
		if (c == '=')
			break;
		std::size_t v = kBase64Digits.find(c);
		if (v == std::string_view::npos)
			return std::nullopt;
		acc = (acc << 6) | static_cast<std::uint32_t>(v);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out += static_cast<char>((acc >> bits) & 0xff);
		}
	}
	return out;
}

bool unreserved(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
	       c == '.' || c == '~';
}

std::string percentEncode(std::string_view text)
{
	static constexpr char kHex[] = "0123456789ABCDEF";
	std::string out;
	for (char c : text) {
		if (unreserved(c)) {
			out += c;
		} else {
			auto b = static_cast<unsigned char>(c);
			out += '%';
			out += kHex[b >> 4];
			out += kHex[b & 15];
		}
	}
	return out;
}

std::string percentDecode(std::string_view text)
{
	std::string out;
	for (std::size_t i = 0; i < text.size(); ++i) {
		int hi = text[i] == '%' && i + 2 < text.size() ? hexValue(text[i + 1]) : -1;
		int lo = hi >= 0 ? hexValue(text[i + 2]) : -1;
		if (text[i] == '%' && hi >= 0 && lo >= 0) {
			out += static_cast<char>(hi << 4 | lo);
			i += 2;
		} else {
			out += text[i];
		}
	}
	return out;
}

/* @s without one pair of surrounding double quotes, or nullopt if it has none. */
std::optional<std::string_view> unquote(std::string_view s)
{
	if (s.size() < 2 || s.front() != '"' || s.back() != '"')
		return std::nullopt;
	return s.substr(1, s.size() - 2);
}

} /* namespace */

Xattrs parseXattrs(std::string_view encoded)
{
	Xattrs out;
	std::string text = percentDecode(encoded);
	std::size_t open = text.find('{');
	std::size_t close = text.rfind('}');
	if (open == std::string::npos || close == std::string::npos || close <= open)
		return out;
	std::string_view rest = std::string_view(text).substr(open + 1, close - open - 1);
	while (!rest.empty()) {
		std::size_t comma = rest.find(',');
		std::string_view pair = rest.substr(0, comma);
		rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
		std::size_t colon = pair.find(':');
		if (colon == std::string_view::npos)
			continue;
		std::string nameText = trim(pair.substr(0, colon));
		std::string valueText = trim(pair.substr(colon + 1));
		auto name = unquote(nameText);
		auto value = unquote(valueText);
		if (!name || !value || name->empty())
			continue;
		auto bytes = decodeBase64(*value);
		if (bytes)
			out[std::string(*name)] = std::move(*bytes);
	}
	return out;
}

std::string formatXattrs(const Xattrs &xattrs)
{
	std::string json = "{";
	for (const auto &[name, value] : xattrs) {
		if (json.size() > 1)
			json += ',';
		json += '"' + name + "\":\"" + encodeBase64(value) + '"';
	}
	json += '}';
	return percentEncode(json);
}

bool xattrNameStorable(std::string_view name)
{
	return !name.empty() && name.find_first_of(std::string_view("\",:\0{}", 6)) == std::string_view::npos;
}

std::size_t metadataBytes(const Metadata &metadata)
{
	std::size_t n = 0;
	for (const auto &[name, value] : metadata)
		n += name.size() + value.size();
	return n;
}

} /* namespace vfs::fs */
