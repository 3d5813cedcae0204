// Filesystem namespace operations against the fake bucket: lookups, listings, directories, attributes, xattrs.
#include "fs/filesystem.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>

#include <gtest/gtest.h>

#include "fs/fake_object_store.h"
#include "pool/block_pool.h"

using namespace vfs::fs;

namespace {

std::span<const std::byte> bytesOf(std::string_view s)
{
	return std::as_bytes(std::span(s.data(), s.size()));
}

std::string text(const std::optional<std::vector<std::byte>> &bytes)
{
	if (!bytes)
		return "<missing>";
	return std::string(reinterpret_cast<const char *>(bytes->data()), bytes->size());
}

/* The value, or the error as text: a failing lookup shows in the expectation instead of aborting. */
std::string xattrOf(Filesystem &fs, Ino ino, std::string_view name)
{
	auto r = fs.getxattr(ino, name);
	return r.ok() ? *r : "<" + r.error().toString() + ">";
}

std::uint64_t totalCalls(const FakeObjectStore::Stats &stats)
{
	std::uint64_t n = 0;
	for (const auto &op : stats.ops)
		n += op.calls;
	return n;
}

class FilesystemTest : public ::testing::Test
{
protected:
	FilesystemTest()
	{
		options_.defaults = MountDefaults{ 1000, 100, 022 };
		options_.attrTimeout = std::chrono::milliseconds(0);
		options_.skipLog = [this](const SkippedKey &k) { skipped_.push_back(k.key); };
	}

	void put(const std::string &key, std::string_view body = "x", Metadata metadata = {})
	{
		PutOptions o;
		o.metadata = std::move(metadata);
		ASSERT_TRUE(store_.put(key, bytesOf(body), o).ok()) << key;
	}

	std::string readAll(Filesystem &fs, Ino ino, std::size_t size)
	{
		std::string out(size + 16, '\0');
		auto got = fs.read(ino, 0, std::as_writable_bytes(std::span(out.data(), out.size())));
		EXPECT_TRUE(got.ok()) << got.error().toString();
		out.resize(got.ok() ? *got : 0);
		return out;
	}

	std::vector<std::string> keysUnder(const std::string &prefix)
	{
		std::vector<std::string> out;
		for (const std::string &k : store_.keys())
			if (k.starts_with(prefix))
				out.push_back(k);
		return out;
	}

	FakeObjectStore store_;
	vfs::pool::BlockPool pool_{ vfs::pool::PoolConfig{ 16 << 20, 256 << 20 } };
	FilesystemOptions options_;
	std::vector<std::string> skipped_;
};

TEST_F(FilesystemTest, LookupFilesImplicitAndMarkedDirectories)
{
	put("top.txt", "hello");
	put("implicit/child");
	put("marked/", "", { { "mode", "16832" }, { "uid", "7" } }); /* S_IFDIR|0700 */
	Filesystem fs(store_, pool_, options_);

	auto file = fs.lookup(kRootIno, "top.txt");
	ASSERT_TRUE(file.ok()) << file.error().toString();
	EXPECT_EQ(file->attributes.type, FileType::Regular);
	EXPECT_EQ(file->attributes.size, 5u);
	EXPECT_EQ(file->attributes.permissions, 0644u); /* awscli-style: 0666 & ~022 */
	EXPECT_EQ(file->attributes.uid, 1000u);

	auto implicit = fs.lookup(kRootIno, "implicit");
	ASSERT_TRUE(implicit.ok());
	EXPECT_EQ(implicit->attributes.type, FileType::Directory);
	EXPECT_EQ(implicit->attributes.permissions, 0755u);

	auto marked = fs.lookup(kRootIno, "marked");
	ASSERT_TRUE(marked.ok());
	EXPECT_EQ(marked->attributes.type, FileType::Directory);
	EXPECT_EQ(marked->attributes.permissions, 0700u);
	EXPECT_EQ(marked->attributes.uid, 7u);

	auto child = fs.lookup(implicit->ino, "child");
	ASSERT_TRUE(child.ok());
	EXPECT_EQ(fs.lookup(kRootIno, "missing").error().code(), ENOENT);
	EXPECT_EQ(fs.lookup(file->ino, "x").error().code(), ENOTDIR);
	EXPECT_EQ(fs.lookup(kRootIno, std::string(256, 'a')).error().code(), ENAMETOOLONG);
	/* The same name keeps its inode. */
	EXPECT_EQ(fs.lookup(kRootIno, "top.txt")->ino, file->ino);
}

TEST_F(FilesystemTest, ReaddirListsNamesAndSkipsInvalidKeys)
{
	for (int i = 0; i < 50; ++i)
		put("dir/f" + std::to_string(i));
	put("dir/sub/deep");
	put("dir//double");
	put("dir/./dot");
	Filesystem fs(store_, pool_, options_);
	auto dir = fs.lookup(kRootIno, "dir");
	ASSERT_TRUE(dir.ok());
	auto entries = fs.readdir(dir->ino);
	ASSERT_TRUE(entries.ok()) << entries.error().toString();
	EXPECT_EQ(entries->size(), 51u);
	int dirs = 0;
	for (const auto &e : *entries)
		dirs += e.attr.attributes.type == FileType::Directory;
	EXPECT_EQ(dirs, 1);
	EXPECT_EQ(skipped_.size(), 2u);
	/* Inodes from readdir are the ones lookup gives. */
	auto f0 = fs.lookup(dir->ino, "f0");
	bool same = false;
	for (const auto &e : *entries)
		same |= e.name == "f0" && e.attr.ino == f0->ino;
	EXPECT_TRUE(same);
}

TEST_F(FilesystemTest, MkdirRmdirAndNotEmpty)
{
	Filesystem fs(store_, pool_, options_);
	Caller caller{ 42, 43, 022 };
	auto d = fs.mkdir(kRootIno, "new", 0777, caller);
	ASSERT_TRUE(d.ok()) << d.error().toString();
	EXPECT_EQ(d->attributes.permissions, 0755u);
	EXPECT_EQ(d->attributes.uid, 42u);
	auto marker = store_.object("new/");
	ASSERT_TRUE(marker.has_value());
	EXPECT_EQ(marker->metadata.at("mode"), std::to_string(040755));
	EXPECT_EQ(marker->contentType, std::string(kDirectoryContentType));
	std::size_t inodes = fs.inodeCount();
	EXPECT_EQ(fs.mkdir(kRootIno, "new", 0777, caller).error().code(), EEXIST);
	EXPECT_EQ(fs.symlink("t", kRootIno, "new", caller).error().code(), EEXIST);
	fs.forget(d->ino, 1); /* the kernel's one reference, from mkdir */
	EXPECT_EQ(fs.inodeCount(), inodes - 1) << "a refused mkdir must not count a lookup";

	put("new/file");
	EXPECT_EQ(fs.rmdir(kRootIno, "new").error().code(), ENOTEMPTY);
	auto again = fs.lookup(kRootIno, "new");
	ASSERT_TRUE(again.ok());
	ASSERT_TRUE(fs.unlink(again->ino, "file").ok());
	EXPECT_FALSE(store_.object("new/file").has_value());
	ASSERT_TRUE(fs.rmdir(kRootIno, "new").ok());
	EXPECT_FALSE(store_.object("new/").has_value());
	EXPECT_EQ(fs.lookup(kRootIno, "new").error().code(), ENOENT);

	put("plain");
	EXPECT_EQ(fs.rmdir(kRootIno, "plain").error().code(), ENOTDIR);
	put("adir/x");
	EXPECT_EQ(fs.unlink(kRootIno, "adir").error().code(), EISDIR);
}

TEST_F(FilesystemTest, SymlinksAsS3fsStoresThem)
{
	Filesystem fs(store_, pool_, options_);
	auto l = fs.symlink("../target/file", kRootIno, "link", Caller{ 1, 2, 022 });
	ASSERT_TRUE(l.ok()) << l.error().toString();
	auto stored = store_.contents("link");
	ASSERT_TRUE(stored.has_value());
	EXPECT_EQ(std::string(reinterpret_cast<const char *>(stored->data()), stored->size()), "../target/file");
	EXPECT_EQ(store_.object("link")->metadata.at("mode"), std::to_string(0120777));

	/* A listing (no metadata) does not turn the known symlink into a file. */
	ASSERT_TRUE(fs.readdir(kRootIno).ok());
	EXPECT_EQ(*fs.readlink(l->ino), "../target/file");

	Filesystem again(store_, pool_, options_);
	ASSERT_TRUE(again.readdir(kRootIno).ok()); /* seen in a listing first, then looked up */
	auto found = again.lookup(kRootIno, "link");
	ASSERT_TRUE(found.ok());
	EXPECT_EQ(found->attributes.type, FileType::Symlink);
	EXPECT_EQ(*again.readlink(found->ino), "../target/file");
}

TEST_F(FilesystemTest, ChmodChownUtimensKeepOtherMetadata)
{
	put("f", "data", { { "user-key", "kept" } });
	Filesystem fs(store_, pool_, options_);
	auto f = fs.lookup(kRootIno, "f");
	ASSERT_TRUE(f.ok());
	SetAttrRequest req;
	req.permissions = 0600;
	req.uid = 5;
	req.mtime = Timestamp(std::chrono::seconds(1700000000));
	auto changed = fs.setattr(f->ino, req);
	ASSERT_TRUE(changed.ok()) << changed.error().toString();
	EXPECT_EQ(changed->attributes.permissions, 0600u);
	auto obj = store_.object("f");
	EXPECT_EQ(obj->metadata.at("mode"), std::to_string(0100600));
	EXPECT_EQ(obj->metadata.at("uid"), "5");
	EXPECT_EQ(obj->metadata.at("mtime"), "1700000000");
	EXPECT_EQ(obj->metadata.at("user-key"), "kept");
	EXPECT_EQ(store_.contents("f")->size(), 4u);

	/* An implied directory gets a marker to hold its new mode. */
	put("impl/x");
	auto dir = fs.lookup(kRootIno, "impl");
	SetAttrRequest chmod;
	chmod.permissions = 0750;
	ASSERT_TRUE(fs.setattr(dir->ino, chmod).ok());
	EXPECT_EQ(store_.object("impl/")->metadata.at("mode"), std::to_string(040750));

	SetAttrRequest trunc;
	trunc.size = 0;
	ASSERT_TRUE(fs.setattr(f->ino, trunc).ok());
	EXPECT_EQ(store_.contents("f")->size(), 0u);
	EXPECT_EQ(store_.object("f")->metadata.at("user-key"), "kept");
}

TEST_F(FilesystemTest, RenameFilesByCopyAndDelete)
{
	put("a.txt", "alpha", { { "mode", "33152" } });
	put("b.txt", "beta");
	put("d/x", "x");
	Filesystem fs(store_, pool_, options_);
	auto a = fs.lookup(kRootIno, "a.txt");
	auto d = fs.lookup(kRootIno, "d");
	ASSERT_TRUE(a.ok() && d.ok());

	ASSERT_TRUE(fs.rename(kRootIno, "a.txt", d->ino, "moved.txt", false).ok());
	EXPECT_FALSE(store_.contents("a.txt").has_value());
	auto moved = store_.object("d/moved.txt");
	ASSERT_TRUE(moved.has_value());
	EXPECT_EQ(moved->metadata.at("mode"), "33152"); /* metadata travels with the copy */
	auto again = fs.lookup(d->ino, "moved.txt");
	ASSERT_TRUE(again.ok());
	EXPECT_EQ(again->ino, a->ino); /* the same inode, under its new name */
	EXPECT_EQ(fs.lookup(kRootIno, "a.txt").error().code(), ENOENT);

	EXPECT_EQ(fs.rename(d->ino, "moved.txt", kRootIno, "b.txt", true).error().code(), EEXIST);
	ASSERT_TRUE(fs.rename(d->ino, "moved.txt", kRootIno, "b.txt", false).ok());
	EXPECT_EQ(std::string(reinterpret_cast<const char *>(store_.contents("b.txt")->data()), 5), "alpha");
	EXPECT_EQ(fs.rename(kRootIno, "nope", kRootIno, "e", false).error().code(), ENOENT);
	EXPECT_EQ(fs.rename(kRootIno, "b.txt", kRootIno, "d", false).error().code(), EISDIR);
}

TEST_F(FilesystemTest, RenameUploadsUnsavedDataFirst)
{
	Filesystem fs(store_, pool_, options_);
	auto f = fs.create(kRootIno, "draft", 0644, O_WRONLY, Caller{});
	ASSERT_TRUE(f.ok());
	std::string text = "unsaved words";
	ASSERT_TRUE(fs.write(f->ino, 0, bytesOf(text)).ok());
	ASSERT_TRUE(fs.rename(kRootIno, "draft", kRootIno, "final", false).ok());
	auto stored = store_.contents("final");
	ASSERT_TRUE(stored.has_value());
	EXPECT_EQ(std::string(reinterpret_cast<const char *>(stored->data()), stored->size()), text);
	ASSERT_TRUE(fs.release(f->ino).ok());
}

TEST_F(FilesystemTest, ForgetReleasesInodesButKeepsRoot)
{
	put("a");
	Filesystem fs(store_, pool_, options_);
	auto a = fs.lookup(kRootIno, "a");
	std::size_t before = fs.inodeCount();
	fs.forget(a->ino, 1);
	EXPECT_EQ(fs.inodeCount(), before - 1);
	fs.forget(kRootIno, 100);
	EXPECT_TRUE(fs.getattr(kRootIno).ok());
	EXPECT_EQ(fs.getattr(a->ino).error().code(), ESTALE);
}

TEST_F(FilesystemTest, StoreErrorsComeBackAsErrno)
{
	Filesystem fs(store_, pool_, options_);
	store_.failNext(FakeObjectStore::Op::List, EACCES);
	EXPECT_EQ(fs.lookup(kRootIno, "x").error().code(), EACCES);
	store_.failNext(FakeObjectStore::Op::Put, EIO);
	EXPECT_EQ(fs.mkdir(kRootIno, "d", 0755, Caller{}).error().code(), EIO);
	EXPECT_FALSE(store_.object("d/").has_value());
}

TEST_F(FilesystemTest, ChangesByOtherClientsShowAfterTheTimeout)
{
	put("f", "one");
	Filesystem fs(store_, pool_, options_);
	auto f = fs.lookup(kRootIno, "f");
	put("f", "longer content");
	EXPECT_EQ(fs.getattr(f->ino)->attributes.size, 14u);
	ASSERT_TRUE(store_.remove("f").ok());
	EXPECT_EQ(fs.getattr(f->ino).error().code(), ENOENT);
}

} /* namespace */

