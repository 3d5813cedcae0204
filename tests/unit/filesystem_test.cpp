// Filesystem namespace operations against the fake bucket: lookups, listings, directories, attributes.
#include "fs/filesystem.h"

#include <fcntl.h>

#include <atomic>

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

TEST_F(FilesystemPressureTest, WriterLargerThanMemoryUploadsAlongTheWay)
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
	EXPECT_GE(fs.metrics().flushes, 3u); /* uploads made room on the way */
	ASSERT_TRUE(fs.flush(f->ino).ok());
	ASSERT_TRUE(fs.release(f->ino).ok());
	EXPECT_EQ(store_.contents("big"), data);
}

TEST_F(FilesystemPressureTest, OtherFilesAreUploadedLargestFirst)
{
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
	EXPECT_EQ(store_.contents("a")->size(), 0u); /* still only in memory */
	for (Ino ino : { a->ino, b->ino, c->ino }) {
		ASSERT_TRUE(fs.flush(ino).ok());
		ASSERT_TRUE(fs.release(ino).ok());
	}
	EXPECT_EQ(store_.contents("a"), small);
	EXPECT_EQ(store_.contents("c"), more);
}

TEST_F(FilesystemPressureTest, FailedUploadUnderPressureIsEioAndKeepsData)
{
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
	EXPECT_GE(fs.metrics().flushes, 1u);
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
