// vfsd's configuration file: parsing, defaults and validation with one-line errors.
#include "daemon/config.h"

#include <cerrno>
#include <charconv>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>

#include <sys/stat.h>

#include "common/text.h"

namespace vfs::daemon {

namespace {

std::optional<bool> parseBool(const std::string &v)
{
	if (v == "true" || v == "yes" || v == "on" || v == "1")
		return true;
	if (v == "false" || v == "no" || v == "off" || v == "0")
		return false;
	return std::nullopt;
}

template<typename T>
std::optional<T> parseNumber(const std::string &v, int base = 10)
{
	T out{};
	auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), out, base);
	if (ec != std::errc() || end != v.data() + v.size() || v.empty())
		return std::nullopt;
	return out;
}

using Setter = std::function<std::optional<std::string>(Config &, const std::string &)>;

Setter text(std::string Config::*field)
{
	return [field](Config &c, const std::string &v) -> std::optional<std::string> {
		c.*field = v;
		return std::nullopt;
	};
}

Setter flag(bool Config::*field)
{
	return [field](Config &c, const std::string &v) -> std::optional<std::string> {
		auto b = parseBool(v);
		if (!b)
			return "'" + v + "' is not a boolean (use true or false)";
		c.*field = *b;
		return std::nullopt;
	};
}

Setter size(std::uint64_t Config::*field)
{
	return [field](Config &c, const std::string &v) -> std::optional<std::string> {
		auto s = parseSize(v);
		if (!s)
			return "'" + v + "' is not a size (use 512M, 2G, ...)";
		c.*field = *s;
		return std::nullopt;
	};
}

Setter id(std::optional<std::uint32_t> Config::*field)
{
	return [field](Config &c, const std::string &v) -> std::optional<std::string> {
		auto n = parseNumber<std::uint32_t>(v);
		if (!n)
			return "'" + v + "' is not a numeric id";
		c.*field = *n;
		return std::nullopt;
	};
}

const std::map<std::string, Setter> &setters()
{
	static const std::map<std::string, Setter> table = {
		{ "bucket", text(&Config::bucket) },
		{ "endpoint", text(&Config::endpoint) },
		{ "region", text(&Config::region) },
		{ "path_style", flag(&Config::pathStyle) },
		{ "ca_bundle", text(&Config::caBundle) },
		{ "max_connections", [](Config &c, const std::string &v) -> std::optional<std::string> {
			 auto n = parseNumber<unsigned>(v);
			 if (!n || *n < 1 || *n > 1024)
				 return "'" + v + "' is not a number from 1 to 1024";
			 c.maxConnections = *n;
			 return std::nullopt;
		 } },
		{ "unsigned_payload", flag(&Config::unsignedPayload) },
		{ "access_key_id", text(&Config::accessKeyId) },
		{ "secret_access_key", text(&Config::secretAccessKey) },
		{ "session_token", text(&Config::sessionToken) },
		{ "credentials_file", text(&Config::credentialsFile) },
		{ "profile", text(&Config::profile) },
		{ "use_imds", flag(&Config::useImds) },
		{ "mountpoint", text(&Config::mountpoint) },
		{ "allow_other", flag(&Config::allowOther) },
		{ "uid", id(&Config::uid) },
		{ "gid", id(&Config::gid) },
		{ "umask", [](Config &c, const std::string &v) -> std::optional<std::string> {
			 auto n = parseNumber<std::uint32_t>(v, 8);
			 if (!n || *n > 0777)
				 return "'" + v + "' is not an octal umask like 022";
			 c.umask = *n;
			 return std::nullopt;
		 } },
		{ "read_only", flag(&Config::readOnly) },
		{ "memory_limit", size(&Config::memoryLimit) },
		{ "chunk_size", size(&Config::chunkSize) },
		{ "part_size", size(&Config::partSize) },
		{ "readahead", size(&Config::readahead) },
		{ "read_threads", [](Config &c, const std::string &v) -> std::optional<std::string> {
			 auto n = parseNumber<unsigned>(v);
			 if (!n || *n < 1 || *n > 64)
				 return "'" + v + "' is not a number from 1 to 64";
			 c.readThreads = *n;
			 return std::nullopt;
		 } },
		{ "upload_threads", [](Config &c, const std::string &v) -> std::optional<std::string> {
			 auto n = parseNumber<unsigned>(v);
			 if (!n || *n < 1 || *n > 64)
				 return "'" + v + "' is not a number from 1 to 64";
			 c.uploadThreads = *n;
			 return std::nullopt;
		 } },
		{ "stream_uploads", flag(&Config::streamUploads) },
		{ "metadata_ttl_ms", [](Config &c, const std::string &v) -> std::optional<std::string> {
			 auto n = parseNumber<std::uint32_t>(v);
			 if (!n)
				 return "'" + v + "' is not a number of milliseconds";
			 c.metadataTtl = std::chrono::milliseconds(*n);
			 return std::nullopt;
		 } },
		{ "metadata_requests", [](Config &c, const std::string &v) -> std::optional<std::string> {
			 auto n = parseNumber<unsigned>(v);
			 if (!n || *n > 1024)
				 return "'" + v + "' is not a number from 0 to 1024";
			 c.metadataRequests = *n;
			 return std::nullopt;
		 } },
		{ "bus", [](Config &c, const std::string &v) -> std::optional<std::string> {
			 if (v == "system")
				 c.bus = BusKind::System;
			 else if (v == "session")
				 c.bus = BusKind::Session;
			 else if (v == "none")
				 c.bus = BusKind::None;
			 else
				 return "'" + v + "' is not one of system, session, none";
			 return std::nullopt;
		 } },
		{ "state_directory", text(&Config::stateDirectory) },
	};
	return table;
}