TEST_F(FilesystemTest, MetricsCountUploadsAndFailures)
{
	Filesystem fs(store_, pool_, options_);
	auto f = fs.create(kRootIno, "counted", 0644, O_WRONLY, Caller{});
	ASSERT_TRUE(f.ok());
	std::string text(1000, 'm');
	ASSERT_TRUE(fs.write(f->ino, 0, bytesOf(text)).ok());
	ASSERT_TRUE(fs.flush(f->ino).ok());
	auto m = fs.metrics();
	EXPECT_EQ(m.flushes, 1u);
	EXPECT_EQ(m.puts, 1u);
	EXPECT_EQ(m.bytesUploaded, 1000u);
	EXPECT_EQ(m.uploadsInFlight, 0u);
	EXPECT_EQ(m.flushErrors, 0u);

	ASSERT_TRUE(fs.write(f->ino, 0, bytesOf("changed")).ok());
	store_.failNext(FakeObjectStore::Op::Put, EIO);
	EXPECT_FALSE(fs.flush(f->ino).ok());
	m = fs.metrics();
	EXPECT_EQ(m.flushErrors, 1u);
	EXPECT_EQ(m.flushes, 1u);
	ASSERT_TRUE(fs.flush(f->ino).ok());
	EXPECT_EQ(fs.metrics().bytesUploaded, 2000u);
	ASSERT_TRUE(fs.release(f->ino).ok());
}

TEST_F(FilesystemTest, ReaddirFetchesStoredAttributesInParallelOnce)
{
	options_.attrTimeout = std::chrono::milliseconds(60000);
	for (int i = 0; i < 40; ++i)
		put("d/f" + std::to_string(i), "abc", Metadata{ { "mode", std::to_string(0100600) }, { "uid", "42" } });
	put("d/marked/", "", Metadata{ { "mode", std::to_string(040700) } });
	put("d/implicit/x");
	Filesystem fs(store_, pool_, options_);
	auto dir = fs.lookup(kRootIno, "d");
	ASSERT_TRUE(dir.ok());
	store_.resetStats();
	auto entries = fs.readdir(dir->ino);
	ASSERT_TRUE(entries.ok()) << entries.error().toString();
	ASSERT_EQ(entries->size(), 42u);
	for (const auto &e : *entries) {
		EXPECT_TRUE(e.complete) << e.name;
		if (e.name == "marked")
			EXPECT_EQ(e.attr.attributes.permissions, 0700u);
		else if (e.name == "implicit")
			EXPECT_EQ(e.attr.attributes.type, FileType::Directory);
		else {
			EXPECT_EQ(e.attr.attributes.permissions, 0600u) << e.name;
			EXPECT_EQ(e.attr.attributes.uid, 42u) << e.name;
		}
	}
	/* One HEAD per entry (the implicit directory's marker HEAD says 404)... */
	EXPECT_EQ(store_.stats()[FakeObjectStore::Op::Head].calls, 42u);
	/* ...and stat() within the TTL asks nothing more; neither does a second listing's metadata. */
	for (const auto &e : *entries)
		ASSERT_TRUE(fs.getattr(e.attr.ino).ok());
	ASSERT_TRUE(fs.readdir(dir->ino).ok());
	EXPECT_EQ(store_.stats()[FakeObjectStore::Op::Head].calls, 42u);
}

TEST_F(FilesystemTest, ReaddirWithoutMetadataRequestsMarksEntriesIncomplete)
{
	options_.listMetadataRequests = 0;
	put("e/f", "abc", Metadata{ { "mode", std::to_string(0100600) } });
	Filesystem fs(store_, pool_, options_);
	auto dir = fs.lookup(kRootIno, "e");
	ASSERT_TRUE(dir.ok());
	store_.resetStats();
	auto entries = fs.readdir(dir->ino);
	ASSERT_TRUE(entries.ok());
	ASSERT_EQ(entries->size(), 1u);
	EXPECT_FALSE(entries->front().complete);
	EXPECT_EQ(store_.stats()[FakeObjectStore::Op::Head].calls, 0u);
	/* stat() then finds the stored mode. */
	auto attr = fs.getattr(entries->front().attr.ino);
	ASSERT_TRUE(attr.ok());
	EXPECT_EQ(attr->attributes.permissions, 0600u);
}

TEST_F(FilesystemTest, ClosedListingsForgetInodesNobodyHolds)
{
	for (int i = 0; i < 30; ++i)
		put("l/f" + std::to_string(i));
	Filesystem fs(store_, pool_, options_);
	auto dir = fs.lookup(kRootIno, "l");
	ASSERT_TRUE(dir.ok());
	std::size_t before = fs.inodeCount();
	auto first = fs.readdir(dir->ino);
	auto second = fs.readdir(dir->ino);
	ASSERT_TRUE(first.ok() && second.ok());
	EXPECT_EQ(fs.inodeCount(), before + 30);
	/* The kernel took one entry (readdirplus); closing one listing keeps the other's. */
	fs.addLookup(first->front().attr.ino);
	fs.releaseListing(*first);
	EXPECT_EQ(fs.inodeCount(), before + 30);
	EXPECT_EQ((*second)[5].attr.ino, (*first)[5].attr.ino);
	fs.releaseListing(*second);
	EXPECT_EQ(fs.inodeCount(), before + 1);
	ASSERT_TRUE(fs.getattr(first->front().attr.ino).ok());
	fs.forget(first->front().attr.ino, 1);
	EXPECT_EQ(fs.inodeCount(), before);
}

TEST_F(FilesystemTest, RenameDirectoryMovesEveryKeyInParallel)
{
	PutOptions marker;
	marker.metadata = { { "mode", "16832" }, { "user-key", "dir" } }; /* S_IFDIR|0700 */
	marker.contentType = std::string(kDirectoryContentType);
	ASSERT_TRUE(store_.put("src/", {}, marker).ok());
	for (int i = 0; i < 60; ++i)
		put("src/f" + std::to_string(i), "body " + std::to_string(i), { { "mode", "33188" } });
	put("src/a/b/c/deep", "deep");
	put("src/a/mid", "mid");
	put("srcsibling/keep", "not moved"); /* shares the prefix "src" but not "src/" */
	store_.setPageSize(7);                /* many pages */
	Filesystem fs(store_, pool_, options_);
	auto src = fs.lookup(kRootIno, "src");
	ASSERT_TRUE(src.ok());
	auto a = fs.lookup(src->ino, "a");
	auto deep = fs.lookup(*&a->ino, "mid");
	ASSERT_TRUE(deep.ok());
	/* An open file below with unsaved data. */
	auto f0 = fs.lookup(src->ino, "f0");
	ASSERT_TRUE(f0.ok());
	ASSERT_TRUE(fs.open(f0->ino, O_RDWR).ok());
	ASSERT_TRUE(fs.write(f0->ino, 0, bytesOf("BODY")).ok());

	store_.resetStats();
	ASSERT_TRUE(fs.rename(kRootIno, "src", kRootIno, "dst", false).ok());
	auto stats = store_.stats();
	EXPECT_EQ(stats[FakeObjectStore::Op::Copy].calls, 63u); /* 60 files, 2 deeper ones, the marker */
	EXPECT_EQ(stats[FakeObjectStore::Op::RemoveMany].calls, 1u);
	EXPECT_EQ(stats[FakeObjectStore::Op::Remove].calls, 0u);
	EXPECT_TRUE(keysUnder("src/").empty());
	EXPECT_EQ(keysUnder("dst/").size(), 63u);
	EXPECT_EQ(text(store_.contents("dst/f7")), "body 7");
	EXPECT_EQ(text(store_.contents("dst/a/b/c/deep")), "deep");
	EXPECT_EQ(text(store_.contents("dst/f0")), "BODY 0"); /* the unsaved write went up first */
	EXPECT_EQ(store_.object("dst/")->metadata.at("user-key"), "dir");
	EXPECT_EQ(store_.object("dst/")->contentType, std::string(kDirectoryContentType));
	EXPECT_EQ(store_.object("dst/f3")->metadata.at("mode"), "33188");
	EXPECT_EQ(text(store_.contents("srcsibling/keep")), "not moved");

	/* The inode table follows: same inodes, new keys; the open file flushes to the new name. */
	auto dst = fs.lookup(kRootIno, "dst");
	ASSERT_TRUE(dst.ok());
	EXPECT_EQ(dst->ino, src->ino);
	EXPECT_EQ(dst->attributes.permissions, 0700u);
	EXPECT_EQ(fs.lookup(kRootIno, "src").error().code(), ENOENT);
	EXPECT_EQ(fs.lookup(dst->ino, "f0")->ino, f0->ino);
	EXPECT_EQ(readAll(fs, f0->ino, 6), "BODY 0");
	ASSERT_TRUE(fs.write(f0->ino, 0, bytesOf("body")).ok());
	ASSERT_TRUE(fs.flush(f0->ino).ok());
	ASSERT_TRUE(fs.release(f0->ino).ok());
	EXPECT_EQ(text(store_.contents("dst/f0")), "body 0");
	EXPECT_FALSE(store_.object("src/f0").has_value());
	EXPECT_EQ(readAll(fs, deep->ino, 3), "mid"); /* a known descendant two levels down */
}

