// The attribute codec against metadata exactly as s3fs writes it and as awscli leaves it.
#include "fs/attributes.h"

#include <cctype>

#include <sys/stat.h>

#include <gtest/gtest.h>

using namespace vfs::fs;
using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using std::chrono::seconds;

namespace {

const Timestamp kLastModified = Timestamp(seconds(1'600'000'000));

MountDefaults defaults(std::uint32_t umask = 022)
{
	MountDefaults d;
	d.uid = 4242;
	d.gid = 4343;
	d.umask = umask;
	return d;
}

Timestamp at(std::int64_t secs, std::int64_t nanos = 0)
{
	return Timestamp(std::chrono::duration_cast<Timestamp::duration>(seconds(secs) + nanoseconds(nanos)));
}

/* What s3fs's create() stores for "touch f" by uid 1000 (mode 0644, times with nanoseconds). */
TEST(Attributes, RegularFileAsS3fsWritesIt)
{
	Metadata m = { { "mode", "33188" },
		       { "uid", "1000" },
		       { "gid", "1000" },
		       { "mtime", "1700000000.123456789" },
		       { "atime", "1700000001.000000002" },
		       { "ctime", "1700000002" } };
	Attributes a = fromObject(5, kLastModified, m, false, defaults());
	EXPECT_EQ(a.type, FileType::Regular);
	EXPECT_EQ(a.permissions, 0644u);
	EXPECT_EQ(a.mode(), std::uint32_t(S_IFREG | 0644));
	EXPECT_EQ(a.uid, 1000u);
	EXPECT_EQ(a.gid, 1000u);
	EXPECT_EQ(a.size, 5u);
	EXPECT_EQ(a.mtime, at(1'700'000'000, 123'456'789));
	EXPECT_EQ(a.atime, at(1'700'000'001, 2));
	EXPECT_EQ(a.ctime, at(1'700'000'002));
}

/* s3fs mkdir: a "dir/" marker whose mode has S_IFDIR (16877 = 040755). */
TEST(Attributes, DirectoryMarkerAsS3fsWritesIt)
{
	Metadata m = { { "mode", "16877" }, { "uid", "0" }, { "gid", "0" }, { "mtime", "1700000000" } };
	Attributes a = fromObject(0, kLastModified, m, true, defaults());
	EXPECT_EQ(a.type, FileType::Directory);
	EXPECT_EQ(a.permissions, 0755u);
	EXPECT_EQ(a.mode(), std::uint32_t(S_IFDIR | 0755));
	EXPECT_EQ(a.uid, 0u);
	EXPECT_EQ(a.mtime, at(1'700'000'000));
	/* s3fs falls back to Last-Modified for a time it did not write. */
	EXPECT_EQ(a.atime, kLastModified);
}

/* s3fs symlink: mode 41471 (0120777), the target is the body. */
TEST(Attributes, SymlinkAsS3fsWritesIt)
{
	Metadata m = { { "mode", "41471" }, { "uid", "1000" }, { "gid", "1000" }, { "mtime", "1700000000" } };
	Attributes a = fromObject(11, kLastModified, m, false, defaults());
	EXPECT_EQ(a.type, FileType::Symlink);
	EXPECT_EQ(a.permissions, 0777u);
	EXPECT_EQ(a.size, 11u);
}

/* awscli / the console: no x-amz-meta-* at all. */
TEST(Attributes, ObjectsWithoutMetadataGetTheMountDefaults)
{
	Attributes file = fromObject(123, kLastModified, {}, false, defaults());
	EXPECT_EQ(file.type, FileType::Regular);
	EXPECT_EQ(file.permissions, 0644u);
	EXPECT_EQ(file.uid, 4242u);
	EXPECT_EQ(file.gid, 4343u);
	EXPECT_EQ(file.mtime, kLastModified);
	EXPECT_EQ(file.atime, kLastModified);
	EXPECT_EQ(file.ctime, kLastModified);

	Attributes dir = fromObject(0, kLastModified, {}, true, defaults());
	EXPECT_EQ(dir.type, FileType::Directory);
	EXPECT_EQ(dir.permissions, 0755u);

	EXPECT_EQ(fromObject(1, kLastModified, {}, false, defaults(027)).permissions, 0640u);
	EXPECT_EQ(fromObject(0, kLastModified, {}, true, defaults(077)).permissions, 0700u);
	/* Other tools' metadata changes nothing. */
	Metadata other = { { "md5chksum", "abc" }, { "s3cmd-attrs", "uid:0/gid:0" } };
	EXPECT_EQ(fromObject(1, kLastModified, other, false, defaults()).mode(), std::uint32_t(S_IFREG | 0644));
}

TEST(Attributes, TypeComesFromTheModeUnlessTheKeyIsAMarker)
{
	/* s3fs before 1.63 made "dir" objects (no slash) with S_IFDIR. */
	EXPECT_EQ(fromObject(0, kLastModified, { { "mode", "16877" } }, false, defaults()).type, FileType::Directory);
	/* mknod'ed FIFO (010644 = 4516). */
	EXPECT_EQ(fromObject(0, kLastModified, { { "mode", "4516" } }, false, defaults()).type, FileType::Fifo);
	/* No type bits: a regular file, or the marker's directory. */
	Attributes plain = fromObject(0, kLastModified, { { "mode", "420" } }, false, defaults());
	EXPECT_EQ(plain.type, FileType::Regular);
	EXPECT_EQ(plain.permissions, 0644u);
	Attributes marker = fromObject(0, kLastModified, { { "mode", "493" } }, true, defaults());
	EXPECT_EQ(marker.type, FileType::Directory);
	EXPECT_EQ(marker.permissions, 0755u);
	/* A "dir/" key is a directory even if its mode claims a file. */
	Attributes odd = fromObject(0, kLastModified, { { "mode", "33261" } }, true, defaults());
	EXPECT_EQ(odd.type, FileType::Directory);
	EXPECT_EQ(odd.permissions, 0755u);
	/* setuid, setgid and sticky bits survive. */
	EXPECT_EQ(fromObject(0, kLastModified, { { "mode", std::to_string(S_IFREG | 06755) } }, false, defaults())
			  .permissions,
		  06755u);
}

TEST(Attributes, ModeIsReadWithStrtolBaseZero)
{
	EXPECT_EQ(parseNumber("33188"), 33188u);
	EXPECT_EQ(parseNumber("0100644"), 33188u);
	EXPECT_EQ(parseNumber("0x81a4"), 33188u);
	EXPECT_EQ(parseNumber("0X81A4"), 33188u);
	EXPECT_EQ(parseNumber("0"), 0u);
	EXPECT_FALSE(parseNumber(""));
	EXPECT_FALSE(parseNumber("-1"));
	EXPECT_FALSE(parseNumber("+5"));
	EXPECT_FALSE(parseNumber(" 5"));
	EXPECT_FALSE(parseNumber("5 "));
	EXPECT_FALSE(parseNumber("08"));
	EXPECT_FALSE(parseNumber("0x"));
	EXPECT_FALSE(parseNumber("4294967296"));
	EXPECT_EQ(parseNumber("4294967295"), 4294967295u);

	EXPECT_EQ(fromObject(0, kLastModified, { { "mode", "0100600" } }, false, defaults()).permissions, 0600u);
}

TEST(Attributes, MalformedValuesFallBackToDefaults)
{
	Metadata m = { { "mode", "rw-r--r--" }, { "uid", "-5" }, { "gid", "nobody" },
		       { "mtime", "yesterday" }, { "atime", "1." }, { "ctime", "" } };
	Attributes a = fromObject(3, kLastModified, m, false, defaults());
	EXPECT_EQ(a.type, FileType::Regular);
	EXPECT_EQ(a.permissions, 0644u);
	EXPECT_EQ(a.uid, 4242u);
	EXPECT_EQ(a.gid, 4343u);
	EXPECT_EQ(a.mtime, kLastModified);
	EXPECT_EQ(a.atime, kLastModified);
	EXPECT_EQ(a.ctime, kLastModified);

	/* Bits beyond st_mode, or a type that is no type (0110000), are not a mode. */
	EXPECT_EQ(fromObject(0, kLastModified, { { "mode", "1048576" } }, false, defaults()).permissions, 0644u);
	EXPECT_EQ(fromObject(0, kLastModified, { { "mode", "0110644" } }, false, defaults()).type,
		  FileType::Regular);
	EXPECT_EQ(fromObject(0, kLastModified, { { "mode", "0110600" } }, false, defaults()).permissions, 0644u);
}

TEST(Attributes, OtherToolsFallbacksAsS3fsReadsThem)
{
	/* s3sync: permissions, owner, group. */
	Metadata s3sync = { { "permissions", "33261" }, { "owner", "501" }, { "group", "20" } };
	Attributes a = fromObject(1, kLastModified, s3sync, false, defaults());
	EXPECT_EQ(a.mode(), std::uint32_t(S_IFREG | 0755));
	EXPECT_EQ(a.uid, 501u);
	EXPECT_EQ(a.gid, 20u);

	/* Google Cloud Storage (gcsfuse): an octal mode, and its own mtime. */
	Metadata gcs = { { "goog-reserved-posix-mode", "750" },
			 { "goog-reserved-posix-uid", "7" },
			 { "goog-reserved-posix-gid", "8" },
			 { "goog-reserved-file-mtime", "1650000000" } };
	Attributes g = fromObject(1, kLastModified, gcs, false, defaults());
	EXPECT_EQ(g.permissions, 0750u);
	EXPECT_EQ(g.uid, 7u);
	EXPECT_EQ(g.gid, 8u);
	EXPECT_EQ(g.mtime, at(1'650'000'000));

	/* s3fs's own headers win over the fallbacks. */
	Metadata both = { { "mode", "33152" }, { "permissions", "33261" }, { "uid", "1" }, { "owner", "2" } };
	Attributes b = fromObject(1, kLastModified, both, false, defaults());
	EXPECT_EQ(b.permissions, 0600u);
	EXPECT_EQ(b.uid, 1u);
	/* A broken s3fs value does not hide a good fallback. */
	EXPECT_EQ(fromObject(1, kLastModified, { { "uid", "x" }, { "owner", "9" } }, false, defaults()).uid, 9u);
}

TEST(Attributes, TimesParseLikeS3fsAndRclone)
{
	EXPECT_EQ(parseTime("1700000000"), at(1'700'000'000));
	EXPECT_EQ(parseTime("1700000000.123456789"), at(1'700'000'000, 123'456'789));
	/* rclone writes a decimal fraction of any length. */
	EXPECT_EQ(parseTime("1592834640.5"), at(1'592'834'640, 500'000'000));
	EXPECT_EQ(parseTime("1592834640.1234567899"), at(1'592'834'640, 123'456'789));
	EXPECT_EQ(parseTime("0"), at(0));
	EXPECT_EQ(parseTime("-1"), at(-1));
	EXPECT_EQ(parseTime("-1.5"), at(-2, 500'000'000));
	EXPECT_FALSE(parseTime(""));
	EXPECT_FALSE(parseTime("."));
	EXPECT_FALSE(parseTime("5."));
	EXPECT_FALSE(parseTime(".5"));
	EXPECT_FALSE(parseTime("--5"));
	EXPECT_FALSE(parseTime("1e9"));
	EXPECT_FALSE(parseTime("12.3x"));
	EXPECT_FALSE(parseTime("99999999999999"));
}

TEST(Attributes, TimesFormatAsS3fsWritesThem)
{
	EXPECT_EQ(formatTime(at(1'700'000'000)), "1700000000");
	EXPECT_EQ(formatTime(at(1'700'000'000, 5)), "1700000000.000000005");
	EXPECT_EQ(formatTime(at(1'700'000'000, 123'456'789)), "1700000000.123456789");
	EXPECT_EQ(formatTime(at(0)), "0");
	/* Negative times keep whole seconds, rounded down, so that they read back unambiguously. */
	EXPECT_EQ(formatTime(at(-2, 500'000'000)), "-2");
	EXPECT_EQ(formatTime(Timestamp(milliseconds(-1))), "-1");
}

TEST(Attributes, ToMetadataWritesWhatS3fsWrites)
{
	Attributes a;
	a.type = FileType::Regular;
	a.permissions = 0644;
	a.uid = 1000;
	a.gid = 100;
	a.size = 9;
	a.mtime = at(1'700'000'000, 5);
	a.atime = at(1'700'000'001);
	a.ctime = at(1'700'000'002, 999'999'999);
	EXPECT_EQ(toMetadata(a), (Metadata{ { "mode", "33188" },
					    { "uid", "1000" },
					    { "gid", "100" },
					    { "mtime", "1700000000.000000005" },
					    { "atime", "1700000001" },
					    { "ctime", "1700000002.999999999" } }));

	a.type = FileType::Directory;
	a.permissions = 0755;
	EXPECT_EQ(toMetadata(a).at("mode"), "16877");
	a.type = FileType::Symlink;
	a.permissions = 0777;
	EXPECT_EQ(toMetadata(a).at("mode"), "41471");
}

TEST(Attributes, RoundTripsEveryType)
{
	for (FileType t : { FileType::Regular, FileType::Directory, FileType::Symlink, FileType::Fifo,
			    FileType::Socket, FileType::CharDevice, FileType::BlockDevice }) {
		Attributes a;
		a.type = t;
		a.permissions = 01750;
		a.uid = 65534;
		a.gid = 4294967294u;
		a.size = 77;
		a.mtime = at(1'234'567'890, 1);
		a.atime = at(1'234'567'891, 20);
		a.ctime = at(1'234'567'892, 300);
		Attributes b = fromObject(77, kLastModified, toMetadata(a), false, defaults());
		EXPECT_EQ(b.type, a.type);
		EXPECT_EQ(b.mode(), a.mode());
		EXPECT_EQ(b.uid, a.uid);
		EXPECT_EQ(b.gid, a.gid);
		EXPECT_EQ(b.mtime, a.mtime);
		EXPECT_EQ(b.atime, a.atime);
		EXPECT_EQ(b.ctime, a.ctime);
		EXPECT_EQ(typeFromBits(typeBits(t)), t);
	}
}

TEST(Attributes, StoreAttributesKeepsOtherMetadata)
{
	Metadata m = { { "xattr", "%7B%7D" }, { "mode", "1" }, { "custom", "v" } };
	Attributes a = fromObject(0, kLastModified, {}, false, defaults());
	storeAttributes(a, m);
	EXPECT_EQ(m.at("xattr"), "%7B%7D");
	EXPECT_EQ(m.at("custom"), "v");
	EXPECT_EQ(m.at("mode"), "33188");
	EXPECT_EQ(m.at("uid"), "4242");
	EXPECT_EQ(m.at("mtime"), "1600000000");
	EXPECT_EQ(m.size(), 8u);
}

TEST(XattrCodec, RoundTripsEveryByteAndEveryLength)
{
	Xattrs in;
	std::string all;
	for (int b = 0; b < 256; ++b)
		all += static_cast<char>(b);
	for (std::size_t len = 0; len < 7; ++len)
		in["user.len" + std::to_string(len)] = all.substr(250, len) + all.substr(0, len);
	in["user.all"] = all;
	in["user.\xc3\xa9t\xc3\xa9"] = "utf-8 name";
	std::string encoded = formatXattrs(in);
	for (char c : encoded)
		EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)) || std::string_view("%-_.~").find(c) != std::string_view::npos)
			<< "a header value must stay plain ASCII: " << c;
	EXPECT_EQ(parseXattrs(encoded), in);
	EXPECT_TRUE(parseXattrs(formatXattrs({})).empty());
}

TEST(XattrCodec, ReadsWhatS3fsWritesAndSkipsGarbage)
{
	/* {"user.a":"eA==","user.b":""} as s3fs percent-encodes it (upper-case escapes). */
	auto x = parseXattrs("%7B%22user.a%22%3A%22eA%3D%3D%22%2C%22user.b%22%3A%22%22%7D");
	ASSERT_EQ(x.size(), 2u);
	EXPECT_EQ(x.at("user.a"), "x");
	EXPECT_EQ(x.at("user.b"), "");
	EXPECT_TRUE(parseXattrs("not json").empty());
	EXPECT_TRUE(parseXattrs("%7B%22user.a%22%7D").empty()); /* no value */
	auto partial = parseXattrs("{\"user.bad\":\"***\",\"user.ok\":\"eQ==\"}");
	ASSERT_EQ(partial.size(), 1u) << "a malformed pair is skipped, the rest kept";
	EXPECT_EQ(partial.at("user.ok"), "y");
	EXPECT_FALSE(xattrNameStorable("user.a,b"));
	EXPECT_FALSE(xattrNameStorable("user.a:b"));
	EXPECT_FALSE(xattrNameStorable("user.\"q\""));
	EXPECT_TRUE(xattrNameStorable("user.mime_type"));
	EXPECT_EQ(metadataBytes({ { "ab", "cde" }, { "f", "" } }), 6u);
}

} /* namespace */
