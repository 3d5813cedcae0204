// Result, name validation, bus names and vfsd's command line.
#include <gtest/gtest.h>

#include "common/result.h"
#include "control/bus_name.h"
#include "daemon/command_line.h"
#include "fs/names.h"

namespace {

TEST(Result, CarriesValueOrError)
{
	vfs::Result<int> good = 42;
	ASSERT_TRUE(good.ok());
	EXPECT_EQ(*good, 42);

	vfs::Result<int> bad = vfs::Error(ENOENT, "no such object");
	ASSERT_FALSE(bad.ok());
	EXPECT_EQ(bad.error().code(), ENOENT);
	EXPECT_EQ(bad.error().toString(), "no such object: No such file or directory");

	vfs::Result<void> done;
	EXPECT_TRUE(done.ok());
	vfs::Result<void> failed = vfs::Error(EIO, "");
	EXPECT_FALSE(failed.ok());
	EXPECT_EQ(failed.error().toString(), "Input/output error");
}

TEST(Names, OnlyPosixNamesAreValid)
{
	EXPECT_TRUE(vfs::fs::isValidName("file.txt"));
	EXPECT_TRUE(vfs::fs::isValidName("with space"));
	EXPECT_TRUE(vfs::fs::isValidName(std::string(255, 'a')));
	EXPECT_FALSE(vfs::fs::isValidName(std::string(256, 'a')));
	EXPECT_FALSE(vfs::fs::isValidName(""));
	EXPECT_FALSE(vfs::fs::isValidName("."));
	EXPECT_FALSE(vfs::fs::isValidName(".."));
	EXPECT_FALSE(vfs::fs::isValidName("a/b"));
	EXPECT_FALSE(vfs::fs::isValidName(std::string("a\0b", 3)));
	EXPECT_TRUE(vfs::fs::isValidName("..."));
}

TEST(BusName, EscapesInstanceNamesLikePathElements)
{
	EXPECT_EQ(*vfs::control::busNameForInstance("photos"), "org.vfs.Vfs1.photos");
	EXPECT_EQ(*vfs::control::busNameForInstance("my-bucket"), "org.vfs.Vfs1.my_2dbucket");
	EXPECT_EQ(*vfs::control::busNameForInstance("a_b"), "org.vfs.Vfs1.a_5fb");
	EXPECT_EQ(*vfs::control::busNameForInstance("2024"), "org.vfs.Vfs1._32024");
	EXPECT_EQ(*vfs::control::busNameForInstance("a.b"), "org.vfs.Vfs1.a_2eb");
	EXPECT_FALSE(vfs::control::busNameForInstance("").ok());
}

TEST(BusName, DecodesInstanceNamesBack)
{
	for (const char *name : { "photos", "my-bucket", "a_b", "2024", "a.b", "x y/z" })
		EXPECT_EQ(vfs::control::instanceForBusName(*vfs::control::busNameForInstance(name)), name);
	EXPECT_FALSE(vfs::control::instanceForBusName("org.freedesktop.DBus"));
	EXPECT_FALSE(vfs::control::instanceForBusName("org.vfs.Vfs1."));
}

TEST(CommandLine, ParsesConfigAndOverrides)
{
	auto cl = vfs::daemon::parseCommandLine({ "--config", "/etc/vfs/a.conf", "--set", "bucket=b",
						  "--set=memory_limit=512M" });
	ASSERT_TRUE(cl.ok()) << cl.error().message();
	EXPECT_EQ(cl->configPath, "/etc/vfs/a.conf");
	ASSERT_EQ(cl->overrides.size(), 2u);
	EXPECT_EQ(cl->overrides[0], (std::pair<std::string, std::string>{ "bucket", "b" }));
	EXPECT_EQ(cl->overrides[1], (std::pair<std::string, std::string>{ "memory_limit", "512M" }));

	EXPECT_TRUE(vfs::daemon::parseCommandLine({ "--help" })->help);
	EXPECT_TRUE(vfs::daemon::parseCommandLine({ "--version" })->version);
	EXPECT_FALSE(vfs::daemon::parseCommandLine({ "--config" }).ok());
	EXPECT_FALSE(vfs::daemon::parseCommandLine({ "--set", "novalue" }).ok());
	EXPECT_FALSE(vfs::daemon::parseCommandLine({ "--bogus" }).ok());
	EXPECT_FALSE(vfs::daemon::parseCommandLine({ "--configx=1" }).ok());

	/* --instance: the D-Bus name's label, else the config file's stem. */
	EXPECT_EQ(vfs::daemon::parseCommandLine({ "--instance", "my-photos" })->instance, "my-photos");
	EXPECT_EQ(vfs::daemon::parseCommandLine({ "--instance=x" })->instance, "x");
	EXPECT_TRUE(vfs::daemon::parseCommandLine({ "--config", "a.conf" })->instance.empty());
	EXPECT_FALSE(vfs::daemon::parseCommandLine({ "--instance" }).ok());
	EXPECT_FALSE(vfs::daemon::parseCommandLine({ "--instance=" }).ok());
}

} /* namespace */