TEST_F(FilesystemTest, RenameDirectoryFollowsPosixRules)
{
	put("d/x", "x");
	put("d/sub/y", "y");
	put("empty/", "", { { "mode", "16877" } });
	put("full/z", "z");
	put("file", "f");
	Filesystem fs(store_, pool_, options_);
	auto d = fs.lookup(kRootIno, "d");
	auto sub = fs.lookup(d->ino, "sub");
	ASSERT_TRUE(sub.ok());

	EXPECT_EQ(fs.rename(kRootIno, "d", kRootIno, "empty", true).error().code(), EEXIST);
	EXPECT_EQ(fs.rename(kRootIno, "d", kRootIno, "full", false).error().code(), ENOTEMPTY);
	EXPECT_EQ(fs.rename(kRootIno, "d", kRootIno, "file", false).error().code(), ENOTDIR);
	EXPECT_EQ(fs.rename(kRootIno, "file", kRootIno, "empty", false).error().code(), EISDIR);
	EXPECT_EQ(fs.rename(kRootIno, "d", sub->ino, "inside", false).error().code(), EINVAL);
	EXPECT_EQ(fs.rename(d->ino, "sub", kRootIno, "d", false).error().code(), ENOTEMPTY); /* onto its parent */
	EXPECT_EQ(keysUnder("d/").size(), 2u) << "a refusal moves nothing";

	/* An implicit directory onto an empty one: the target's marker is replaced by one with the source's mode. */
	ASSERT_TRUE(fs.rename(kRootIno, "d", kRootIno, "empty", false).ok());
	EXPECT_TRUE(keysUnder("d/").empty());
	EXPECT_EQ(text(store_.contents("empty/x")), "x");
	EXPECT_EQ(text(store_.contents("empty/sub/y")), "y");
	ASSERT_TRUE(store_.object("empty/").has_value());
	EXPECT_EQ(store_.object("empty/")->metadata.at("mode"), std::to_string(040755));
	EXPECT_EQ(fs.lookup(kRootIno, "empty")->ino, d->ino);

	/* An implicit directory to a new name stays implicit: no marker is invented. */
	ASSERT_TRUE(fs.rename(kRootIno, "full", kRootIno, "fuller", false).ok());
	EXPECT_FALSE(store_.object("fuller/").has_value());
	EXPECT_EQ(text(store_.contents("fuller/z")), "z");
	EXPECT_FALSE(store_.object("full/z").has_value());

	/* An old s3fs directory object ("olddir", no slash, S_IFDIR) becomes a marker at the new name. */
	put("olddir", "", { { "mode", std::to_string(040750) } });
	put("olddir/in", "i");
	ASSERT_TRUE(fs.rename(kRootIno, "olddir", kRootIno, "newdir", false).ok());
	EXPECT_FALSE(store_.object("olddir").has_value());
	EXPECT_FALSE(store_.object("olddir/in").has_value());
	ASSERT_TRUE(store_.object("newdir/").has_value());
	EXPECT_EQ(store_.object("newdir/")->metadata.at("mode"), std::to_string(040750));
	EXPECT_EQ(text(store_.contents("newdir/in")), "i");
}

TEST_F(FilesystemTest, RenameDirectoryStopsAtAFailedCopyAndDeletesNothing)
{
	for (int i = 0; i < 40; ++i)
		put("big/f" + std::to_string(i), "v");
	Filesystem fs(store_, pool_, options_);
	std::atomic<int> copies{ 0 };
	store_.setFaultHook([&](FakeObjectStore::Op op, const std::string &) {
		return op == FakeObjectStore::Op::Copy && ++copies == 12 ? EACCES : 0;
	});
	auto r = fs.rename(kRootIno, "big", kRootIno, "moved", false);
	ASSERT_FALSE(r.ok());
	EXPECT_EQ(r.error().code(), EACCES);
	store_.setFaultHook({});
	EXPECT_EQ(keysUnder("big/").size(), 40u);
	EXPECT_TRUE(keysUnder("moved/").empty()) << "the copies made are taken back";
	EXPECT_LT(copies.load(), 40) << "no new copy starts after the failure";
	EXPECT_TRUE(fs.lookup(kRootIno, "big").ok());
	EXPECT_EQ(fs.lookup(kRootIno, "moved").error().code(), ENOENT);
}

TEST_F(FilesystemTest, RenameDirectoryWhoseDeleteFailsLeavesBothTreesWhole)
{
	for (int i = 0; i < 5; ++i)
		put("t/f" + std::to_string(i), "v");
	Filesystem fs(store_, pool_, options_);
	store_.failNext(FakeObjectStore::Op::RemoveMany, EIO);
	auto r = fs.rename(kRootIno, "t", kRootIno, "u", false);
	ASSERT_FALSE(r.ok());
	EXPECT_EQ(r.error().code(), EIO);
	EXPECT_EQ(keysUnder("t/").size(), 5u);
	EXPECT_EQ(keysUnder("u/").size(), 5u);
	/* A new key past S3's limit is refused before anything is copied. */
	store_.resetStats();
	std::string longName(250, 'n');
	auto made = fs.mkdir(kRootIno, longName, 0755, Caller{});
	ASSERT_TRUE(made.ok());
	put(longName + "/" + std::string(250, 'a') + "/" + std::string(250, 'b') + "/" + std::string(250, 'c') + "/" + std::string(20, 'd'));
	EXPECT_EQ(fs.rename(kRootIno, longName, kRootIno, longName + "x", false).error().code(), ENAMETOOLONG);
	EXPECT_EQ(store_.stats()[FakeObjectStore::Op::Copy].calls, 0u);
}

TEST_F(FilesystemTest, RenameOverAnOpenFileReplacesItAndKeepsItsReaders)
{
	put("new.txt", "the new contents");
	put("old.txt", "old contents");
	Filesystem fs(store_, pool_, options_);
	auto old = fs.lookup(kRootIno, "old.txt");
	ASSERT_TRUE(old.ok());
	ASSERT_TRUE(fs.open(old->ino, O_RDONLY).ok());
	ASSERT_TRUE(fs.rename(kRootIno, "new.txt", kRootIno, "old.txt", false).ok());
	EXPECT_EQ(text(store_.contents("old.txt")), "the new contents");
	EXPECT_FALSE(store_.object("new.txt").has_value());
	EXPECT_EQ(readAll(fs, old->ino, 12), "old contents") << "the replaced file's descriptor reads what it had";
	auto now = fs.lookup(kRootIno, "old.txt");
	ASSERT_TRUE(now.ok());
	EXPECT_NE(now->ino, old->ino);
	EXPECT_EQ(now->attributes.size, 16u);
	ASSERT_TRUE(fs.flush(old->ino).ok());
	ASSERT_TRUE(fs.release(old->ino).ok());
	EXPECT_EQ(text(store_.contents("old.txt")), "the new contents") << "the replaced file never uploads";
}

TEST_F(FilesystemTest, UnlinkedOpenFileStaysReadableAndWritableUntilRelease)
{
	std::string body;
	for (int i = 0; i < 20000; ++i)
		body += static_cast<char>('a' + i % 26);
	put("doomed", body);
	Filesystem fs(store_, pool_, options_);
	auto f = fs.lookup(kRootIno, "doomed");
	ASSERT_TRUE(f.ok());
	ASSERT_TRUE(fs.open(f->ino, O_RDWR).ok());
	ASSERT_TRUE(fs.write(f->ino, 5, bytesOf("XYZ")).ok()); /* unsaved too */
	ASSERT_TRUE(fs.unlink(kRootIno, "doomed").ok());
	EXPECT_FALSE(store_.object("doomed").has_value()) << "the name is gone at once";
	EXPECT_EQ(fs.lookup(kRootIno, "doomed").error().code(), ENOENT);

	store_.resetStats();
	std::string expected = body;
	expected.replace(5, 3, "XYZ");
	EXPECT_EQ(readAll(fs, f->ino, body.size()), expected);
	ASSERT_TRUE(fs.write(f->ino, body.size(), bytesOf("tail")).ok());
	EXPECT_EQ(readAll(fs, f->ino, body.size() + 4), expected + "tail");
	auto attr = fs.getattr(f->ino);
	ASSERT_TRUE(attr.ok());
	EXPECT_EQ(attr->nlink, 0u);
	EXPECT_EQ(attr->attributes.size, body.size() + 4);
	ASSERT_TRUE(fs.flush(f->ino).ok());
	auto flushed = fs.flushAll();
	ASSERT_TRUE(flushed.ok());
	EXPECT_EQ(*flushed, 0u);
	EXPECT_EQ(totalCalls(store_.stats()), 0u) << "an unlinked file never goes back to S3";
	std::size_t before = fs.inodeCount();
	ASSERT_TRUE(fs.release(f->ino).ok());
	fs.forget(f->ino, 1);
	EXPECT_EQ(fs.inodeCount(), before - 1);
	EXPECT_FALSE(store_.object("doomed").has_value());
}

TEST_F(FilesystemTest, UnlinkOfAnOpenFileTheMemoryCannotHoldIsRefused)
{
	vfs::pool::BlockPool small{ vfs::pool::PoolConfig{ 1 << 20, 3 << 20 } };
	FilesystemOptions options = options_;
	options.fileData.blockSize = 256 << 10;
	put("huge", std::string(6 << 20, 'h'));
	Filesystem fs(store_, small, options);
	auto f = fs.lookup(kRootIno, "huge");
	ASSERT_TRUE(f.ok());
	ASSERT_TRUE(fs.open(f->ino, O_RDONLY).ok());
	auto r = fs.unlink(kRootIno, "huge");
	ASSERT_FALSE(r.ok());
	EXPECT_EQ(r.error().code(), ENOBUFS);
	EXPECT_TRUE(store_.object("huge").has_value()) << "refused: nothing deleted";
	ASSERT_TRUE(fs.release(f->ino).ok());
	/* Closed, the same unlink just deletes. */
	ASSERT_TRUE(fs.unlink(kRootIno, "huge").ok());
	EXPECT_FALSE(store_.object("huge").has_value());
}

