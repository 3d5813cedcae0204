// Filesystem namespace operations against the fake bucket: lookups, listings, directories, attributes.
#include "fs/filesystem.h"

#include <fcntl.h>

#include <gtest/gtest.h>

#include "fs/fake_object_store.h"
#include "pool/block_pool.h"

using namespace vfs::fs;

namespace {

std::span<const std::byte> bytesOf(std::string_view s)
{
	return std::as_bytes(std::span(s.data(), s.size()));
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
	EXPECT_EQ(fs.rename(kRootIno, "d", kRootIno, "e", false).error().code(), EXDEV);
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