bool isSecretKey(const std::string &key)
{
	return key == "secret_access_key" || key == "session_token";
}

} /* namespace */

std::optional<std::uint64_t> parseSize(const std::string &textValue)
{
	std::string v = trim(textValue);
	if (v.empty())
		return std::nullopt;
	unsigned shift = 0;
	switch (v.back()) {
	case 'K': case 'k': shift = 10; break;
	case 'M': case 'm': shift = 20; break;
	case 'G': case 'g': shift = 30; break;
	case 'T': case 't': shift = 40; break;
	default: break;
	}
	if (shift)
		v.pop_back();
	auto n = parseNumber<std::uint64_t>(v);
	if (!n || (shift && *n > (UINT64_MAX >> shift)))
		return std::nullopt;
	return *n << shift;
}

Result<Config> loadConfig(const std::string &path,
			  const std::vector<std::pair<std::string, std::string>> &overrides)
{
	Config c;
	std::string name = path.substr(path.find_last_of('/') + 1);
	if (name.size() > 5 && name.ends_with(".conf"))
		name.resize(name.size() - 5);
	c.instance = name;

	auto fail = [&](const std::string &key, const std::string &why) {
		return Error(EINVAL, path + ": " + (key.empty() ? "" : key + ": ") + why);
	};

	std::ifstream in(path);
	if (!in)
		return Error(errno ? errno : ENOENT, path + ": cannot open the configuration file");
	struct stat st;
	bool worldReadable = stat(path.c_str(), &st) == 0 && (st.st_mode & S_IROTH);

	std::vector<std::pair<std::string, std::string>> entries;
	std::string line;
	unsigned lineNo = 0;
	while (std::getline(in, line)) {
		++lineNo;
		line = trim(line);
		if (line.empty() || line[0] == '#' || line[0] == ';')
			continue;
		if (line.front() == '[' && line.back() == ']')
			continue; /* an optional [vfs] section header */
		auto eq = line.find('=');
		if (eq == std::string::npos)
			return fail("", "line " + std::to_string(lineNo) + ": expected 'key = value'");
		entries.emplace_back(trim(line.substr(0, eq)), trim(line.substr(eq + 1)));
	}

	for (const auto &[key, value] : entries) {
		if (isSecretKey(key) && !value.empty() && worldReadable)
			return fail(key, "the file holds a secret but is readable by other users (chmod 600 it, "
					 "or move the secret to credentials_file)");
	}
	entries.insert(entries.end(), overrides.begin(), overrides.end());

	for (const auto &[key, value] : entries) {
		auto it = setters().find(key);
		if (it == setters().end())
			return fail(key, "unknown key");
		if (auto why = it->second(c, value))
			return fail(key, *why);
	}

	if (c.bucket.empty())
		c.bucket = c.instance;
	if (c.mountpoint.empty())
		c.mountpoint = "/run/vfs/" + c.instance;
	if (c.mountpoint[0] != '/')
		return fail("mountpoint", "'" + c.mountpoint + "' is not an absolute path");
	if (!c.endpoint.empty() && c.endpoint.rfind("http://", 0) != 0 && c.endpoint.rfind("https://", 0) != 0)
		return fail("endpoint", "'" + c.endpoint + "' must start with http:// or https://");
	if (c.unsignedPayload && c.endpoint.rfind("http://", 0) == 0)
		return fail("unsigned_payload", "only allowed over https (the payload hash protects plain http)");
	if (c.memoryLimit < (std::uint64_t(64) << 20))
		return fail("memory_limit", "must be at least 64M");
	if (c.partSize < (std::uint64_t(5) << 20) || c.partSize > (std::uint64_t(5) << 30))
		return fail("part_size", "must be between 5M and 5G (S3's part size limits)");
	if (c.chunkSize < c.partSize || c.chunkSize % c.partSize != 0)
		return fail("chunk_size", "must be a multiple of part_size");
	return c;
}

} /* namespace vfs::daemon */