TEST_F(FilesystemTest, XattrsStoredAsS3fsDoes)
{
	put("f", "data", { { "user-key", "kept" } });
	Filesystem fs(store_, pool_, options_);
	auto f = fs.lookup(kRootIno, "f");
	ASSERT_TRUE(f.ok());
	ASSERT_TRUE(fs.setxattr(f->ino, "user.a", "b", XattrFlags::Any).ok());
	auto obj = store_.object("f");
	/* {"user.a":"Yg=="} percent-encoded, as s3fs writes it. */
	EXPECT_EQ(obj->metadata.at("xattr"), "%7B%22user.a%22%3A%22Yg%3D%3D%22%7D");
	EXPECT_EQ(obj->metadata.at("user-key"), "kept");
	EXPECT_EQ(text(store_.contents("f")), "data");
	EXPECT_EQ(xattrOf(fs, f->ino, "user.a"), "b");

	std::string binary("\0\x01\xff,:\"{}", 8);
	ASSERT_TRUE(fs.setxattr(f->ino, "user.bin", binary, XattrFlags::Any).ok());
	EXPECT_EQ(xattrOf(fs, f->ino, "user.bin"), binary);
	EXPECT_EQ(fs.setxattr(f->ino, "user.a", "c", XattrFlags::Create).error().code(), EEXIST);
	EXPECT_EQ(fs.setxattr(f->ino, "user.new", "c", XattrFlags::Replace).error().code(), ENODATA);
	ASSERT_TRUE(fs.setxattr(f->ino, "user.a", "c", XattrFlags::Replace).ok());
	EXPECT_EQ(xattrOf(fs, f->ino, "user.a"), "c");
	EXPECT_EQ(*fs.listxattr(f->ino), (std::vector<std::string>{ "user.a", "user.bin" }));
	EXPECT_EQ(fs.getxattr(f->ino, "user.none").error().code(), ENODATA);
	EXPECT_EQ(fs.setxattr(f->ino, "user.x,y", "v", XattrFlags::Any).error().code(), EINVAL);
	EXPECT_EQ(fs.setxattr(f->ino, "user.", "v", XattrFlags::Any).error().code(), EINVAL);

	/* Past S3's 2 KiB: E2BIG, nothing stored. */
	std::string etag = store_.object("f")->etag;
	EXPECT_EQ(fs.setxattr(f->ino, "user.big", std::string(2000, 'v'), XattrFlags::Any).error().code(), E2BIG);
	EXPECT_EQ(store_.object("f")->etag, etag);

	ASSERT_TRUE(fs.removexattr(f->ino, "user.a").ok());
	EXPECT_EQ(fs.removexattr(f->ino, "user.a").error().code(), ENODATA);
	ASSERT_TRUE(fs.removexattr(f->ino, "user.bin").ok());
	EXPECT_FALSE(store_.object("f")->metadata.count("xattr")) << "the entry goes with the last attribute";
	EXPECT_TRUE(fs.listxattr(f->ino)->empty());

	/* What s3fs wrote reads back (lower-case escapes, other namespaces kept but not shown). */
	put("g", "", { { "xattr", "%7b%22user.colour%22%3a%22Ymx1ZQ%3d%3d%22%2c%22system.posix_acl_access%22%3a%22AgAAAA%3d%3d%22%7d" } });
	auto g = fs.lookup(kRootIno, "g");
	EXPECT_EQ(xattrOf(fs, g->ino, "user.colour"), "blue");
	EXPECT_EQ(*fs.listxattr(g->ino), (std::vector<std::string>{ "user.colour" }));
	ASSERT_TRUE(fs.setxattr(g->ino, "user.size", "L", XattrFlags::Any).ok());
	auto kept = parseXattrs(store_.object("g")->metadata.at("xattr"));
	EXPECT_EQ(kept.size(), 3u) << "s3fs's system.* entry survives our rewrite";
}

TEST_F(FilesystemTest, KernelXattrNamespacesCostNoRequest)
{
	put("f", "data");
	Filesystem fs(store_, pool_, options_);
	auto f = fs.lookup(kRootIno, "f");
	ASSERT_TRUE(f.ok());
	store_.resetStats();
	/* EOPNOTSUPP, not ENODATA: ls -l stops asking security.selinux and system.posix_acl_* per file. */
	EXPECT_EQ(fs.getxattr(f->ino, "security.capability").error().code(), EOPNOTSUPP);
	EXPECT_EQ(fs.getxattr(f->ino, "security.selinux").error().code(), EOPNOTSUPP);
	EXPECT_EQ(fs.getxattr(f->ino, "system.posix_acl_access").error().code(), EOPNOTSUPP);
	EXPECT_EQ(fs.getxattr(f->ino, "trusted.x").error().code(), EOPNOTSUPP);
	EXPECT_EQ(fs.setxattr(f->ino, "security.selinux", "x", XattrFlags::Any).error().code(), EOPNOTSUPP);
	EXPECT_EQ(fs.setxattr(f->ino, "trusted.x", "x", XattrFlags::Any).error().code(), EOPNOTSUPP);
	EXPECT_EQ(fs.removexattr(f->ino, "system.x").error().code(), EOPNOTSUPP);
	EXPECT_EQ(totalCalls(store_.stats()), 0u);
}

TEST_F(FilesystemTest, XattrsOnDirectoriesAndOnFilesWithUnsavedData)
{
	put("marked/", "", { { "mode", "16877" } });
	put("implicit/child", "c");
	Filesystem fs(store_, pool_, options_);
	auto marked = fs.lookup(kRootIno, "marked");
	ASSERT_TRUE(fs.setxattr(marked->ino, "user.tag", "m", XattrFlags::Any).ok());
	EXPECT_EQ(parseXattrs(store_.object("marked/")->metadata.at("xattr")).at("user.tag"), "m");
	EXPECT_EQ(store_.object("marked/")->contentType, std::string(kDirectoryContentType));
	EXPECT_EQ(xattrOf(fs, marked->ino, "user.tag"), "m");

	auto implicit = fs.lookup(kRootIno, "implicit");
	EXPECT_FALSE(store_.object("implicit/").has_value());
	ASSERT_TRUE(fs.setxattr(implicit->ino, "user.tag", "i", XattrFlags::Any).ok());
	ASSERT_TRUE(store_.object("implicit/").has_value()) << "an implicit directory gets a marker";
	EXPECT_EQ(store_.object("implicit/")->metadata.at("mode"), std::to_string(040755));
	EXPECT_EQ(xattrOf(fs, implicit->ino, "user.tag"), "i");

	EXPECT_EQ(fs.setxattr(kRootIno, "user.x", "v", XattrFlags::Any).error().code(), EPERM);
	EXPECT_EQ(fs.getxattr(kRootIno, "user.x").error().code(), ENODATA);

	/* Unsaved data: no request now, the attribute rides with the upload. */
	auto f = fs.create(kRootIno, "draft", 0644, O_WRONLY, Caller{});
	ASSERT_TRUE(f.ok());
	ASSERT_TRUE(fs.write(f->ino, 0, bytesOf("words")).ok());
	store_.resetStats();
	ASSERT_TRUE(fs.setxattr(f->ino, "user.state", "draft", XattrFlags::Any).ok());
	EXPECT_EQ(store_.stats()[FakeObjectStore::Op::Copy].calls, 0u);
	EXPECT_EQ(store_.stats()[FakeObjectStore::Op::Put].calls, 0u);
	EXPECT_EQ(xattrOf(fs, f->ino, "user.state"), "draft");
	ASSERT_TRUE(fs.flush(f->ino).ok());
	ASSERT_TRUE(fs.release(f->ino).ok());
	EXPECT_EQ(text(store_.contents("draft")), "words");
	EXPECT_EQ(parseXattrs(store_.object("draft")->metadata.at("xattr")).at("user.state"), "draft");

	/* xattrs travel with a directory rename. */
	ASSERT_TRUE(fs.rename(kRootIno, "marked", kRootIno, "moved", false).ok());
	EXPECT_EQ(parseXattrs(store_.object("moved/")->metadata.at("xattr")).at("user.tag"), "m");
}

TEST_F(FilesystemTest, AccessChecksModeBitsLikeTheKernel)
{
	put("f", "x", { { "mode", std::to_string(0100640) }, { "uid", "10" }, { "gid", "20" } });
	put("d/", "", { { "mode", std::to_string(040700) }, { "uid", "10" }, { "gid", "20" } });
	Filesystem fs(store_, pool_, options_);
	auto f = fs.lookup(kRootIno, "f");
	auto d = fs.lookup(kRootIno, "d");
	Caller owner{ 10, 99, 022 };
	Caller member{ 11, 20, 022 };
	Caller other{ 12, 30, 022 };
	Caller root{ 0, 0, 022 };
	EXPECT_TRUE(fs.access(f->ino, R_OK | W_OK, owner).ok());
	EXPECT_EQ(fs.access(f->ino, X_OK, owner).error().code(), EACCES);
	EXPECT_TRUE(fs.access(f->ino, R_OK, member).ok());
	EXPECT_EQ(fs.access(f->ino, W_OK, member).error().code(), EACCES);
	std::vector<std::uint32_t> groups{ 5, 20 };
	EXPECT_TRUE(fs.access(f->ino, R_OK, other, groups).ok()) << "supplementary groups count";
	EXPECT_EQ(fs.access(f->ino, R_OK, other).error().code(), EACCES);
	EXPECT_TRUE(fs.access(f->ino, F_OK, other).ok());
	EXPECT_TRUE(fs.access(f->ino, R_OK | W_OK, root).ok());
	EXPECT_EQ(fs.access(f->ino, X_OK, root).error().code(), EACCES) << "root needs some x bit";
	EXPECT_TRUE(fs.access(d->ino, X_OK, root).ok());
	EXPECT_TRUE(fs.access(d->ino, R_OK | W_OK | X_OK, owner).ok());
	EXPECT_EQ(fs.access(d->ino, X_OK, member).error().code(), EACCES);
}

namespace {

std::vector<std::byte> filled(std::size_t n, std::uint32_t seed)
{
	std::vector<std::byte> out(n);
	std::uint32_t x = seed * 2654435761u + 7;
	for (std::byte &b : out) {
		x = x * 1103515245u + 12345;
		b = std::byte(x >> 24);
	}
	return out;
}

/* A pool of 4 MiB in 1 MiB chunks, and 1 MiB parts, so that files outgrow memory quickly. */
class FilesystemPressureTest : public FilesystemTest
{
protected:
	FilesystemPressureTest()
	{
		options_.fileData.partSize = 1 << 20;
		options_.fileData.minPartSize = 1 << 20;
		store_.setMinPartSize(1 << 20);
	}

	vfs::pool::BlockPool small_{ vfs::pool::PoolConfig{ 1 << 20, 4 << 20 } };
};

} /* namespace */

