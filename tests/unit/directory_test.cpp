// Directory listings over the fake store: pages, implicit directories, conflicts, hostile keys, streaming.
#include "fs/directory.h"

#include <algorithm>
#include <cerrno>
#include <functional>
#include <map>
#include <random>
#include <set>

#include <gtest/gtest.h>

#include "fs/fake_object_store.h"

using namespace vfs;
using namespace vfs::fs;
using Op = FakeObjectStore::Op;

namespace {

std::span<const std::byte> bytesOf(std::string_view s)
{
	return std::as_bytes(std::span(s.data(), s.size()));
}

void putAll(FakeObjectStore &store, std::initializer_list<std::string> keys)
{
	for (const std::string &k : keys)
		ASSERT_TRUE(store.put(k, bytesOf(k), {}).ok()) << k;
}

/* "name" for objects, "name/" for directories: compact expectations. */
std::vector<std::string> namesOf(const std::vector<DirEntry> &entries)
{
	std::vector<std::string> names;
	for (const DirEntry &e : entries)
		names.push_back(e.type == EntryType::Directory ? e.name + "/" : e.name);
	return names;
}

struct Collector {
	std::vector<SkippedKey> skipped;
	SkipLog log()
	{
		return [this](const SkippedKey &s) { skipped.push_back(s); };
	}
	std::map<std::string, std::string> byKey() const
	{
		std::map<std::string, std::string> m;
		for (const SkippedKey &s : skipped)
			m[s.key] = s.reason;
		return m;
	}
};

TEST(Directory, FilesSubdirectoriesAndTheOwnMarker)
{
	FakeObjectStore store;
	putAll(store, { "d/", "d/a.txt", "d/b/", "d/c/x", "d/e", "other" });
	auto listed = listDirectory(store, "d/");
	ASSERT_TRUE(listed.ok()) << listed.error().toString();
	EXPECT_EQ(namesOf(listed->entries), (std::vector<std::string>{ "a.txt", "b/", "c/", "e" }));
	EXPECT_TRUE(listed->hasMarker);

	const DirEntry &a = listed->entries[0];
	EXPECT_EQ(a.key, "d/a.txt");
	EXPECT_EQ(a.size, 7u);
	EXPECT_EQ(a.etag, store.object("d/a.txt")->etag);
	EXPECT_EQ(a.lastModified, store.object("d/a.txt")->lastModified);
	EXPECT_EQ(listed->entries[1].key, "d/b/");

	/* A directory holding only its marker is empty, and still there. */
	putAll(store, { "empty/" });
	auto empty = listDirectory(store, "empty/");
	ASSERT_TRUE(empty.ok());
	EXPECT_TRUE(empty->entries.empty());
	EXPECT_TRUE(empty->hasMarker);
	auto none = listDirectory(store, "nothing/");
	ASSERT_TRUE(none.ok());
	EXPECT_TRUE(none->entries.empty());
	EXPECT_FALSE(none->hasMarker);
}

TEST(Directory, ImplicitDirectoriesNeedNoMarkers)
{
	FakeObjectStore store;
	putAll(store, { "a/b/c" });
	auto root = listDirectory(store, "");
	ASSERT_TRUE(root.ok());
	EXPECT_EQ(namesOf(root->entries), std::vector<std::string>{ "a/" });
	EXPECT_FALSE(root->hasMarker);

	auto a = listDirectory(store, "a/");
	ASSERT_TRUE(a.ok());
	EXPECT_EQ(namesOf(a->entries), std::vector<std::string>{ "b/" });
	EXPECT_FALSE(a->hasMarker);

	auto ab = listDirectory(store, "a/b/");
	ASSERT_TRUE(ab.ok());
	EXPECT_EQ(namesOf(ab->entries), std::vector<std::string>{ "c" });
}

TEST(Directory, FiveThousandEntriesAcrossPages)
{
	FakeObjectStore store;
	std::set<std::string> expected;
	for (int i = 0; i < 5200; ++i) {
		std::string name = "file-" + std::to_string(i) + ".dat";
		ASSERT_TRUE(store.put("big/" + name, bytesOf("x"), {}).ok());
		expected.insert(name);
	}
	for (int i = 0; i < 300; ++i) {
		std::string name = "sub-" + std::to_string(i);
		ASSERT_TRUE(store.put("big/" + name + "/inner", bytesOf("x"), {}).ok());
		expected.insert(name + "/");
	}
	store.resetStats();

	Collector c;
	auto listed = listDirectory(store, "big/", c.log());
	ASSERT_TRUE(listed.ok()) << listed.error().toString();
	ASSERT_EQ(listed->entries.size(), 5500u);
	auto names = namesOf(listed->entries);
	EXPECT_EQ(std::set<std::string>(names.begin(), names.end()), expected);
	EXPECT_TRUE(std::is_sorted(listed->entries.begin(), listed->entries.end(),
				   [](const DirEntry &a, const DirEntry &b) { return a.name < b.name; }));
	EXPECT_TRUE(c.skipped.empty());
	/* 5500 items at 1000 a page. */
	EXPECT_EQ(store.stats()[Op::List].calls, 6u);

	/* The same with a server that pages by 7, and with the reader's own page size. */
	store.setPageSize(7);
	auto small = listDirectory(store, "big/");
	ASSERT_TRUE(small.ok());
	EXPECT_EQ(small->entries.size(), 5500u);
	store.setPageSize(1000);
	store.resetStats();
	auto byRequest = listDirectory(store, "big/", {}, {}, 250);
	ASSERT_TRUE(byRequest.ok());
	EXPECT_EQ(byRequest->entries.size(), 5500u);
	EXPECT_EQ(store.stats()[Op::List].calls, 22u);
}

TEST(Directory, HostileKeysAreSkippedWithAReason)
{
	FakeObjectStore store;
	std::string longName(256, 'n');
	std::string maxName(255, 'm');
	putAll(store, { "a//b", "a/./b", "a/../b", "a/ok", "..", ".", "//", "/", "/lead", "x/" + longName,
			longName, maxName, "long/" + longName + "/deeper" });
	Collector c;
	auto root = listDirectory(store, "", c.log());
	ASSERT_TRUE(root.ok()) << root.error().toString();
	EXPECT_EQ(namesOf(root->entries), (std::vector<std::string>{ "a/", "long/", maxName, "x/" }));
	auto skipped = c.byKey();
	EXPECT_EQ(skipped[".."], "'.' or '..' path component");
	EXPECT_EQ(skipped["."], "'.' or '..' path component");
	EXPECT_EQ(skipped["/"], "empty path component");
	EXPECT_EQ(skipped[longName], "path component longer than 255 bytes");

	Collector ca;
	auto a = listDirectory(store, "a/", ca.log());
	ASSERT_TRUE(a.ok());
	EXPECT_EQ(namesOf(a->entries), std::vector<std::string>{ "ok" });
	auto sa = ca.byKey();
	EXPECT_EQ(sa.size(), 3u);
	EXPECT_EQ(sa["a//"], "empty path component");
	EXPECT_EQ(sa["a/./"], "'.' or '..' path component");
	EXPECT_EQ(sa["a/../"], "'.' or '..' path component");

	/* A directory whose only key is unusable shows as empty. */
	Collector cx;
	auto x = listDirectory(store, "x/", cx.log());
	ASSERT_TRUE(x.ok());
	EXPECT_TRUE(x->entries.empty());
	ASSERT_EQ(cx.skipped.size(), 1u);
	EXPECT_EQ(cx.skipped[0].reason, "path component longer than 255 bytes");
	auto l = listDirectory(store, "long/", cx.log());
	ASSERT_TRUE(l.ok());
	EXPECT_TRUE(l->entries.empty());
}

TEST(Directory, ADirectoryShadowsTheFileOfTheSameNameAcrossPages)
{
	for (unsigned pageSize : { 1000u, 1u, 2u }) {
		FakeObjectStore store;
		store.setPageSize(pageSize);
		/* In key order "x" < "x.txt" < "x/y": the conflict spans pages when they are small. */
		putAll(store, { "x", "x.txt", "x/y", "y", "z/" });
		Collector c;
		auto listed = listDirectory(store, "", c.log());
		ASSERT_TRUE(listed.ok());
		EXPECT_EQ(namesOf(listed->entries), (std::vector<std::string>{ "x/", "x.txt", "y", "z/" }))
			<< "page size " << pageSize;
		ASSERT_EQ(c.skipped.size(), 1u);
		EXPECT_EQ(c.skipped[0].key, "x");
		EXPECT_EQ(c.skipped[0].reason, "shadowed by the directory of the same name");
	}
}

TEST(Directory, LegacyFolderMarkers)
{
	FakeObjectStore store;
	putAll(store, { "old_$folder$", "both_$folder$", "both/inner", "_$folder$", "file" });
	auto listed = listDirectory(store, "");
	ASSERT_TRUE(listed.ok());
	EXPECT_EQ(namesOf(listed->entries), (std::vector<std::string>{ "_$folder$", "both/", "file", "old/" }));
	EXPECT_EQ(listed->entries[3].key, "old/");

	DirectoryOptions off;
	off.legacyFolderMarkers = false;
	auto plain = listDirectory(store, "", {}, off);
	ASSERT_TRUE(plain.ok());
	EXPECT_EQ(namesOf(plain->entries),
		  (std::vector<std::string>{ "_$folder$", "both/", "both_$folder$", "file", "old_$folder$" }));
}

TEST(Directory, PagesWithoutDelimiterGiveEachDirectoryOnce)
{
	/* A listing without delimiter (or a server ignoring it) sends every key below. */
	DirectoryListing listing("p/");
	ListPage one;
	one.objects = { { "p/a/1", 1, "\"e\"", {} }, { "p/a/2", 1, "\"e\"", {} }, { "p/a/b/3", 1, "\"e\"", {} } };
	listing.addPage(one);
	auto first = listing.takeReady();
	EXPECT_EQ(namesOf(first), std::vector<std::string>{ "a/" });
	ListPage two;
	two.objects = { { "p/a/c/4", 1, "\"e\"", {} }, { "p/a0", 2, "\"f\"", {} }, { "p/b", 3, "\"g\"", {} } };
	listing.addPage(two);
	auto second = listing.takeReady();
	auto rest = listing.finish();
	second.insert(second.end(), rest.begin(), rest.end());
	EXPECT_EQ(namesOf(second), (std::vector<std::string>{ "a0", "b" }));
}

TEST(Directory, ReaderStreamsBatchesBeforeTheEnd)
{
	FakeObjectStore store;
	for (int i = 0; i < 3000; ++i)
		ASSERT_TRUE(store.put("s/f" + std::to_string(10000 + i), bytesOf("x"), {}).ok());
	store.resetStats();

	DirectoryReader reader(store, "s/", {}, {}, 1000);
	auto first = reader.next();
	ASSERT_TRUE(first.ok());
	EXPECT_FALSE(reader.done());
	EXPECT_EQ(store.stats()[Op::List].calls, 1u);
	/* All but the last name of the page are settled at once. */
	EXPECT_GE(first->size(), 900u);

	std::set<std::string> seen;
	for (const DirEntry &e : *first)
		EXPECT_TRUE(seen.insert(e.name).second);
	while (!reader.done()) {
		auto batch = reader.next();
		ASSERT_TRUE(batch.ok());
		for (const DirEntry &e : *batch)
			EXPECT_TRUE(seen.insert(e.name).second) << e.name << " twice";
	}
	EXPECT_EQ(seen.size(), 3000u);
	EXPECT_EQ(store.stats()[Op::List].calls, 3u);
}

TEST(Directory, ListingErrorsPropagateAndTheReaderCanRetry)
{
	FakeObjectStore store;
	putAll(store, { "r/a", "r/b", "r/c" });
	store.setPageSize(1);
	store.failNext(Op::List, EAGAIN);

	DirectoryReader reader(store, "r/");
	auto failed = reader.next();
	ASSERT_FALSE(failed.ok());
	EXPECT_EQ(failed.error().code(), EAGAIN);
	std::vector<std::string> names;
	while (!reader.done()) {
		auto batch = reader.next();
		ASSERT_TRUE(batch.ok()) << batch.error().toString();
		for (const DirEntry &e : *batch)
			names.push_back(e.name);
	}
	EXPECT_EQ(names, (std::vector<std::string>{ "a", "b", "c" }));

	store.failNext(Op::List, EACCES);
	auto denied = listDirectory(store, "r/");
	ASSERT_FALSE(denied.ok());
	EXPECT_EQ(denied.error().code(), EACCES);
}

/* A store whose listing misbehaves as a hostile or broken server might. */
class HostileStore : public FakeObjectStore
{
public:
	std::function<Result<ListPage>(const ListRequest &)> lister;
	Result<ListPage> list(const ListRequest &request) override { return lister(request); }
};

TEST(Directory, HostileListingsNeverLoopOrCrash)
{
	HostileStore store;
	store.lister = [](const ListRequest &) {
		ListPage p;
		p.objects = { { "d/a", 1, "", {} } };
		p.nextToken = "same";
		return Result<ListPage>(p);
	};
	auto stuck = listDirectory(store, "d/");
	ASSERT_FALSE(stuck.ok());
	EXPECT_EQ(stuck.error().code(), EIO);

	unsigned calls = 0;
	store.lister = [&](const ListRequest &) {
		ListPage p;
		p.nextToken = "t" + std::to_string(++calls);
		return Result<ListPage>(p);
	};
	auto empty = listDirectory(store, "d/");
	ASSERT_FALSE(empty.ok());
	EXPECT_EQ(empty.error().code(), EIO);
	EXPECT_LE(calls, 101u);

	store.lister = [](const ListRequest &) {
		ListPage p;
		p.objects = { { "elsewhere/x", 1, "", {} }, { "d/ok", 1, "", {} }, { "d", 1, "", {} } };
		p.commonPrefixes = { "e/", "d/sub", "d/", "d/sub/" };
		return Result<ListPage>(p);
	};
	Collector c;
	auto odd = listDirectory(store, "d/", c.log());
	ASSERT_TRUE(odd.ok());
	EXPECT_EQ(namesOf(odd->entries), (std::vector<std::string>{ "ok", "sub/" }));
	auto s = c.byKey();
	EXPECT_EQ(s["elsewhere/x"], "outside the listed prefix");
	EXPECT_EQ(s["d"], "outside the listed prefix");
	EXPECT_EQ(s["e/"], "outside the listed prefix");
	EXPECT_EQ(s["d/"], "outside the listed prefix");
	EXPECT_EQ(s["d/sub"], "common prefix without '/'");
}

/* What a directory should show, computed the simple way from every key. */
std::map<std::string, EntryType> reference(const std::vector<std::string> &keys, const std::string &prefix)
{
	std::set<std::string> dirs;
	std::set<std::string> objects;
	for (const std::string &k : keys) {
		if (k.size() <= prefix.size() || k.compare(0, prefix.size(), prefix) != 0)
			continue;
		std::string rel = k.substr(prefix.size());
		std::size_t slash = rel.find('/');
		if (slash != std::string::npos) {
			if (invalidNameReason(rel.substr(0, slash)).empty())
				dirs.insert(rel.substr(0, slash));
		} else if (rel.size() > 9 && rel.ends_with("_$folder$")) {
			if (invalidNameReason(rel.substr(0, rel.size() - 9)).empty())
				dirs.insert(rel.substr(0, rel.size() - 9));
		} else if (invalidNameReason(rel).empty()) {
			objects.insert(rel);
		}
	}
	std::map<std::string, EntryType> r;
	for (const std::string &o : objects)
		r[o] = EntryType::Object;
	for (const std::string &d : dirs)
		r[d] = EntryType::Directory;
	return r;
}

TEST(Directory, RandomHostileBucketsMatchTheReference)
{
	const std::vector<std::string> components = { "a", "b", "ab", ".", "..", "", "_$folder$", "a_$folder$",
						       std::string(256, 'z'), "\xff", "b.c", "a-", "a0", " " };
	std::uint64_t seed = std::random_device{}();
	SCOPED_TRACE("seed " + std::to_string(seed));
	std::mt19937_64 rng(seed);

	for (int round = 0; round < 20; ++round) {
		FakeObjectStore store;
		std::vector<std::string> keys;
		std::set<std::string> prefixes = { "" };
		for (int i = 0; i < 150; ++i) {
			std::string key;
			int parts = 1 + static_cast<int>(rng() % 4);
			for (int p = 0; p < parts; ++p) {
				if (p > 0)
					key += '/';
				key += components[rng() % components.size()];
			}
			if (rng() % 5 == 0)
				key += '/';
			if (key.empty() || !store.put(key, bytesOf("v"), {}).ok())
				continue;
			keys.push_back(key);
			for (std::size_t s = key.find('/'); s != std::string::npos; s = key.find('/', s + 1))
				prefixes.insert(key.substr(0, s + 1));
		}

		for (const std::string &prefix : prefixes) {
			store.setPageSize(1 + static_cast<unsigned>(rng() % 7));
			auto listed = listDirectory(store, prefix, [](const SkippedKey &) {});
			ASSERT_TRUE(listed.ok());
			std::map<std::string, EntryType> got;
			for (const DirEntry &e : listed->entries) {
				EXPECT_TRUE(invalidNameReason(e.name).empty());
				EXPECT_TRUE(got.emplace(e.name, e.type).second) << "duplicate " << e.name;
			}
			EXPECT_EQ(got, reference(keys, prefix)) << "prefix '" << prefix << "'";

			/* Streaming yields the same entries, each once. */
			DirectoryReader reader(store, prefix, {}, {}, 1 + static_cast<unsigned>(rng() % 5));
			std::map<std::string, EntryType> streamed;
			while (!reader.done()) {
				auto batch = reader.next();
				ASSERT_TRUE(batch.ok());
				for (const DirEntry &e : *batch)
					EXPECT_TRUE(streamed.emplace(e.name, e.type).second) << "streamed twice " << e.name;
			}
			EXPECT_EQ(streamed, got) << "prefix '" << prefix << "'";
		}
	}
}

TEST(Directory, SkippedKeysLogSafely)
{
	FakeObjectStore store;
	putAll(store, { std::string("evil/\x1b[31m/x"), std::string("evil/\n/../y") });
	Collector c;
	auto listed = listDirectory(store, "evil/", c.log());
	ASSERT_TRUE(listed.ok());
	EXPECT_EQ(namesOf(listed->entries), (std::vector<std::string>{ "\n/", "\x1b[31m/" }));
	Collector d;
	ASSERT_TRUE(listDirectory(store, "evil/\n/", d.log()).ok());
	ASSERT_EQ(d.skipped.size(), 1u);
	/* The collected key is the raw key; its log line escapes it. */
	EXPECT_EQ(d.skipped[0].key, "evil/\n/../");
	EXPECT_EQ(d.skipped[0].toString(), "skipped key 'evil/\\x0a/../': '.' or '..' path component");
}

TEST(Directory, InvalidNameReasonsMatchIsValidName)
{
	EXPECT_EQ(invalidNameReason("ok"), "");
	EXPECT_EQ(invalidNameReason(std::string(255, 'x')), "");
	EXPECT_EQ(invalidNameReason(""), "empty path component");
	EXPECT_EQ(invalidNameReason(".."), "'.' or '..' path component");
	EXPECT_EQ(invalidNameReason(std::string(256, 'x')), "path component longer than 255 bytes");
	EXPECT_EQ(invalidNameReason(std::string_view("a\0b", 3)), "NUL byte in the name");
	EXPECT_EQ(invalidNameReason("a/b"), "'/' in the name");
}

} /* namespace */
