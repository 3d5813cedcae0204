// Where credentials come from: config, credentials file, environment, AWS profile, EC2 IMDSv2, anonymous.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "common/result.h"
#include "s3/credentials.h"
#include "s3/http.h"

namespace vfs::s3 {

/* The configuration keys that choose a source (vfs.conf(5)). */
struct CredentialsConfig {
	/* access_key_id / secret_access_key / session_token in the config itself. */
	std::string accessKeyId;
	std::string secretAccessKey;
	std::string sessionToken;
	/* credentials_file: absolute, or a name under $CREDENTIALS_DIRECTORY (LoadCredential=). */
	std::string credentialsFile;
	/* profile in the AWS shared credentials file; empty: $AWS_PROFILE or "default". */
	std::string profile;
	/* use_imds: ask the EC2 instance metadata service (IMDSv2). Off unless asked for. */
	bool useImds = false;
	/* The IMDS base URL; empty: $AWS_EC2_METADATA_SERVICE_ENDPOINT or http://169.254.169.254. */
	std::string imdsEndpoint;
};

/* What the chain reads from the process; a seam so tests need not touch the real environment. */
struct CredentialsEnvironment {
	std::function<std::optional<std::string>(const std::string &)> getenv;
	/* Sends one HTTP request (for IMDS); must time out within a second or two. */
	std::function<Result<HttpResponse>(const HttpRequest &)> http;
	std::function<std::chrono::system_clock::time_point()> now;

	static CredentialsEnvironment process();
};

enum class CredentialsSource { Config, File, Environment, Profile, Imds, Anonymous };

const char *toString(CredentialsSource source);

/*
 * Resolves credentials in the documented order and keeps them: the first
 * source that has a key wins. Temporary credentials from IMDS are refreshed
 * five minutes before they expire. Thread-safe. Nothing here ever logs or
 * returns a secret in an error message.
 */
class CredentialChain
{
public:
	CredentialChain(CredentialsConfig config, CredentialsEnvironment env);

	/* The current credentials, refreshing them first if they are about to expire. */
	Result<Credentials> credentials();
	/* Where the last credentials came from. */
	CredentialsSource source() const;

private:
	Result<std::optional<Credentials>> fromFile();
	std::optional<Credentials> fromEnvironment();
	Result<std::optional<Credentials>> fromProfile();
	Result<Credentials> fromImds();
	Result<Credentials> resolve();

	const CredentialsConfig config_;
	CredentialsEnvironment env_;

	mutable std::mutex mutex_;
	std::optional<Credentials> cached_;       /* guarded by mutex_ */
	CredentialsSource source_ = CredentialsSource::Anonymous; /* guarded by mutex_ */
	std::optional<std::chrono::system_clock::time_point> expires_; /* guarded by mutex_ */
};

/* Parses "[section]" / "key = value" INI text (AWS shared credentials, vfs files). */
std::map<std::string, std::map<std::string, std::string>> parseIni(const std::string &text);

} /* namespace vfs::s3 */