TEST_F(FilesystemPressureTest, WriterLargerThanMemoryStreamsItsParts)
{
	Filesystem fs(store_, small_, options_);
	auto f = fs.create(kRootIno, "big", 0644, O_WRONLY, Caller{});
	ASSERT_TRUE(f.ok());
	auto data = filled(13 << 20, 1); /* three times the memory limit and more */
	const std::size_t step = 128 << 10;
	for (std::size_t pos = 0; pos < data.size(); pos += step) {
		auto w = fs.write(f->ino, pos, std::span(data).subspan(pos, step));
		ASSERT_TRUE(w.ok()) << "at " << pos << ": " << w.error().toString();
		ASSERT_EQ(*w, step);
		ASSERT_LE(small_.metrics().dirtyBytes, std::size_t(4) << 20);
	}
	/* Room came from parts already sent into one open upload: no object yet, no flush. */
	EXPECT_EQ(fs.metrics().flushes, 0u);
	EXPECT_GE(store_.stats()[FakeObjectStore::Op::UploadPart].calls, 9u);
	EXPECT_EQ(store_.stats()[FakeObjectStore::Op::CreateUpload].calls, 1u);
	/* At most the empty object of the create. */
	EXPECT_TRUE(!store_.object("big") || store_.object("big")->size == 0);
	ASSERT_TRUE(fs.flush(f->ino).ok());
	ASSERT_TRUE(fs.release(f->ino).ok());
	EXPECT_EQ(store_.contents("big"), data);
	EXPECT_EQ(store_.stats()[FakeObjectStore::Op::CreateUpload].calls, 1u);
	EXPECT_EQ(store_.uploadsInProgress(), 0u);
}

TEST_F(FilesystemPressureTest, WriterLargerThanMemoryUploadsAlongTheWayWithoutStreaming)
{
	options_.fileData.streamUploads = false;
	Filesystem fs(store_, small_, options_);
	auto f = fs.create(kRootIno, "big", 0644, O_WRONLY, Caller{});
	ASSERT_TRUE(f.ok());
	auto data = filled(13 << 20, 1);
	const std::size_t step = 128 << 10;
	for (std::size_t pos = 0; pos < data.size(); pos += step) {
		auto w = fs.write(f->ino, pos, std::span(data).subspan(pos, step));
		ASSERT_TRUE(w.ok()) << "at " << pos << ": " << w.error().toString();
		ASSERT_EQ(*w, step);
		ASSERT_LE(small_.metrics().dirtyBytes, std::size_t(4) << 20);
	}
	EXPECT_GE(fs.metrics().flushes, 3u); /* uploads made room on the way */
	ASSERT_TRUE(fs.flush(f->ino).ok());
	ASSERT_TRUE(fs.release(f->ino).ok());
	EXPECT_EQ(store_.contents("big"), data);
}

TEST_F(FilesystemPressureTest, OtherFilesAreUploadedLargestFirst)
{
	/* The order of whole-file uploads; streamed parts would make room by timing. */
	options_.fileData.streamUploads = false;
	Filesystem fs(store_, small_, options_);
	auto a = fs.create(kRootIno, "a", 0644, O_WRONLY, Caller{});
	auto b = fs.create(kRootIno, "b", 0644, O_WRONLY, Caller{});
	auto c = fs.create(kRootIno, "c", 0644, O_WRONLY, Caller{});
	ASSERT_TRUE(a.ok() && b.ok() && c.ok());
	auto small = filled(1 << 20, 2);
	auto large = filled(3 << 20, 3);
	ASSERT_EQ(*fs.write(a->ino, 0, small), small.size());
	ASSERT_EQ(*fs.write(b->ino, 0, large), large.size());
	/* The pool is full; c has nothing to upload, so b (the largest) goes first, and that is enough. */
	auto more = filled(512 << 10, 4);
	auto w = fs.write(c->ino, 0, more);
	ASSERT_TRUE(w.ok()) << w.error().toString();
	EXPECT_EQ(*w, more.size());
	EXPECT_EQ(store_.contents("b"), large);
	EXPECT_FALSE(store_.contents("a")); /* still only in memory: created, never flushed */
	for (Ino ino : { a->ino, b->ino, c->ino }) {
		ASSERT_TRUE(fs.flush(ino).ok());
		ASSERT_TRUE(fs.release(ino).ok());
	}
	EXPECT_EQ(store_.contents("a"), small);
	EXPECT_EQ(store_.contents("c"), more);
}

TEST_F(FilesystemPressureTest, FailedUploadUnderPressureIsEioAndKeepsData)
{
	/* The relief uploads are what fails here: no parts sent ahead. */
	options_.fileData.streamUploads = false;
	Filesystem fs(store_, small_, options_);
	auto a = fs.create(kRootIno, "a", 0644, O_WRONLY, Caller{});
	auto b = fs.create(kRootIno, "b", 0644, O_WRONLY, Caller{});
	ASSERT_TRUE(a.ok() && b.ok());
	auto full = filled(4 << 20, 5);
	ASSERT_EQ(*fs.write(a->ino, 0, full), full.size());
	std::atomic<bool> broken{ true };
	store_.setFaultHook([&](FakeObjectStore::Op op, const std::string &) {
		bool upload = op == FakeObjectStore::Op::Put || op == FakeObjectStore::Op::CreateUpload;
		return upload && broken.load() ? EIO : 0;
	});
	auto more = filled(256 << 10, 6);
	auto w = fs.write(b->ino, 0, more);
	ASSERT_FALSE(w.ok());
	EXPECT_EQ(w.error().code(), EIO);
	EXPECT_GE(fs.metrics().flushErrors, 1u);

	/* Nothing was lost: once the store works again, everything arrives. */
	broken = false;
	ASSERT_TRUE(fs.flush(a->ino).ok());
	EXPECT_EQ(store_.contents("a"), full);
	w = fs.write(b->ino, 0, more);
	ASSERT_TRUE(w.ok()) << w.error().toString();
	ASSERT_TRUE(fs.flush(b->ino).ok());
	EXPECT_EQ(store_.contents("b"), more);
}

TEST_F(FilesystemPressureTest, OneWriteLargerThanThePoolUploadsItsOwnStart)
{
	Filesystem fs(store_, small_, options_);
	auto f = fs.create(kRootIno, "huge", 0644, O_WRONLY, Caller{});
	ASSERT_TRUE(f.ok());
	auto data = filled(6 << 20, 7);
	auto w = fs.write(f->ino, 0, data);
	ASSERT_TRUE(w.ok()) << w.error().toString();
	EXPECT_EQ(*w, data.size());
	/* Its first parts went ahead into the open upload and gave their memory back. */
	EXPECT_GE(store_.stats()[FakeObjectStore::Op::UploadPart].calls, 2u);
	EXPECT_EQ(fs.metrics().flushes, 0u);
	ASSERT_TRUE(fs.flush(f->ino).ok());
	EXPECT_EQ(store_.contents("huge"), data);
}

TEST_F(FilesystemPressureTest, WriteThatStopsHalfwayIsAShortCount)
{
	Filesystem fs(store_, small_, options_);
	auto f = fs.create(kRootIno, "half", 0644, O_WRONLY, Caller{});
	ASSERT_TRUE(f.ok());
	std::atomic<bool> broken{ true };
	store_.setFaultHook([&](FakeObjectStore::Op op, const std::string &) {
		bool upload = op == FakeObjectStore::Op::Put || op == FakeObjectStore::Op::CreateUpload;
		return upload && broken.load() ? EIO : 0;
	});
	/* 4 MiB fit, then no upload can make room: the write reports what it wrote. */
	auto data = filled(6 << 20, 8);
	auto w = fs.write(f->ino, 0, data);
	ASSERT_TRUE(w.ok()) << w.error().toString();
	EXPECT_EQ(*w, std::size_t(4) << 20);
	EXPECT_EQ(fs.getattr(f->ino)->attributes.size, std::size_t(4) << 20);
	/* The caller retries the rest, as write(2) callers do, and gets the error. */
	auto rest = fs.write(f->ino, *w, std::span(data).subspan(*w));
	ASSERT_FALSE(rest.ok());
	EXPECT_EQ(rest.error().code(), EIO);
	broken = false;
	rest = fs.write(f->ino, *w, std::span(data).subspan(*w));
	ASSERT_TRUE(rest.ok()) << rest.error().toString();
	EXPECT_EQ(*rest, data.size() - *w);
	ASSERT_TRUE(fs.flush(f->ino).ok());
	EXPECT_EQ(store_.contents("half"), data);
}

TEST_F(FilesystemTest, ReadPicksUpAnObjectReplacedByAnotherClient)
{
	options_.fileData.blockSize = 4 << 10;
	put("r", std::string(10000, 'a'));
	Filesystem fs(store_, pool_, options_);
	auto f = fs.lookup(kRootIno, "r");
	ASSERT_TRUE(f.ok());
	ASSERT_TRUE(fs.open(f->ino, O_RDONLY).ok());
	std::vector<std::byte> got(100);
	ASSERT_EQ(*fs.read(f->ino, 0, got), 100u);
	EXPECT_EQ(got[0], std::byte('a'));
	put("r", std::string(20000, 'b'));
	/* Past the cached first block: the GET's If-Match fails, the file switches to the new object. */
	auto r = fs.read(f->ino, 8000, got);
	ASSERT_TRUE(r.ok()) << r.error().toString();
	EXPECT_EQ(got[0], std::byte('b'));
	ASSERT_EQ(*fs.read(f->ino, 0, got), 100u);
	EXPECT_EQ(got[0], std::byte('b')); /* not the old cached block */
	EXPECT_EQ(fs.getattr(f->ino)->attributes.size, 20000u);
	ASSERT_TRUE(fs.release(f->ino).ok());
}

TEST_F(FilesystemTest, StatOfAnOpenFileAsksNothing)
{
	Filesystem fs(store_, pool_, options_); /* attrTimeout 0: every stat of a closed file asks */
	auto f = fs.create(kRootIno, "busy", 0644, O_WRONLY, Caller{});
	ASSERT_TRUE(f.ok());
	ASSERT_TRUE(fs.write(f->ino, 0, bytesOf("growing")).ok());
	store_.resetStats();
	for (int i = 0; i < 10; ++i) {
		auto a = fs.getattr(f->ino);
		ASSERT_TRUE(a.ok());
		EXPECT_EQ(a->attributes.size, 7u);
	}
	EXPECT_EQ(store_.stats()[FakeObjectStore::Op::Head].calls, 0u);
	EXPECT_EQ(store_.stats()[FakeObjectStore::Op::List].calls, 0u);
	ASSERT_TRUE(fs.flush(f->ino).ok());
	ASSERT_TRUE(fs.release(f->ino).ok());
	ASSERT_TRUE(fs.getattr(f->ino).ok());
	EXPECT_GT(store_.stats()[FakeObjectStore::Op::Head].calls, 0u);
}

TEST_F(FilesystemTest, ReaddirGivesASymlinkItsStoredType)
{
	{
		Filesystem writer(store_, pool_, options_);
		ASSERT_TRUE(writer.symlink("target/path", kRootIno, "link", Caller{}).ok());
	}
	Filesystem fs(store_, pool_, options_);
	auto entries = fs.readdir(kRootIno);
	ASSERT_TRUE(entries.ok());
	ASSERT_EQ(entries->size(), 1u);
	EXPECT_TRUE(entries->front().complete);
	EXPECT_EQ(entries->front().attr.attributes.type, FileType::Symlink);
	auto target = fs.readlink(entries->front().attr.ino);
	ASSERT_TRUE(target.ok());
	EXPECT_EQ(*target, "target/path");
}

