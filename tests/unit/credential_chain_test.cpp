// The credentials chain: each source, the order between them, IMDSv2 refresh, no secrets in errors.
#include "s3/credential_chain.h"

#include <filesystem>
#include <fstream>
#include <map>

#include <gtest/gtest.h>

#include "http_test_server.h"
#include <sys/stat.h>
#include <unistd.h>

using namespace vfs::s3;
namespace fs = std::filesystem;
using Clock = std::chrono::system_clock;

namespace {

class CredentialChainTest : public ::testing::Test
{
protected:
	void SetUp() override
	{
		char tmpl[] = "/tmp/vfs-creds.XXXXXX";
		dir_ = mkdtemp(tmpl);
		now_ = Clock::from_time_t(1'800'000'000);
	}
	void TearDown() override { fs::remove_all(dir_); }

	std::string write(const std::string &name, const std::string &text, mode_t mode = 0600)
	{
		std::string path = dir_ + "/" + name;
		fs::create_directories(fs::path(path).parent_path());
		std::ofstream(path) << text;
		chmod(path.c_str(), mode);
		return path;
	}

	CredentialsEnvironment env()
	{
		CredentialsEnvironment e;
		e.getenv = [this](const std::string &n) -> std::optional<std::string> {
			auto it = vars_.find(n);
			if (it == vars_.end())
				return std::nullopt;
			return it->second;
		};
		e.now = [this] { return now_; };
		e.http = [this](const HttpRequest &r) -> vfs::Result<HttpResponse> {
			requests_.push_back(r);
			return imds_(r);
		};
		return e;
	}

	std::string dir_;
	std::map<std::string, std::string> vars_;
	Clock::time_point now_;
	std::vector<HttpRequest> requests_;
	std::function<vfs::Result<HttpResponse>(const HttpRequest &)> imds_ = [](const HttpRequest &) {
		return vfs::Result<HttpResponse>(vfs::Error(ECONNREFUSED, "no IMDS here"));
	};
};

TEST_F(CredentialChainTest, ExplicitConfigComesFirst)
{
	vars_ = { { "AWS_ACCESS_KEY_ID", "ENVKEY" }, { "AWS_SECRET_ACCESS_KEY", "envsecret" } };
	CredentialsConfig cfg;
	cfg.accessKeyId = "CFGKEY";
	cfg.secretAccessKey = "cfgsecret";
	cfg.sessionToken = "cfgtoken";
	CredentialChain chain(cfg, env());
	auto c = chain.credentials();
	ASSERT_TRUE(c.ok());
	EXPECT_EQ(c->accessKeyId, "CFGKEY");
	EXPECT_EQ(c->secretAccessKey, "cfgsecret");
	EXPECT_EQ(c->sessionToken, "cfgtoken");
	EXPECT_EQ(chain.source(), CredentialsSource::Config);
}

TEST_F(CredentialChainTest, HalfAConfigPairIsAnErrorWithoutTheSecret)
{
	CredentialsConfig cfg;
	cfg.secretAccessKey = "s3cr3t-value";
	CredentialChain chain(cfg, env());
	auto c = chain.credentials();
	ASSERT_FALSE(c.ok());
	EXPECT_NE(c.error().message().find("no access key id"), std::string::npos);
	EXPECT_EQ(c.error().message().find("s3cr3t-value"), std::string::npos);
}

TEST_F(CredentialChainTest, CredentialsFileBeatsEnvironment)
{
	vars_ = { { "AWS_ACCESS_KEY_ID", "ENVKEY" }, { "AWS_SECRET_ACCESS_KEY", "envsecret" } };
	CredentialsConfig cfg;
	cfg.credentialsFile = write("creds", "# vfs credentials\naccess_key_id = FILEKEY\nsecret_access_key = filesecret\n");
	CredentialChain chain(cfg, env());
	auto c = chain.credentials();
	ASSERT_TRUE(c.ok()) << c.error().message();
	EXPECT_EQ(c->accessKeyId, "FILEKEY");
	EXPECT_EQ(c->secretAccessKey, "filesecret");
	EXPECT_EQ(chain.source(), CredentialsSource::File);
}

TEST_F(CredentialChainTest, CredentialsFileInS3fsPasswdFormat)
{
	CredentialsConfig cfg;
	cfg.credentialsFile = write("passwd", "PWKEY:pw/secret+x\n");
	auto c = CredentialChain(cfg, env()).credentials();
	ASSERT_TRUE(c.ok()) << c.error().message();
	EXPECT_EQ(c->accessKeyId, "PWKEY");
	EXPECT_EQ(c->secretAccessKey, "pw/secret+x");
}

TEST_F(CredentialChainTest, SystemdCredentialsDirectory)
{
	write("credstore/credentials", "aws_access_key_id = SDKEY\naws_secret_access_key = sdsecret\n");
	vars_ = { { "CREDENTIALS_DIRECTORY", dir_ + "/credstore" } };
	{
		/* No credentials_file key: LoadCredential=credentials:... is picked up by name. */
		CredentialChain chain(CredentialsConfig{}, env());
		auto c = chain.credentials();
		ASSERT_TRUE(c.ok()) << c.error().message();
		EXPECT_EQ(c->accessKeyId, "SDKEY");
		EXPECT_EQ(chain.source(), CredentialsSource::File);
	}
	{
		/* A relative credentials_file is a name in $CREDENTIALS_DIRECTORY. */
		write("credstore/other", "access_key_id = OTHER\nsecret_access_key = o\n");
		CredentialsConfig cfg;
		cfg.credentialsFile = "other";
		auto c = CredentialChain(cfg, env()).credentials();
		ASSERT_TRUE(c.ok()) << c.error().message();
		EXPECT_EQ(c->accessKeyId, "OTHER");
	}
}

TEST_F(CredentialChainTest, CommentOnlySystemdCredentialIsNoCredential)
{
	/* vfs@.service: SetCredential=credentials:# ... stands in when /etc/vfs/NAME.credentials is missing. */
	write("credstore/credentials", "# no /etc/vfs/photos.credentials", 0400);
	vars_ = { { "CREDENTIALS_DIRECTORY", dir_ + "/credstore" }, { "AWS_ACCESS_KEY_ID", "ENVKEY" },
		  { "AWS_SECRET_ACCESS_KEY", "envsecret" } };
	CredentialChain chain(CredentialsConfig{}, env());
	auto c = chain.credentials();
	ASSERT_TRUE(c.ok()) << c.error().message();
	EXPECT_EQ(c->accessKeyId, "ENVKEY");
	EXPECT_EQ(chain.source(), CredentialsSource::Environment);

	/* Named explicitly, a file without keys is still an error. */
	CredentialsConfig cfg;
	cfg.credentialsFile = "credentials";
	EXPECT_FALSE(CredentialChain(cfg, env()).credentials().ok());
}

TEST_F(CredentialChainTest, WorldReadableCredentialsFileIsRefused)
{
	CredentialsConfig cfg;
	cfg.credentialsFile = write("open", "access_key_id = K\nsecret_access_key = topsecret\n", 0644);
	auto c = CredentialChain(cfg, env()).credentials();
	ASSERT_FALSE(c.ok());
	EXPECT_EQ(c.error().code(), EACCES);
	EXPECT_NE(c.error().message().find("readable by other users"), std::string::npos);
	EXPECT_EQ(c.error().message().find("topsecret"), std::string::npos);
}

TEST_F(CredentialChainTest, MissingOrBadCredentialsFile)
{
	CredentialsConfig cfg;
	cfg.credentialsFile = dir_ + "/nope";
	EXPECT_EQ(CredentialChain(cfg, env()).credentials().error().code(), ENOENT);
	cfg.credentialsFile = write("junk", "just some words\n");
	EXPECT_EQ(CredentialChain(cfg, env()).credentials().error().code(), EINVAL);
	cfg.credentialsFile = "relative";
	EXPECT_EQ(CredentialChain(cfg, env()).credentials().error().code(), ENOENT);
}

TEST_F(CredentialChainTest, EnvironmentWithSessionToken)
{
	vars_ = { { "AWS_ACCESS_KEY_ID", "ENVKEY" },
		  { "AWS_SECRET_ACCESS_KEY", "envsecret" },
		  { "AWS_SESSION_TOKEN", "envtoken" },
		  { "HOME", dir_ } };
	write(".aws/credentials", "[default]\naws_access_key_id = PROFKEY\naws_secret_access_key = p\n");
	CredentialChain chain(CredentialsConfig{}, env());
	auto c = chain.credentials();
	ASSERT_TRUE(c.ok());
	EXPECT_EQ(c->accessKeyId, "ENVKEY");
	EXPECT_EQ(c->sessionToken, "envtoken");
	EXPECT_EQ(chain.source(), CredentialsSource::Environment);
}

TEST_F(CredentialChainTest, SharedCredentialsFileWithProfile)
{
	write(".aws/credentials",
	      "[default]\naws_access_key_id = DEFKEY\naws_secret_access_key = d\n"
	      "[work]\naws_access_key_id = WORKKEY\naws_secret_access_key = w\naws_session_token = wt\n");
	vars_ = { { "HOME", dir_ } };
	{
		CredentialChain chain(CredentialsConfig{}, env());
		EXPECT_EQ(chain.credentials()->accessKeyId, "DEFKEY");
		EXPECT_EQ(chain.source(), CredentialsSource::Profile);
	}
	{
		CredentialsConfig cfg;
		cfg.profile = "work";
		auto c = CredentialChain(cfg, env()).credentials();
		ASSERT_TRUE(c.ok());
		EXPECT_EQ(c->accessKeyId, "WORKKEY");
		EXPECT_EQ(c->sessionToken, "wt");
	}
	{
		vars_["AWS_PROFILE"] = "work";
		EXPECT_EQ(CredentialChain(CredentialsConfig{}, env()).credentials()->accessKeyId, "WORKKEY");
	}
	{
		CredentialsConfig cfg;
		cfg.profile = "absent";
		auto c = CredentialChain(cfg, env()).credentials();
		ASSERT_FALSE(c.ok());
		EXPECT_NE(c.error().message().find("'absent' not found"), std::string::npos);
	}
	{
		vars_ = { { "AWS_SHARED_CREDENTIALS_FILE", write("elsewhere", "[default]\naws_access_key_id = ELSE\naws_secret_access_key = e\n") } };
		EXPECT_EQ(CredentialChain(CredentialsConfig{}, env()).credentials()->accessKeyId, "ELSE");
	}
}

TEST_F(CredentialChainTest, AnonymousWhenNothingIsConfigured)
{
	vars_ = { { "HOME", dir_ } };
	CredentialChain chain(CredentialsConfig{}, env());
	auto c = chain.credentials();
	ASSERT_TRUE(c.ok());
	EXPECT_TRUE(c->anonymous());
	EXPECT_EQ(chain.source(), CredentialsSource::Anonymous);
	EXPECT_TRUE(requests_.empty()); /* IMDS is never asked unless configured */
}

HttpResponse answer(int status, std::string body)
{
	HttpResponse r;
	r.status = status;
	r.body = std::move(body);
	return r;
}

std::string imdsCredentials(const std::string &key, Clock::time_point expires)
{
	std::time_t t = Clock::to_time_t(expires);
	char stamp[32];
	std::strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
	return "{\n  \"Code\" : \"Success\",\n  \"Type\" : \"AWS-HMAC\",\n  \"AccessKeyId\" : \"" + key +
	       "\",\n  \"SecretAccessKey\" : \"imdssecret\",\n  \"Token\" : \"imdstoken\",\n"
	       "  \"Expiration\" : \"" + std::string(stamp) + "\"\n}";
}

TEST_F(CredentialChainTest, ImdsV2TokenRoleCredentialsAndRefresh)
{
	int issued = 0;
	imds_ = [&](const HttpRequest &r) -> vfs::Result<HttpResponse> {
		if (r.method == "PUT" && r.path == "/latest/api/token") {
			if (r.header("X-aws-ec2-metadata-token-ttl-seconds") != "21600")
				return answer(400, "");
			return answer(200, "TOKEN123");
		}
		if (r.header("X-aws-ec2-metadata-token") != "TOKEN123")
			return answer(401, "");
		if (r.path == "/latest/meta-data/iam/security-credentials/")
			return answer(200, "my-role\n");
		if (r.path == "/latest/meta-data/iam/security-credentials/my-role")
			return answer(200, imdsCredentials("IMDSKEY" + std::to_string(++issued),
							   now_ + std::chrono::hours(1)));
		return answer(404, "");
	};
	CredentialsConfig cfg;
	cfg.useImds = true;
	cfg.imdsEndpoint = "http://127.0.0.1:9";
	CredentialChain chain(cfg, env());

	auto c = chain.credentials();
	ASSERT_TRUE(c.ok()) << c.error().message();
	EXPECT_EQ(c->accessKeyId, "IMDSKEY1");
	EXPECT_EQ(c->secretAccessKey, "imdssecret");
	EXPECT_EQ(c->sessionToken, "imdstoken");
	EXPECT_EQ(chain.source(), CredentialsSource::Imds);
	ASSERT_EQ(requests_.size(), 3u);
	EXPECT_EQ(requests_[0].host, "127.0.0.1:9");
	EXPECT_EQ(requests_[0].scheme, "http");

	/* Cached while fresh... */
	now_ += std::chrono::minutes(30);
	EXPECT_EQ(chain.credentials()->accessKeyId, "IMDSKEY1");
	EXPECT_EQ(requests_.size(), 3u);
	/* ...refreshed within five minutes of expiry. */
	now_ += std::chrono::minutes(26);
	EXPECT_EQ(chain.credentials()->accessKeyId, "IMDSKEY2");
	EXPECT_EQ(requests_.size(), 6u);

	/* IMDS unreachable near expiry: the still-valid credentials are kept... */
	imds_ = [](const HttpRequest &) { return vfs::Result<HttpResponse>(vfs::Error(ETIMEDOUT, "timeout")); };
	now_ += std::chrono::minutes(56);
	EXPECT_EQ(chain.credentials()->accessKeyId, "IMDSKEY2");
	/* ...but never past their expiry. */
	now_ += std::chrono::minutes(10);
	EXPECT_FALSE(chain.credentials().ok());
}

TEST_F(CredentialChainTest, ImdsFailuresAreClear)
{
	CredentialsConfig cfg;
	cfg.useImds = true;
	cfg.imdsEndpoint = "http://127.0.0.1:9";

	imds_ = [](const HttpRequest &r) -> vfs::Result<HttpResponse> {
		if (r.method == "PUT")
			return answer(200, "T");
		return answer(404, "");
	};
	auto noRole = CredentialChain(cfg, env()).credentials();
	ASSERT_FALSE(noRole.ok());
	EXPECT_NE(noRole.error().message().find("no instance profile"), std::string::npos);

	imds_ = [](const HttpRequest &r) -> vfs::Result<HttpResponse> {
		if (r.method == "PUT")
			return answer(200, "T");
		if (r.path.back() == '/')
			return answer(200, "role");
		return answer(200, "{\"AccessKeyId\": \"K\"}");
	};
	auto partial = CredentialChain(cfg, env()).credentials();
	ASSERT_FALSE(partial.ok());
	EXPECT_EQ(partial.error().code(), EPROTO);

	cfg.imdsEndpoint = "no-scheme";
	EXPECT_EQ(CredentialChain(cfg, env()).credentials().error().code(), EINVAL);
}

TEST(ParseIni, SectionsCommentsAndProfilePrefix)
{
	auto ini = parseIni("top = 1\n# comment\n; other\n[a]\n x = y = z \n[profile b]\nk=v\n");
	EXPECT_EQ(ini[""]["top"], "1");
	EXPECT_EQ(ini["a"]["x"], "y = z");
	EXPECT_EQ(ini["b"]["k"], "v");
}

} /* namespace */

namespace {

/* The real transport against an IMDSv2 stand-in on 127.0.0.1: the wiring the daemon uses. */
TEST(CredentialChainImds, RealTransportAgainstALoopbackImds)
{
	using vfs::test::ServerRequest;
	using vfs::test::ServerResponse;
	vfs::test::TestHttpServer imds([](const ServerRequest &r) {
		ServerResponse out;
		if (r.method == "PUT" && r.target == "/latest/api/token" &&
		    r.get("x-aws-ec2-metadata-token-ttl-seconds") == "21600") {
			out.body = "tok";
		} else if (r.get("x-aws-ec2-metadata-token") != "tok") {
			out.status = 401;
		} else if (r.target == "/latest/meta-data/iam/security-credentials/") {
			out.body = "role-a";
		} else if (r.target == "/latest/meta-data/iam/security-credentials/role-a") {
			out.body = R"({"AccessKeyId":"ASIALOOPBACK","SecretAccessKey":"s","Token":"t",)"
				   R"("Expiration":"2099-01-01T00:00:00Z"})";
		} else {
			out.status = 404;
		}
		return out;
	});
	CredentialsConfig cfg;
	cfg.useImds = true;
	cfg.imdsEndpoint = "http://" + imds.host();
	CredentialsEnvironment env = CredentialsEnvironment::process();
	env.getenv = [](const std::string &) { return std::optional<std::string>(); };
	CredentialChain chain(cfg, env);
	auto c = chain.credentials();
	ASSERT_TRUE(c.ok()) << c.error().message();
	EXPECT_EQ(c->accessKeyId, "ASIALOOPBACK");
	EXPECT_EQ(c->sessionToken, "t");
	EXPECT_EQ(chain.source(), CredentialsSource::Imds);
	EXPECT_EQ(imds.requestsReceived(), 3u);
}

TEST(CredentialChainImds, UnreachableImdsFailsFast)
{
	/* A port nobody listens on (bound, then closed). */
	int port;
	{
		vfs::test::TestHttpServer gone([](const vfs::test::ServerRequest &) { return vfs::test::ServerResponse{}; });
		port = gone.port();
	}
	CredentialsConfig cfg;
	cfg.useImds = true;
	cfg.imdsEndpoint = "http://127.0.0.1:" + std::to_string(port);
	CredentialsEnvironment env = CredentialsEnvironment::process();
	env.getenv = [](const std::string &) { return std::optional<std::string>(); };
	auto start = std::chrono::steady_clock::now();
	auto c = CredentialChain(cfg, env).credentials();
	ASSERT_FALSE(c.ok());
	EXPECT_NE(c.error().message().find("IMDS token request failed"), std::string::npos);
	EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

} /* namespace */
