// Where credentials come from, in order; IMDSv2 credentials are refreshed before they expire.
#include "s3/credential_chain.h"

#include <cerrno>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iomanip>
#include <sstream>

#include <sys/stat.h>

#include "common/text.h"
#include "s3/curl_transport.h"

namespace vfs::s3 {

namespace {

using Clock = std::chrono::system_clock;

/* Refresh temporary credentials this long before they expire. */
constexpr auto kRefreshMargin = std::chrono::minutes(5);

Result<std::string> readSecretFile(const std::string &path)
{
	struct stat st;
	if (stat(path.c_str(), &st) != 0)
		return Error(errno, "cannot read credentials file " + path);
	if (st.st_mode & S_IROTH)
		return Error(EACCES, "credentials file " + path +
					     " is readable by other users (chmod 600 it)");
	std::ifstream in(path);
	if (!in)
		return Error(EACCES, "cannot read credentials file " + path);
	std::stringstream ss;
	ss << in.rdbuf();
	return ss.str();
}

/* Nothing but blank lines and '#' or ';' comments. */
bool onlyComments(const std::string &text)
{
	std::istringstream in(text);
	std::string line;
	while (std::getline(in, line)) {
		line = trim(line);
		if (!line.empty() && line[0] != '#' && line[0] != ';')
			return false;
	}
	return true;
}

/* The string value of "name": "value" in a flat JSON object (IMDS answers); no escapes expected. */
std::optional<std::string> jsonString(const std::string &json, const std::string &name)
{
	auto k = json.find("\"" + name + "\"");
	if (k == std::string::npos)
		return std::nullopt;
	auto colon = json.find(':', k + name.size() + 2);
	if (colon == std::string::npos)
		return std::nullopt;
	auto open = json.find('"', colon);
	if (open == std::string::npos)
		return std::nullopt;
	auto close = json.find('"', open + 1);
	if (close == std::string::npos)
		return std::nullopt;
	return json.substr(open + 1, close - open - 1);
}

std::optional<Clock::time_point> parseIso8601(const std::string &s)
{
	std::tm tm{};
	std::istringstream in(s);
	in >> std::get_time(&tm, "%Y-%m-%dT%H:%M:%S");
	if (in.fail())
		return std::nullopt;
	return Clock::from_time_t(timegm(&tm));
}

std::optional<Credentials> fromKeys(const std::map<std::string, std::string> &keys)
{
	auto get = [&](const char *a, const char *b) -> std::string {
		if (auto it = keys.find(a); it != keys.end())
			return it->second;
		if (auto it = keys.find(b); it != keys.end())
			return it->second;
		return {};
	};
	Credentials c{ get("access_key_id", "aws_access_key_id"),
		       get("secret_access_key", "aws_secret_access_key"),
		       get("session_token", "aws_session_token") };
	if (c.accessKeyId.empty() && c.secretAccessKey.empty())
		return std::nullopt;
	return c;
}

Result<Credentials> complete(Credentials c, const std::string &where)
{
	if (c.accessKeyId.empty() || c.secretAccessKey.empty())
		return Error(EINVAL, where + " has " +
					     (c.accessKeyId.empty() ? "a secret but no access key id"
								    : "an access key id but no secret"));
	return c;
}

} /* namespace */

const char *toString(CredentialsSource source)
{
	switch (source) {
	case CredentialsSource::Config:
		return "config";
	case CredentialsSource::File:
		return "credentials file";
	case CredentialsSource::Environment:
		return "environment";
	case CredentialsSource::Profile:
		return "AWS shared credentials file";
	case CredentialsSource::Imds:
		return "EC2 instance metadata (IMDSv2)";
	case CredentialsSource::Anonymous:
		return "anonymous";
	}
	return "?";
}

std::map<std::string, std::map<std::string, std::string>> parseIni(const std::string &text)
{
	std::map<std::string, std::map<std::string, std::string>> sections;
	std::string section;
	std::istringstream in(text);
	std::string line;
	while (std::getline(in, line)) {
		line = trim(line);
		if (line.empty() || line[0] == '#' || line[0] == ';')
			continue;
		if (line.front() == '[' && line.back() == ']') {
			section = trim(line.substr(1, line.size() - 2));
			/* ~/.aws/config style "[profile name]" */
			if (section.rfind("profile ", 0) == 0)
				section = trim(section.substr(8));
			continue;
		}
		auto eq = line.find('=');
		if (eq == std::string::npos)
			continue;
		sections[section][trim(line.substr(0, eq))] = trim(line.substr(eq + 1));
	}
	return sections;
}

CredentialsEnvironment CredentialsEnvironment::process()
{
	CredentialsEnvironment env;
	env.getenv = [](const std::string &name) -> std::optional<std::string> {
		const char *v = std::getenv(name.c_str());
		if (!v)
			return std::nullopt;
		return std::string(v);
	};
	env.now = [] { return Clock::now(); };
	/*
	 * IMDS answers within milliseconds on EC2; anywhere else it is not there at
	 * all, so fail fast instead of holding up the mount. Made on first use:
	 * most configurations never ask IMDS.
	 */
	env.http = [transport = std::shared_ptr<CurlTransport>()](const HttpRequest &request) mutable
		-> Result<HttpResponse> {
		if (!transport) {
			CurlTransportConfig config;
			config.maxConnections = 1;
			config.connectTimeout = std::chrono::milliseconds(1000);
			config.requestTimeout = std::chrono::milliseconds(2000);
			auto created = CurlTransport::create(config);
			if (!created)
				return created.error();
			transport = std::move(*created);
		}
		TransferOptions options;
		options.maxBodySize = 64 << 10;
		return transport->perform(request, options);
	};
	return env;
}

CredentialChain::CredentialChain(CredentialsConfig config, CredentialsEnvironment env)
	: config_(std::move(config)), env_(std::move(env))
{
}

Result<std::optional<Credentials>> CredentialChain::fromFile()
{
	std::string path = config_.credentialsFile;
	auto dir = env_.getenv("CREDENTIALS_DIRECTORY");
	bool implicit = path.empty();
	if (implicit) {
		/* LoadCredential=credentials:... with no credentials_file key. */
		if (!dir)
			return std::optional<Credentials>();
		path = *dir + "/credentials";
		struct stat st;
		if (stat(path.c_str(), &st) != 0)
			return std::optional<Credentials>();
	} else if (path[0] != '/') {
		if (!dir)
			return Error(ENOENT, "credentials_file " + path +
						     " is relative but $CREDENTIALS_DIRECTORY is not set");
		path = *dir + "/" + path;
	}

	auto text = readSecretFile(path);
	if (!text)
		return text.error();

	/* s3fs's passwd format: one line "ACCESS_KEY_ID:SECRET". */
	std::string body = trim(*text);
	/* vfs@.service's SetCredential= default (a comment) stands in for a missing credentials file. */
	if (implicit && onlyComments(body))
		return std::optional<Credentials>();
	if (body.find('\n') == std::string::npos && body.find('=') == std::string::npos) {
		auto colon = body.find(':');
		if (colon == std::string::npos)
			return Error(EINVAL, "credentials file " + path + " is not in a known format");
		auto c = complete(Credentials{ body.substr(0, colon), body.substr(colon + 1), {} },
				  "credentials file " + path);
		if (!c)
			return c.error();
		return std::optional<Credentials>(*c);
	}

	auto ini = parseIni(*text);
	auto c = fromKeys(ini[""]);
	if (!c)
		return Error(EINVAL, "credentials file " + path + " has no access_key_id");
	auto full = complete(*c, "credentials file " + path);
	if (!full)
		return full.error();
	return std::optional<Credentials>(*full);
}

std::optional<Credentials> CredentialChain::fromEnvironment()
{
	auto id = env_.getenv("AWS_ACCESS_KEY_ID");
	auto secret = env_.getenv("AWS_SECRET_ACCESS_KEY");
	if (!id || !secret || id->empty() || secret->empty())
		return std::nullopt;
	return Credentials{ *id, *secret, env_.getenv("AWS_SESSION_TOKEN").value_or("") };
}

Result<std::optional<Credentials>> CredentialChain::fromProfile()
{
	std::string path;
	if (auto f = env_.getenv("AWS_SHARED_CREDENTIALS_FILE"))
		path = *f;
	else if (auto home = env_.getenv("HOME"))
		path = *home + "/.aws/credentials";
	else
		return std::optional<Credentials>();

	std::string profile = config_.profile;
	if (profile.empty())
		profile = env_.getenv("AWS_PROFILE").value_or("default");

	std::ifstream in(path);
	if (!in) {
		/* A profile named in the config must exist; the implicit default need not. */
		if (!config_.profile.empty())
			return Error(ENOENT, "profile '" + profile + "' asked for, but " + path + " cannot be read");
		return std::optional<Credentials>();
	}
	std::stringstream ss;
	ss << in.rdbuf();
	auto ini = parseIni(ss.str());
	auto section = ini.find(profile);
	if (section == ini.end()) {
		if (!config_.profile.empty())
			return Error(ENOENT, "profile '" + profile + "' not found in " + path);
		return std::optional<Credentials>();
	}
	auto c = fromKeys(section->second);
	if (!c)
		return Error(EINVAL, "profile '" + profile + "' in " + path + " has no aws_access_key_id");
	auto full = complete(*c, "profile '" + profile + "' in " + path);
	if (!full)
		return full.error();
	return std::optional<Credentials>(*full);
}

Result<Credentials> CredentialChain::fromImds()
{
	if (!env_.http)
		return Error(ENOSYS, "no HTTP client for IMDS");
	std::string base = config_.imdsEndpoint;
	if (base.empty())
		base = env_.getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT").value_or("http://169.254.169.254");
	while (!base.empty() && base.back() == '/')
		base.pop_back();
	auto schemeEnd = base.find("://");
	if (schemeEnd == std::string::npos)
		return Error(EINVAL, "IMDS endpoint " + base + " has no scheme");

	auto request = [&](const std::string &method, const std::string &path) {
		HttpRequest r;
		r.method = method;
		r.scheme = base.substr(0, schemeEnd);
		r.host = base.substr(schemeEnd + 3);
		r.path = path;
		return r;
	};

	/* IMDSv2: a session token first, then every metadata GET carries it. */
	HttpRequest tokenRequest = request("PUT", "/latest/api/token");
	tokenRequest.setHeader("X-aws-ec2-metadata-token-ttl-seconds", "21600");
	auto token = env_.http(tokenRequest);
	if (!token)
		return Error(token.error().code(), "IMDS token request failed: " + token.error().message());
	if (token->status != 200)
		return Error(EACCES, "IMDS token request answered HTTP " + std::to_string(token->status));

	const std::string rolesPath = "/latest/meta-data/iam/security-credentials/";
	HttpRequest rolesRequest = request("GET", rolesPath);
	rolesRequest.setHeader("X-aws-ec2-metadata-token", trim(token->body));
	auto roles = env_.http(rolesRequest);
	if (!roles)
		return Error(roles.error().code(), "IMDS role lookup failed: " + roles.error().message());
	if (roles->status != 200)
		return Error(EACCES, "IMDS role lookup answered HTTP " + std::to_string(roles->status) +
					     " (no instance profile attached?)");
	std::string role = trim(roles->body.substr(0, roles->body.find('\n')));
	if (role.empty() || role.find('/') != std::string::npos)
		return Error(EPROTO, "IMDS returned no usable role name");

	HttpRequest credsRequest = request("GET", rolesPath + role);
	credsRequest.setHeader("X-aws-ec2-metadata-token", trim(token->body));
	auto creds = env_.http(credsRequest);
	if (!creds)
		return Error(creds.error().code(), "IMDS credentials request failed: " + creds.error().message());
	if (creds->status != 200)
		return Error(EACCES, "IMDS credentials request answered HTTP " + std::to_string(creds->status));

	auto id = jsonString(creds->body, "AccessKeyId");
	auto secret = jsonString(creds->body, "SecretAccessKey");
	auto sessionToken = jsonString(creds->body, "Token");
	auto expiration = jsonString(creds->body, "Expiration");
	if (!id || !secret || !sessionToken || !expiration)
		return Error(EPROTO, "IMDS credentials answer lacks AccessKeyId, SecretAccessKey, Token or Expiration");
	auto expires = parseIso8601(*expiration);
	if (!expires)
		return Error(EPROTO, "IMDS credentials have an unreadable Expiration");
	expires_ = *expires;
	return Credentials{ *id, *secret, *sessionToken };
}

Result<Credentials> CredentialChain::resolve()
{
	expires_.reset();

	if (!config_.accessKeyId.empty() || !config_.secretAccessKey.empty()) {
		auto c = complete(Credentials{ config_.accessKeyId, config_.secretAccessKey, config_.sessionToken },
				  "the config");
		if (!c)
			return c.error();
		source_ = CredentialsSource::Config;
		return c;
	}

	auto file = fromFile();
	if (!file)
		return file.error();
	if (*file) {
		source_ = CredentialsSource::File;
		return **file;
	}

	if (auto env = fromEnvironment()) {
		source_ = CredentialsSource::Environment;
		return *env;
	}

	auto profile = fromProfile();
	if (!profile)
		return profile.error();
	if (*profile) {
		source_ = CredentialsSource::Profile;
		return **profile;
	}

	if (config_.useImds) {
		auto imds = fromImds();
		if (!imds)
			return imds.error();
		source_ = CredentialsSource::Imds;
		return imds;
	}

	source_ = CredentialsSource::Anonymous;
	return Credentials{};
}

Result<Credentials> CredentialChain::credentials()
{
	std::lock_guard lock(mutex_);
	bool stale = expires_ && env_.now() + kRefreshMargin >= *expires_;
	if (cached_ && !stale)
		return *cached_;

	auto previousExpiry = expires_;
	auto fresh = resolve();
	if (!fresh) {
		/* Keep using credentials that have not expired yet; IMDS may be briefly away. */
		expires_ = previousExpiry;
		if (cached_ && expires_ && env_.now() < *expires_)
			return *cached_;
		return fresh.error();
	}
	cached_ = *fresh;
	return fresh;
}

CredentialsSource CredentialChain::source() const
{
	std::lock_guard lock(mutex_);
	return source_;
}

} /* namespace vfs::s3 */