namespace {

using Op = FakeObjectStore::Op;

/* What a new file costs: the kernel's lookup, create, a write, close. */
void createLikeTheKernel(Filesystem &fs, std::string_view name)
{
	EXPECT_EQ(fs.lookup(kRootIno, name).error().code(), ENOENT);
	auto f = fs.create(kRootIno, name, 0644, O_WRONLY | O_CREAT, Caller{});
	ASSERT_TRUE(f.ok()) << f.error().toString();
	ASSERT_TRUE(fs.write(f->ino, 0, bytesOf("data")).ok());
	ASSERT_TRUE(fs.flush(f->ino).ok());
	ASSERT_TRUE(fs.release(f->ino).ok());
}

} /* namespace */

TEST_F(FilesystemTest, CreateAfterAFailedLookupDoesNotProbeAgain)
{
	options_.attrTimeout = std::chrono::milliseconds(60000);
	Filesystem fs(store_, pool_, options_);
	store_.resetStats();
	createLikeTheKernel(fs, "new");
	EXPECT_EQ(text(store_.contents("new")), "data");
	/*
	 * The lookup's probe only (was three: lookup, create's lookup, newChild's
	 * probe), and the one PUT of close (create sends no empty object).
	 */
	EXPECT_EQ(store_.stats()[Op::List].calls, 1u);
	EXPECT_EQ(store_.stats()[Op::Head].calls, 1u);
	EXPECT_EQ(store_.stats()[Op::Put].calls, 1u);

	/* mkdir and symlink after a failed lookup: no probe either. */
	store_.resetStats();
	EXPECT_EQ(fs.lookup(kRootIno, "dir").error().code(), ENOENT);
	ASSERT_TRUE(fs.mkdir(kRootIno, "dir", 0755, Caller{}).ok());
	EXPECT_EQ(fs.lookup(kRootIno, "link").error().code(), ENOENT);
	ASSERT_TRUE(fs.symlink("new", kRootIno, "link", Caller{}).ok());
	EXPECT_EQ(store_.stats()[Op::List].calls, 2u);
	EXPECT_EQ(store_.stats()[Op::Head].calls, 2u);
	EXPECT_EQ(store_.stats()[Op::Put].calls, 2u);
}

TEST_F(FilesystemTest, NamesWeMadeExistAreNotKnownAbsent)
{
	options_.attrTimeout = std::chrono::milliseconds(60000);
	put("src", "source");
	Filesystem fs(store_, pool_, options_);

	/* A rename onto a name that a lookup found absent: an exclusive create must see it. */
	EXPECT_EQ(fs.lookup(kRootIno, "dst").error().code(), ENOENT);
	ASSERT_TRUE(fs.rename(kRootIno, "src", kRootIno, "dst", false).ok());
	EXPECT_EQ(fs.create(kRootIno, "dst", 0644, O_WRONLY | O_CREAT | O_EXCL, Caller{}).error().code(), EEXIST);
	EXPECT_EQ(text(store_.contents("dst")), "source");

	/* Made by us after the failed lookup: create opens it rather than replacing it. */
	EXPECT_EQ(fs.lookup(kRootIno, "d").error().code(), ENOENT);
	ASSERT_TRUE(fs.mkdir(kRootIno, "d", 0755, Caller{}).ok());
	EXPECT_EQ(fs.mkdir(kRootIno, "d", 0755, Caller{}).error().code(), EEXIST);
	EXPECT_EQ(fs.lookup(kRootIno, "f").error().code(), ENOENT);
	auto f = fs.create(kRootIno, "f", 0644, O_WRONLY | O_CREAT, Caller{});
	ASSERT_TRUE(f.ok());
	ASSERT_TRUE(fs.release(f->ino).ok());
	EXPECT_EQ(fs.create(kRootIno, "f", 0644, O_WRONLY | O_CREAT | O_EXCL, Caller{}).error().code(), EEXIST);

	/* Shown by a listing: no longer absent. */
	EXPECT_EQ(fs.lookup(kRootIno, "listed").error().code(), ENOENT);
	put("listed", "theirs");
	ASSERT_TRUE(fs.readdir(kRootIno).ok());
	EXPECT_EQ(fs.create(kRootIno, "listed", 0644, O_WRONLY | O_CREAT | O_EXCL, Caller{}).error().code(),
		  EEXIST);
	EXPECT_EQ(text(store_.contents("listed")), "theirs");
}

TEST_F(FilesystemTest, ALookupRacingOurCreateDoesNotRecordAbsence)
{
	options_.attrTimeout = std::chrono::milliseconds(60000);
	Filesystem fs(store_, pool_, options_);
	/* Our create and close land while a lookup's HEAD is on its way back with "not found". */
	bool created = false;
	store_.setFaultHook([&](Op op, const std::string &key) {
		if (op != Op::Head || key != "race" || created)
			return 0;
		created = true;
		auto f = fs.create(kRootIno, "race", 0644, O_WRONLY | O_CREAT, Caller{});
		EXPECT_TRUE(f.ok());
		if (f.ok()) {
			EXPECT_TRUE(fs.flush(f->ino).ok());
			EXPECT_TRUE(fs.release(f->ino).ok());
		}
		return ENOENT;
	});
	EXPECT_EQ(fs.lookup(kRootIno, "race").error().code(), ENOENT);
	store_.setFaultHook({});
	ASSERT_TRUE(created);
	auto again = fs.create(kRootIno, "race", 0644, O_WRONLY | O_CREAT | O_EXCL, Caller{});
	ASSERT_FALSE(again.ok()) << "an exclusive create replaced the file we just made";
	EXPECT_EQ(again.error().code(), EEXIST);
}

TEST_F(FilesystemTest, AbsenceIsForgottenAfterTheTimeout)
{
	options_.attrTimeout = std::chrono::milliseconds(50);
	Filesystem fs(store_, pool_, options_);
	EXPECT_EQ(fs.lookup(kRootIno, "late").error().code(), ENOENT);
	put("late", "theirs");
	std::this_thread::sleep_for(std::chrono::milliseconds(80));
	store_.resetStats();
	EXPECT_EQ(fs.create(kRootIno, "late", 0644, O_WRONLY | O_CREAT | O_EXCL, Caller{}).error().code(), EEXIST);
	EXPECT_EQ(text(store_.contents("late")), "theirs");
	EXPECT_GE(store_.stats()[Op::Head].calls, 1u);
}

TEST_F(FilesystemTest, ListingAttributesStayFreshForTheTtlAfterTheListing)
{
	/* The HEADs of one listing take twice the TTL, one at a time. */
	options_.attrTimeout = std::chrono::milliseconds(300);
	options_.listMetadataRequests = 1;
	for (int i = 0; i < 30; ++i)
		put("d/f" + std::to_string(i));
	Filesystem fs(store_, pool_, options_);
	auto dir = fs.lookup(kRootIno, "d");
	ASSERT_TRUE(dir.ok());
	store_.setFaultHook([](Op op, const std::string &) {
		if (op == Op::Head)
			std::this_thread::sleep_for(std::chrono::milliseconds(20));
		return 0;
	});
	store_.resetStats();
	auto cold = fs.readdir(dir->ino);
	ASSERT_TRUE(cold.ok());
	auto coldEnd = std::chrono::steady_clock::now();
	EXPECT_EQ(store_.stats()[Op::Head].calls, 30u);

	/* The warm `ls -l` right after: neither the listing nor stat() asks HEAD again. */
	store_.resetStats();
	ASSERT_LT(std::chrono::steady_clock::now() - coldEnd, std::chrono::milliseconds(100))
		<< "the machine is too slow for this test's timing";
	auto warm = fs.readdir(dir->ino);
	ASSERT_TRUE(warm.ok());
	for (const auto &e : *warm) {
		EXPECT_TRUE(e.complete) << e.name;
		ASSERT_TRUE(fs.getattr(e.attr.ino).ok());
	}
	/* The HEADs of the cold pass took 600 ms: only the TTL counted from its end keeps them all fresh. */
	EXPECT_EQ(store_.stats()[Op::Head].calls, 0u);
	fs.releaseListing(*cold);
	fs.releaseListing(*warm);
}

TEST_F(FilesystemTest, ListingHeadsStartBeforeTheLastPage)
{
	options_.attrTimeout = std::chrono::milliseconds(60000);
	for (int i = 0; i < 50; ++i)
		put("p/f" + std::to_string(100 + i), "abc", Metadata{ { "mode", std::to_string(0100600) } });
	store_.setPageSize(10);
	Filesystem fs(store_, pool_, options_);
	auto dir = fs.lookup(kRootIno, "p");
	ASSERT_TRUE(dir.ok());
	/* The listing's last page waits (boundedly) until a HEAD of an earlier page has been asked. */
	std::mutex mutex;
	std::condition_variable cv;
	unsigned lists = 0, heads = 0;
	bool headBeforeLastPage = false;
	store_.setFaultHook([&](Op op, const std::string &) {
		std::unique_lock lock(mutex);
		if (op == Op::Head) {
			++heads;
			cv.notify_all();
		} else if (op == Op::List && ++lists == 5) {
			headBeforeLastPage =
				cv.wait_for(lock, std::chrono::seconds(5), [&] { return heads > 0; });
		}
		return 0;
	});
	store_.resetStats();
	auto entries = fs.readdir(dir->ino);
	ASSERT_TRUE(entries.ok()) << entries.error().toString();
	store_.setFaultHook({});
	EXPECT_TRUE(headBeforeLastPage) << "the HEADs waited for the whole listing";
	ASSERT_EQ(entries->size(), 50u);
	for (const auto &e : *entries) {
		EXPECT_TRUE(e.complete) << e.name;
		EXPECT_EQ(e.attr.attributes.permissions, 0600u) << e.name;
	}
	EXPECT_EQ(store_.stats()[Op::List].calls, 5u);
	EXPECT_EQ(store_.stats()[Op::Head].calls, 50u);
	fs.releaseListing(*entries);
}

TEST_F(FilesystemTest, AListingWithinTheTtlAsksTheStoreNothing)
{
	options_.attrTimeout = std::chrono::milliseconds(60000);
	for (int i = 0; i < 20; ++i)
		put("w/f" + std::to_string(i), "abc", Metadata{ { "mode", std::to_string(0100640) } });
	put("w/sub/x");
	Filesystem fs(store_, pool_, options_);
	auto dir = fs.lookup(kRootIno, "w");
	ASSERT_TRUE(dir.ok());
	store_.resetStats();
	auto cold = fs.readdir(dir->ino);
	ASSERT_TRUE(cold.ok());
	EXPECT_EQ(store_.stats()[Op::List].calls, 1u);
	EXPECT_EQ(store_.stats()[Op::Head].calls, 21u);

	/* Another client's object shows only after the TTL: the second listing is the cached one. */
	put("w/theirs");
	store_.resetStats();
	auto warm = fs.readdir(dir->ino);
	ASSERT_TRUE(warm.ok());
	EXPECT_EQ(totalCalls(store_.stats()), 0u);
	ASSERT_EQ(warm->size(), cold->size());
	for (std::size_t i = 0; i < warm->size(); ++i) {
		EXPECT_EQ((*warm)[i].name, (*cold)[i].name);
		EXPECT_EQ((*warm)[i].attr.ino, (*cold)[i].attr.ino);
		EXPECT_TRUE((*warm)[i].complete);
		EXPECT_EQ((*warm)[i].attr.attributes.permissions, (*cold)[i].attr.attributes.permissions);
		/* The kernel may trust it as long as the first listing said, not a TTL more. */
		EXPECT_EQ((*warm)[i].validUntil, (*cold)[i].validUntil) << (*warm)[i].name;
		EXPECT_GT((*warm)[i].validUntil, std::chrono::steady_clock::now() + std::chrono::seconds(50));
	}
	fs.releaseListing(*cold);
	fs.releaseListing(*warm);
}

TEST_F(FilesystemTest, OurOwnNameChangesEndTheCachedListing)
{
	options_.attrTimeout = std::chrono::milliseconds(60000);
	put("c/a");
	put("c/b");
	put("c/sub/x");
	Filesystem fs(store_, pool_, options_);
	auto dir = fs.lookup(kRootIno, "c");
	ASSERT_TRUE(dir.ok());
	auto names = [&] {
		auto listing = fs.readdir(dir->ino);
		EXPECT_TRUE(listing.ok());
		std::vector<std::string> out;
		if (!listing.ok())
			return out;
		for (const auto &e : *listing)
			out.push_back(e.name);
		fs.releaseListing(*listing);
		return out;
	};
	using Names = std::vector<std::string>;
	EXPECT_EQ(names(), (Names{ "a", "b", "sub" }));

	ASSERT_TRUE(fs.unlink(dir->ino, "a").ok());
	EXPECT_EQ(names(), (Names{ "b", "sub" }));

	auto f = fs.create(dir->ino, "new", 0644, O_WRONLY | O_CREAT, Caller{});
	ASSERT_TRUE(f.ok());
	ASSERT_TRUE(fs.flush(f->ino).ok()); /* in S3 from here: listed in name order */
	ASSERT_TRUE(fs.release(f->ino).ok());
	EXPECT_EQ(names(), (Names{ "b", "new", "sub" }));

	ASSERT_TRUE(fs.mkdir(dir->ino, "made", 0755, Caller{}).ok());
	EXPECT_EQ(names(), (Names{ "b", "made", "new", "sub" }));

	ASSERT_TRUE(fs.rename(dir->ino, "b", dir->ino, "c", false).ok());
	EXPECT_EQ(names(), (Names{ "c", "made", "new", "sub" }));

	/* A directory renamed: its cached listing goes too (its keys moved). */
	auto sub = fs.lookup(dir->ino, "sub");
	ASSERT_TRUE(sub.ok());
	auto subNames = [&] {
		auto listing = fs.readdir(sub->ino);
		EXPECT_TRUE(listing.ok());
		Names out;
		if (listing.ok()) {
			for (const auto &e : *listing)
				out.push_back(e.name);
			fs.releaseListing(*listing);
		}
		return out;
	};
	EXPECT_EQ(subNames(), (Names{ "x" }));
	ASSERT_TRUE(fs.rename(dir->ino, "sub", kRootIno, "moved", false).ok());
	store_.resetStats();
	EXPECT_EQ(subNames(), (Names{ "x" }));
	EXPECT_EQ(store_.stats()[Op::List].calls, 1u) << "listed again, under its new prefix";

	ASSERT_TRUE(fs.rmdir(dir->ino, "made").ok());
	EXPECT_EQ(names(), (Names{ "c", "new" }));
	/* A lookup that finds a listed name gone ends it as well. */
	ASSERT_TRUE(store_.remove("c/new").ok());
	EXPECT_EQ(fs.lookup(dir->ino, "new").error().code(), ENOENT);
	EXPECT_EQ(names(), (Names{ "c" }));
}

TEST_F(FilesystemTest, AListingThatRacedOurCreateIsNotCached)
{
	options_.attrTimeout = std::chrono::milliseconds(60000);
	put("r/a");
	Filesystem fs(store_, pool_, options_);
	auto dir = fs.lookup(kRootIno, "r");
	ASSERT_TRUE(dir.ok());
	/* Our create lands after the listing's page left the store, before the listing ends. */
	bool created = false;
	store_.setFaultHook([&](Op op, const std::string &key) {
		if (op != Op::Head || key != "r/a" || created)
			return 0;
		created = true;
		auto f = fs.create(dir->ino, "b", 0644, O_WRONLY | O_CREAT, Caller{});
		EXPECT_TRUE(f.ok());
		if (f.ok()) {
			EXPECT_TRUE(fs.flush(f->ino).ok()); /* an object now, which the listing's page missed */
			EXPECT_TRUE(fs.release(f->ino).ok());
		}
		return 0;
	});
	auto first = fs.readdir(dir->ino);
	ASSERT_TRUE(first.ok());
	store_.setFaultHook({});
	ASSERT_TRUE(created);
	EXPECT_EQ(first->size(), 1u);
	store_.resetStats();
	auto second = fs.readdir(dir->ino);
	ASSERT_TRUE(second.ok());
	EXPECT_EQ(store_.stats()[Op::List].calls, 1u);
	ASSERT_EQ(second->size(), 2u);
	EXPECT_EQ((*second)[1].name, "b");
	fs.releaseListing(*first);
	fs.releaseListing(*second);
}

TEST_F(FilesystemTest, ACachedListingExpiresAndLetsItsInodesGo)
{
	options_.attrTimeout = std::chrono::milliseconds(150);
	for (int i = 0; i < 10; ++i)
		put("x/f" + std::to_string(i));
	put("y/g");
	Filesystem fs(store_, pool_, options_);
	auto dir = fs.lookup(kRootIno, "x");
	auto other = fs.lookup(kRootIno, "y");
	ASSERT_TRUE(dir.ok() && other.ok());
	std::size_t before = fs.inodeCount();
	auto listing = fs.readdir(dir->ino);
	ASSERT_TRUE(listing.ok());
	fs.releaseListing(*listing);
	/* Closed, but cached: the names stay known for the TTL. */
	EXPECT_EQ(fs.inodeCount(), before + 10);
	std::this_thread::sleep_for(std::chrono::milliseconds(200));
	/* Expired: the next listing (of any directory) lets them go, and this one asks again. */
	store_.resetStats();
	auto again = fs.readdir(other->ino);
	ASSERT_TRUE(again.ok());
	fs.releaseListing(*again);
	EXPECT_EQ(fs.inodeCount(), before + 1);
	auto relisted = fs.readdir(dir->ino);
	ASSERT_TRUE(relisted.ok());
	EXPECT_EQ(store_.stats()[Op::List].calls, 2u);
	EXPECT_EQ(store_.stats()[Op::Head].calls, 11u);
	fs.releaseListing(*relisted);
}

TEST_F(FilesystemPressureTest, UnlinkWhileStreamingAbortsTheUploadAndKeepsTheBytes)
{
	Filesystem fs(store_, small_, options_);
	auto f = fs.create(kRootIno, "s", 0644, O_RDWR, Caller{});
	ASSERT_TRUE(f.ok());
	auto data = filled((3 << 20) + 1000, 9);
	ASSERT_EQ(*fs.write(f->ino, 0, data), data.size());
	EXPECT_EQ(store_.stats()[FakeObjectStore::Op::CreateUpload].calls, 1u);
	ASSERT_TRUE(fs.unlink(kRootIno, "s").ok());
	EXPECT_EQ(store_.uploadsInProgress(), 0u) << "the streaming upload was aborted";
	EXPECT_FALSE(store_.object("s"));
	std::vector<std::byte> back(data.size());
	auto got = fs.read(f->ino, 0, back);
	ASSERT_TRUE(got.ok());
	EXPECT_EQ(*got, data.size());
	EXPECT_EQ(back, data);
	ASSERT_TRUE(fs.flush(f->ino).ok());
	ASSERT_TRUE(fs.release(f->ino).ok());
	EXPECT_FALSE(store_.object("s"));
	EXPECT_EQ(store_.uploadsInProgress(), 0u);
}

TEST_F(FilesystemPressureTest, UnlinkOfAFileWithParkedPartsTheMemoryCannotHoldIsRefused)
{
	Filesystem fs(store_, small_, options_);
	auto f = fs.create(kRootIno, "p", 0644, O_RDWR, Caller{});
	ASSERT_TRUE(f.ok());
	auto data = filled(6 << 20, 10);
	ASSERT_EQ(*fs.write(f->ino, 0, data), data.size());
	auto r = fs.unlink(kRootIno, "p");
	ASSERT_FALSE(r.ok());
	EXPECT_EQ(r.error().code(), ENOBUFS);
	/* Nothing lost: the parked beginning became the object, the rest is still in memory. */
	std::vector<std::byte> back(data.size());
	auto got = fs.read(f->ino, 0, back);
	ASSERT_TRUE(got.ok()) << got.error().toString();
	EXPECT_EQ(back, data);
	ASSERT_TRUE(fs.flush(f->ino).ok());
	ASSERT_TRUE(fs.release(f->ino).ok());
	EXPECT_EQ(store_.contents("p"), data);
	EXPECT_EQ(store_.uploadsInProgress(), 0u);
}

namespace {

/* What one new file in @dir costs, as the kernel asks: lookup, create, a write, close. */
void createIn(Filesystem &fs, Ino dir, const std::string &name, std::string_view body = "data")
{
	EXPECT_EQ(fs.lookup(dir, name).error().code(), ENOENT) << name;
	auto f = fs.create(dir, name, 0644, O_WRONLY | O_CREAT | O_TRUNC, Caller{});
	ASSERT_TRUE(f.ok()) << f.error().toString();
	ASSERT_TRUE(fs.write(f->ino, 0, bytesOf(body)).ok());
	ASSERT_TRUE(fs.flush(f->ino).ok());
	ASSERT_TRUE(fs.release(f->ino).ok());
}

std::vector<std::string> namesOf(const std::vector<Dirent> &entries)
{
	std::vector<std::string> names;
	for (const Dirent &e : entries)
		names.push_back(e.name);
	std::sort(names.begin(), names.end());
	return names;
}

} /* namespace */

TEST_F(FilesystemTest, SmallFilesInADirectoryWeMadeCostOnePutEach)
{
	options_.attrTimeout = std::chrono::milliseconds(60000);
	Filesystem fs(store_, pool_, options_);
	EXPECT_EQ(fs.lookup(kRootIno, "small").error().code(), ENOENT);
	auto dir = fs.mkdir(kRootIno, "small", 0755, Caller{});
	ASSERT_TRUE(dir.ok());
	store_.resetStats();
	for (int i = 0; i < 50; ++i)
		createIn(fs, dir->ino, "f" + std::to_string(i), "body " + std::to_string(i));
	/* Was four each: the lookup's LIST and HEAD, create's empty PUT, close's PUT. */
	EXPECT_EQ(store_.stats()[Op::Put].calls, 50u);
	EXPECT_EQ(totalCalls(store_.stats()), 50u);
	EXPECT_EQ(text(store_.contents("small/f7")), "body 7");
	EXPECT_EQ(keysUnder("small/").size(), 51u); /* the marker and 50 files */

	/* The names we made are known: a lookup of one asks the store (attributes), never says absent. */
	auto again = fs.lookup(dir->ino, "f7");
	ASSERT_TRUE(again.ok());
	EXPECT_EQ(again->attributes.size, 6u);
	EXPECT_EQ(fs.create(dir->ino, "f7", 0644, O_WRONLY | O_CREAT | O_EXCL, Caller{}).error().code(), EEXIST);
}

TEST_F(FilesystemTest, AListingOfTheParentAnswersLookupsOfAbsentNames)
{
	options_.attrTimeout = std::chrono::milliseconds(60000);
	put("p/x");
	put("p/sub/y");
	Filesystem fs(store_, pool_, options_);
	auto p = fs.lookup(kRootIno, "p");
	ASSERT_TRUE(p.ok());
	auto listing = fs.readdir(p->ino);
	ASSERT_TRUE(listing.ok());
	store_.resetStats();
	EXPECT_EQ(fs.lookup(p->ino, "nope").error().code(), ENOENT);
	EXPECT_EQ(fs.lookup(p->ino, "sub2").error().code(), ENOENT);
	EXPECT_EQ(totalCalls(store_.stats()), 0u);
	/* Listed names are still probed (the listing has no attributes), and found. */
	EXPECT_TRUE(fs.lookup(p->ino, "x").ok());
	EXPECT_TRUE(fs.lookup(p->ino, "sub").ok());
	fs.releaseListing(*listing);
}

TEST_F(FilesystemTest, ExpiredNamesOfASmallDirectoryAreRenewedByOneList)
{
	options_.attrTimeout = std::chrono::milliseconds(300);
	Filesystem fs(store_, pool_, options_);
	auto dir = fs.mkdir(kRootIno, "d", 0755, Caller{});
	ASSERT_TRUE(dir.ok());
	createIn(fs, dir->ino, "a");
	put("d/theirs", "made by another client");
	std::this_thread::sleep_for(std::chrono::milliseconds(400));

	/* Past the TTL: one LIST of the directory answers this lookup, and the following ones. */
	store_.resetStats();
	EXPECT_EQ(fs.lookup(dir->ino, "b").error().code(), ENOENT);
	EXPECT_EQ(store_.stats()[Op::List].calls, 1u);
	EXPECT_EQ(store_.stats()[Op::Head].calls, 0u);
	EXPECT_EQ(fs.lookup(dir->ino, "c").error().code(), ENOENT);
	EXPECT_EQ(store_.stats()[Op::List].calls, 1u);
	/* The other client's file came with the listing: not absent, so a create opens it. */
	EXPECT_TRUE(fs.lookup(dir->ino, "theirs").ok());
	EXPECT_EQ(fs.create(dir->ino, "theirs", 0644, O_WRONLY | O_CREAT | O_EXCL, Caller{}).error().code(),
		  EEXIST);
}

TEST_F(FilesystemTest, ProbesSendTheListAndTheHeadTogether)
{
	put("f", "x");
	Filesystem fs(store_, pool_, options_);
	/* The LIST waits (up to 5 s) for the HEAD to start: only if both are out at once is it quick. */
	std::mutex m;
	std::condition_variable cv;
	bool headStarted = false;
	bool overlapped = false;
	store_.setFaultHook([&](Op op, const std::string &) {
		std::unique_lock lock(m);
		if (op == Op::Head) {
			headStarted = true;
			cv.notify_all();
		} else if (op == Op::List) {
			overlapped = cv.wait_for(lock, std::chrono::seconds(5), [&] { return headStarted; });
		}
		return 0;
	});
	auto f = fs.lookup(kRootIno, "f");
	store_.setFaultHook({});
	ASSERT_TRUE(f.ok()) << f.error().toString();
	EXPECT_EQ(f->attributes.size, 1u);
	EXPECT_TRUE(overlapped) << "the HEAD waited for the LIST";
}

TEST_F(FilesystemTest, ANewFileShowsHereBeforeItsFirstFlush)
{
	options_.attrTimeout = std::chrono::milliseconds(60000);
	put("d/old", "old");
	Filesystem fs(store_, pool_, options_);
	auto d = fs.lookup(kRootIno, "d");
	ASSERT_TRUE(d.ok());
	store_.resetStats();
	auto f = fs.create(d->ino, "new", 0640, O_WRONLY | O_CREAT, Caller{ 5, 6, 022 });
	ASSERT_TRUE(f.ok());
	ASSERT_TRUE(fs.write(f->ino, 0, bytesOf("unsaved")).ok());
	EXPECT_EQ(store_.stats()[Op::Put].calls, 0u);
	EXPECT_FALSE(store_.contents("d/new"));

	/* This mount shows it: lookup, stat, readdir, an exclusive create, mkdir. */
	auto found = fs.lookup(d->ino, "new");
	ASSERT_TRUE(found.ok());
	EXPECT_EQ(found->ino, f->ino);
	EXPECT_EQ(found->attributes.size, 7u);
	EXPECT_EQ(found->attributes.uid, 5u);
	auto listing = fs.readdir(d->ino);
	ASSERT_TRUE(listing.ok());
	EXPECT_EQ(namesOf(*listing), (std::vector<std::string>{ "new", "old" }));
	for (const Dirent &e : *listing)
		if (e.name == "new") {
			EXPECT_TRUE(e.complete);
			EXPECT_EQ(e.attr.ino, f->ino);
			EXPECT_EQ(e.attr.attributes.size, 7u);
			EXPECT_EQ(e.attr.attributes.permissions, 0640u);
		}
	fs.releaseListing(*listing);
	EXPECT_EQ(fs.create(d->ino, "new", 0644, O_WRONLY | O_CREAT | O_EXCL, Caller{}).error().code(), EEXIST);
	EXPECT_EQ(fs.mkdir(d->ino, "new", 0755, Caller{}).error().code(), EEXIST);
	EXPECT_EQ(fs.rmdir(kRootIno, "d").error().code(), ENOTEMPTY);
	EXPECT_FALSE(store_.contents("d/new"));

	/* close() makes the object, with the attributes given at create. */
	ASSERT_TRUE(fs.flush(f->ino).ok());
	ASSERT_TRUE(fs.release(f->ino).ok());
	EXPECT_EQ(text(store_.contents("d/new")), "unsaved");
	auto head = store_.object("d/new");
	ASSERT_TRUE(head);
	EXPECT_EQ(head->metadata.at("mode"), std::to_string(0100640));
	EXPECT_EQ(head->metadata.at("uid"), "5");
	fs.forget(found->ino, 1);
}

TEST_F(FilesystemTest, UnlinkAndRenameOfANeverFlushedFile)
{
	options_.attrTimeout = std::chrono::milliseconds(60000);
	Filesystem fs(store_, pool_, options_);

	/* Unlink: no object to delete; an open descriptor keeps working; nothing ever reaches S3. */
	auto gone = fs.create(kRootIno, "gone", 0644, O_RDWR | O_CREAT, Caller{});
	ASSERT_TRUE(gone.ok());
	ASSERT_TRUE(fs.write(gone->ino, 0, bytesOf("bye")).ok());
	store_.resetStats();
	ASSERT_TRUE(fs.unlink(kRootIno, "gone").ok());
	EXPECT_EQ(totalCalls(store_.stats()), 0u);
	EXPECT_EQ(fs.lookup(kRootIno, "gone").error().code(), ENOENT);
	EXPECT_EQ(readAll(fs, gone->ino, 3), "bye");
	ASSERT_TRUE(fs.flush(gone->ino).ok());
	ASSERT_TRUE(fs.release(gone->ino).ok());
	EXPECT_FALSE(store_.contents("gone"));
	auto root = fs.readdir(kRootIno);
	ASSERT_TRUE(root.ok());
	EXPECT_TRUE(root->empty());
	fs.releaseListing(*root);

	/* Rename while open: it goes up, then moves; later writes land at the new name. */
	auto moving = fs.create(kRootIno, "tmp", 0644, O_RDWR | O_CREAT, Caller{});
	ASSERT_TRUE(moving.ok());
	ASSERT_TRUE(fs.write(moving->ino, 0, bytesOf("draft")).ok());
	ASSERT_TRUE(fs.rename(kRootIno, "tmp", kRootIno, "final", false).ok());
	EXPECT_FALSE(store_.contents("tmp"));
	EXPECT_EQ(text(store_.contents("final")), "draft");
	ASSERT_TRUE(fs.write(moving->ino, 5, bytesOf("+more")).ok());
	ASSERT_TRUE(fs.flush(moving->ino).ok());
	ASSERT_TRUE(fs.release(moving->ino).ok());
	EXPECT_EQ(text(store_.contents("final")), "draft+more");
	EXPECT_EQ(fs.lookup(kRootIno, "tmp").error().code(), ENOENT);

	/* Renamed over: the new file of ours is replaced, and never uploaded. */
	put("src", "from another client");
	auto over = fs.create(kRootIno, "target", 0644, O_RDWR | O_CREAT, Caller{});
	ASSERT_TRUE(over.ok());
	ASSERT_TRUE(fs.write(over->ino, 0, bytesOf("mine")).ok());
	EXPECT_EQ(fs.rename(kRootIno, "src", kRootIno, "target", true).error().code(), EEXIST);
	ASSERT_TRUE(fs.rename(kRootIno, "src", kRootIno, "target", false).ok());
	EXPECT_EQ(readAll(fs, over->ino, 4), "mine");
	ASSERT_TRUE(fs.flush(over->ino).ok());
	ASSERT_TRUE(fs.release(over->ino).ok());
	EXPECT_EQ(text(store_.contents("target")), "from another client");
	EXPECT_FALSE(store_.contents("src"));
}

namespace {

/* A bucket that runs @afterList once, after a LIST has read its page and before it answers. */
class LateChangeStore : public FakeObjectStore
{
public:
	std::function<void()> afterList;

	vfs::Result<ListPage> list(const ListRequest &request) override
	{
		auto page = FakeObjectStore::list(request);
		if (auto run = std::exchange(afterList, {}))
			run();
		return page;
	}
};

} /* namespace */

TEST_F(FilesystemTest, ALookupsListingThatRacedOurCreateIsNotKept)
{
	options_.attrTimeout = std::chrono::milliseconds(300);
	LateChangeStore store;
	Filesystem fs(store, pool_, options_);
	auto dir = fs.mkdir(kRootIno, "d", 0755, Caller{});
	ASSERT_TRUE(dir.ok());
	std::this_thread::sleep_for(std::chrono::milliseconds(400));

	/* The renewing LIST has read the bucket when our file is made and uploaded. */
	Ino made = 0;
	store.afterList = [&] {
		auto f = fs.create(dir->ino, "late", 0644, O_WRONLY | O_CREAT, Caller{});
		ASSERT_TRUE(f.ok());
		made = f->ino;
		ASSERT_TRUE(fs.flush(f->ino).ok());
		ASSERT_TRUE(fs.release(f->ino).ok());
		fs.forget(f->ino, 1); /* the kernel let go: only the names can tell */
	};
	EXPECT_EQ(fs.lookup(dir->ino, "other").error().code(), ENOENT);
	ASSERT_NE(made, 0u);
	/* The listing without "late" was not kept: an exclusive create must see the file. */
	EXPECT_TRUE(fs.lookup(dir->ino, "late").ok());
	EXPECT_EQ(fs.create(dir->ino, "late", 0644, O_WRONLY | O_CREAT | O_EXCL, Caller{}).error().code(), EEXIST);
}
