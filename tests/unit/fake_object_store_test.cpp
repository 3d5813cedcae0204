// FakeObjectStore: S3's listing, ETag, conditional, multipart and copy rules, fault injection, counters.
#include "fs/fake_object_store.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <thread>

#include <gtest/gtest.h>
#include <openssl/evp.h>

using namespace vfs::fs;
using Op = FakeObjectStore::Op;

namespace {

constexpr std::uint64_t MiB = 1 << 20;

std::span<const std::byte> bytesOf(std::string_view s)
{
	return std::as_bytes(std::span(s.data(), s.size()));
}

std::vector<std::byte> pattern(std::size_t n, unsigned seed)
{
	std::vector<std::byte> v(n);
	for (std::size_t i = 0; i < n; ++i)
		v[i] = std::byte(static_cast<unsigned char>((i * 31 + seed * 7 + (i >> 12)) & 0xff));
	return v;
}

std::string stringOf(std::span<const std::byte> b)
{
	return { reinterpret_cast<const char *>(b.data()), b.size() };
}

std::vector<unsigned char> md5Raw(std::span<const std::byte> data)
{
	std::vector<unsigned char> d(16);
	unsigned int len = 0;
	EVP_Digest(data.data(), data.size(), d.data(), &len, EVP_md5(), nullptr);
	return d;
}

std::string hexOf(const std::vector<unsigned char> &d)
{
	static const char digits[] = "0123456789abcdef";
	std::string s;
	for (unsigned char c : d) {
		s += digits[c >> 4];
		s += digits[c & 0xf];
	}
	return s;
}

PutOptions withMeta(Metadata m, std::string contentType = {})
{
	PutOptions o;
	o.metadata = std::move(m);
	o.contentType = std::move(contentType);
	return o;
}

/* Every item of a listing, page after page, as "k:key" and "p:prefix". */
std::vector<std::string> listAll(FakeObjectStore &store, ListRequest request, unsigned *pages = nullptr)
{
	std::vector<std::string> items;
	unsigned n = 0;
	for (;;) {
		auto page = store.list(request);
		EXPECT_TRUE(page.ok()) << page.error().toString();
		if (!page)
			break;
		++n;
		for (const auto &o : page->objects)
			items.push_back("k:" + o.key);
		for (const auto &p : page->commonPrefixes)
			items.push_back("p:" + p);
		if (page->nextToken.empty())
			break;
		request.continuationToken = page->nextToken;
	}
	if (pages)
		*pages = n;
	return items;
}

TEST(FakeObjectStore, PutHeadGetRoundTripWithS3Etag)
{
	FakeObjectStore store;
	store.setClock([] { return Timestamp(std::chrono::milliseconds(1'700'000'000'750)); });
	auto etag = store.put("dir/hello.txt", bytesOf("hello"), withMeta({ { "Mode", "33188" } }, "text/plain"));
	ASSERT_TRUE(etag.ok()) << etag.error().toString();
	/* MD5("hello"), quoted, as S3 returns it. */
	EXPECT_EQ(*etag, "\"5d41402abc4b2a76b9719d911017c592\"");

	auto head = store.head("dir/hello.txt");
	ASSERT_TRUE(head.ok());
	EXPECT_EQ(head->size, 5u);
	EXPECT_EQ(head->etag, *etag);
	EXPECT_EQ(head->contentType, "text/plain");
	/* Names come back lower case, as S3 sends x-amz-meta-* headers. */
	EXPECT_EQ(head->metadata, (Metadata{ { "mode", "33188" } }));
	/* Last-Modified has whole seconds. */
	EXPECT_EQ(head->lastModified, Timestamp(std::chrono::seconds(1'700'000'000)));

	std::vector<std::byte> buf(16);
	auto got = store.get("dir/hello.txt", 1, buf, {});
	ASSERT_TRUE(got.ok());
	EXPECT_EQ(got->bytes, 4u);
	EXPECT_EQ(got->objectSize, 5u);
	EXPECT_EQ(got->etag, *etag);
	EXPECT_EQ(stringOf(std::span(buf).first(4)), "ello");

	EXPECT_EQ(store.head("dir/missing").error().code(), ENOENT);
	EXPECT_EQ(store.get("dir/missing", 0, buf, {}).error().code(), ENOENT);
}

TEST(FakeObjectStore, RangesPastTheEndAreStaleAndEmptyBuffersInvalid)
{
	FakeObjectStore store;
	ASSERT_TRUE(store.put("f", bytesOf("0123456789"), {}).ok());
	ASSERT_TRUE(store.put("empty", {}, {}).ok());
	std::vector<std::byte> buf(4);

	EXPECT_EQ(store.get("f", 10, buf, {}).error().code(), ESTALE);
	EXPECT_EQ(store.get("f", 11, buf, {}).error().code(), ESTALE);
	auto tail = store.get("f", 8, buf, {});
	ASSERT_TRUE(tail.ok());
	EXPECT_EQ(tail->bytes, 2u);
	EXPECT_EQ(stringOf(std::span(buf).first(2)), "89");

	auto empty = store.get("empty", 0, buf, {});
	ASSERT_TRUE(empty.ok());
	EXPECT_EQ(empty->bytes, 0u);
	EXPECT_EQ(store.get("f", 0, std::span<std::byte>(), {}).error().code(), EINVAL);
	EXPECT_EQ(store.stats()[Op::Get].bytesDownloaded, 2u);
}

TEST(FakeObjectStore, IfMatchOnGetAndPut)
{
	FakeObjectStore store;
	auto v1 = store.put("k", bytesOf("one"), {});
	ASSERT_TRUE(v1.ok());
	std::vector<std::byte> buf(8);
	EXPECT_TRUE(store.get("k", 0, buf, *v1).ok());
	/* Either ETag form matches: RGW sends some unquoted. */
	EXPECT_TRUE(store.get("k", 0, buf, v1->substr(1, v1->size() - 2)).ok());

	auto v2 = store.put("k", bytesOf("two"), {});
	ASSERT_TRUE(v2.ok());
	EXPECT_NE(*v1, *v2);
	EXPECT_EQ(store.get("k", 0, buf, *v1).error().code(), ESTALE);

	PutOptions stale;
	stale.ifMatch = *v1;
	EXPECT_EQ(store.put("k", bytesOf("three"), stale).error().code(), ESTALE);
	EXPECT_EQ(stringOf(*store.contents("k")), "two");

	PutOptions current;
	current.ifMatch = *v2;
	EXPECT_TRUE(store.put("k", bytesOf("three"), current).ok());
	EXPECT_EQ(stringOf(*store.contents("k")), "three");
	EXPECT_EQ(store.put("gone", bytesOf("x"), current).error().code(), ENOENT);
	EXPECT_FALSE(store.contents("gone"));
}

TEST(FakeObjectStore, ListingRollsUpCommonPrefixesInByteOrder)
{
	FakeObjectStore store;
	for (const char *k : { "a", "b/1", "b/2", "b/c/3", "c/d/e", "d", "b.txt", "\xc3\xa9t\xc3\xa9", "B" })
		ASSERT_TRUE(store.put(k, bytesOf(k), {}).ok());

	ListRequest root;
	auto items = listAll(store, root);
	/* One page: objects first, then prefixes, each sorted by bytes ('B' < 'a' < 'b.txt' < UTF-8). */
	EXPECT_EQ(items, (std::vector<std::string>{ "k:B", "k:a", "k:b.txt", "k:d", "k:\xc3\xa9t\xc3\xa9", "p:b/",
						    "p:c/" }));

	ListRequest sub;
	sub.prefix = "b/";
	EXPECT_EQ(listAll(store, sub), (std::vector<std::string>{ "k:b/1", "k:b/2", "p:b/c/" }));

	ListRequest flat;
	flat.prefix = "b";
	flat.delimiter = "";
	EXPECT_EQ(listAll(store, flat), (std::vector<std::string>{ "k:b.txt", "k:b/1", "k:b/2", "k:b/c/3" }));
}

TEST(FakeObjectStore, PaginationCountsKeysAndPrefixesAndTokensAreOpaque)
{
	FakeObjectStore store;
	for (const char *k : { "a", "b/1", "b/2", "c/x", "d" })
		ASSERT_TRUE(store.put(k, bytesOf("x"), {}).ok());
	store.setPageSize(1);

	ListRequest r;
	auto first = store.list(r);
	ASSERT_TRUE(first.ok());
	ASSERT_EQ(first->objects.size(), 1u);
	EXPECT_EQ(first->objects[0].key, "a");
	ASSERT_FALSE(first->nextToken.empty());
	EXPECT_EQ(first->nextToken.find('a'), std::string::npos) << "the token should not be the key";

	unsigned pages = 0;
	/* A common prefix counts as one item and is never repeated on the next page. */
	EXPECT_EQ(listAll(store, r, &pages), (std::vector<std::string>{ "k:a", "p:b/", "p:c/", "k:d" }));
	EXPECT_EQ(pages, 4u);

	/* The request's maxKeys applies when it is the smaller one. */
	store.setPageSize(1000);
	r.maxKeys = 3;
	EXPECT_EQ(listAll(store, r, &pages).size(), 4u);
	EXPECT_EQ(pages, 2u);

	ListRequest bad;
	bad.continuationToken = "not-a-token";
	EXPECT_EQ(store.list(bad).error().code(), EINVAL);

	ListRequest after;
	after.startAfter = "b/2";
	EXPECT_EQ(listAll(store, after), (std::vector<std::string>{ "k:d", "p:c/" }));
}

TEST(FakeObjectStore, CopyKeepsOrReplacesMetadataAndCountsServerSideBytes)
{
	FakeObjectStore store;
	auto etag = store.put("src", bytesOf("payload"), withMeta({ { "mode", "33188" } }, "text/plain"));
	ASSERT_TRUE(etag.ok());

	auto kept = store.copy("src", "dst1", MetadataMode::Keep, withMeta({ { "mode", "1" } }));
	ASSERT_TRUE(kept.ok());
	EXPECT_EQ(*kept, *etag);
	EXPECT_EQ(store.object("dst1")->metadata, (Metadata{ { "mode", "33188" } }));
	EXPECT_EQ(store.object("dst1")->contentType, "text/plain");

	ASSERT_TRUE(store.copy("src", "dst2", MetadataMode::Replace, withMeta({ { "Uid", "7" } })).ok());
	EXPECT_EQ(store.object("dst2")->metadata, (Metadata{ { "uid", "7" } }));
	EXPECT_EQ(stringOf(*store.contents("dst2")), "payload");

	/* Like S3: a copy onto itself must change the metadata. */
	EXPECT_EQ(store.copy("src", "src", MetadataMode::Keep, {}).error().code(), EINVAL);
	ASSERT_TRUE(store.copy("src", "src", MetadataMode::Replace, withMeta({ { "mode", "33261" } })).ok());
	EXPECT_EQ(store.object("src")->metadata.at("mode"), "33261");
	EXPECT_EQ(store.copy("nope", "x", MetadataMode::Keep, {}).error().code(), ENOENT);

	auto s = store.stats();
	EXPECT_EQ(s[Op::Copy].bytesCopied, 3 * 7u);
	EXPECT_EQ(s[Op::Copy].calls, 5u);
	EXPECT_EQ(s[Op::Copy].failures, 2u);
	EXPECT_EQ(s.bytesUploaded(), 7u);
}

TEST(FakeObjectStore, MultipartEtagIsMd5OfPartMd5sAndPartsAreChecked)
{
	FakeObjectStore store;
	auto p1 = pattern(5 * MiB, 1);
	auto p2 = pattern(1000, 2);
	auto id = store.createUpload("big", withMeta({ { "mode", "33188" } }));
	ASSERT_TRUE(id.ok());
	auto e2 = store.uploadPart("big", *id, 2, p2);
	auto e1 = store.uploadPart("big", *id, 1, p1);
	ASSERT_TRUE(e1.ok() && e2.ok());
	EXPECT_EQ(*e1, "\"" + hexOf(md5Raw(p1)) + "\"");

	/* Parts must be listed in ascending order, with their ETags. */
	EXPECT_EQ(store.completeUpload("big", *id, { { 2, *e2 }, { 1, *e1 } }).error().code(), EINVAL);
	EXPECT_EQ(store.completeUpload("big", *id, { { 1, "\"bogus\"" }, { 2, *e2 } }).error().code(), EINVAL);
	EXPECT_EQ(store.completeUpload("big", *id, { { 1, *e1 }, { 3, *e2 } }).error().code(), EINVAL);
	EXPECT_FALSE(store.contents("big"));

	auto etag = store.completeUpload("big", *id, { { 1, *e1 }, { 2, *e2 } });
	ASSERT_TRUE(etag.ok()) << etag.error().toString();
	auto d1 = md5Raw(p1);
	auto d2 = md5Raw(p2);
	d1.insert(d1.end(), d2.begin(), d2.end());
	EXPECT_EQ(*etag, "\"" + hexOf(md5Raw(std::as_bytes(std::span(d1)))) + "-2\"");

	auto whole = *store.contents("big");
	ASSERT_EQ(whole.size(), p1.size() + p2.size());
	EXPECT_TRUE(std::equal(p1.begin(), p1.end(), whole.begin()));
	EXPECT_TRUE(std::equal(p2.begin(), p2.end(), whole.begin() + p1.size()));
	EXPECT_EQ(store.object("big")->metadata.at("mode"), "33188");
	EXPECT_EQ(store.uploadsInProgress(), 0u);
	/* The id is spent: S3 says NoSuchUpload. */
	EXPECT_EQ(store.completeUpload("big", *id, { { 1, *e1 } }).error().code(), ESTALE);
}

TEST(FakeObjectStore, PartsUnderFiveMiBExceptTheLastAreRefused)
{
	FakeObjectStore store;
	auto id = store.createUpload("k", {});
	ASSERT_TRUE(id.ok());
	auto small = pattern(5 * MiB - 1, 3);
	auto e1 = store.uploadPart("k", *id, 1, small);
	auto e2 = store.uploadPart("k", *id, 2, bytesOf("tail"));
	ASSERT_TRUE(e1.ok() && e2.ok());
	EXPECT_EQ(store.completeUpload("k", *id, { { 1, *e1 }, { 2, *e2 } }).error().code(), EINVAL);
	/* A single small part is the last part: allowed. */
	auto single = store.completeUpload("k", *id, { { 2, *e2 } });
	ASSERT_TRUE(single.ok());
	EXPECT_EQ(stringOf(*store.contents("k")), "tail");
	EXPECT_NE(single->find("-1\""), std::string::npos);

	EXPECT_EQ(store.uploadPart("k", "no-such-id", 1, bytesOf("x")).error().code(), ESTALE);
	auto id2 = store.createUpload("k", {});
	EXPECT_EQ(store.uploadPart("k", *id2, 0, bytesOf("x")).error().code(), EINVAL);
	EXPECT_EQ(store.uploadPart("k", *id2, 10001, bytesOf("x")).error().code(), EINVAL);
	EXPECT_EQ(store.uploadPart("other-key", *id2, 1, bytesOf("x")).error().code(), ESTALE);
}

TEST(FakeObjectStore, PatchThroughUploadPartCopySendsOnlyThePatchedPart)
{
	FakeObjectStore store;
	auto original = pattern(12 * MiB, 4);
	auto etag = store.put("file", original, {});
	ASSERT_TRUE(etag.ok());
	store.resetStats();

	/* A 4 KiB patch in the middle part: parts 1 and 3 by copy, part 2 re-sent. */
	auto patched = original;
	std::fill(patched.begin() + 6 * MiB, patched.begin() + 6 * MiB + 4096, std::byte{ 0xAB });
	auto id = store.createUpload("file", {});
	ASSERT_TRUE(id.ok());
	auto c1 = store.uploadPartCopy("file", *id, 1, "file", 0, 5 * MiB, *etag);
	auto u2 = store.uploadPart("file", *id, 2, std::span(patched).subspan(5 * MiB, 5 * MiB));
	auto c3 = store.uploadPartCopy("file", *id, 3, "file", 10 * MiB, 2 * MiB, *etag);
	ASSERT_TRUE(c1.ok() && u2.ok() && c3.ok()) << c1.error().toString();
	ASSERT_TRUE(store.completeUpload("file", *id, { { 1, *c1 }, { 2, *u2 }, { 3, *c3 } }).ok());

	EXPECT_EQ(*store.contents("file"), patched);
	auto s = store.stats();
	EXPECT_EQ(s.bytesUploaded(), 5 * MiB) << "at most one part's bytes went over the wire";
	EXPECT_EQ(s[Op::UploadPartCopy].bytesCopied, 7 * MiB);
	EXPECT_EQ(s[Op::UploadPartCopy].calls, 2u);
	/* The part ETag of a copy is the MD5 of the copied range. */
	EXPECT_EQ(*c3, "\"" + hexOf(md5Raw(std::span(original).subspan(10 * MiB))) + "\"");
}

TEST(FakeObjectStore, UploadPartCopyChecksSourceAndCanBeSwitchedOff)
{
	FakeObjectStore store;
	auto etag = store.put("src", pattern(100, 5), {});
	ASSERT_TRUE(etag.ok());
	auto id = store.createUpload("dst", {});
	ASSERT_TRUE(id.ok());

	EXPECT_EQ(store.uploadPartCopy("dst", *id, 1, "src", 0, 10, "\"other\"").error().code(), ESTALE);
	EXPECT_EQ(store.uploadPartCopy("dst", *id, 1, "src", 95, 10, *etag).error().code(), ESTALE);
	EXPECT_EQ(store.uploadPartCopy("dst", *id, 1, "src", 100, 1, *etag).error().code(), ESTALE);
	EXPECT_EQ(store.uploadPartCopy("dst", *id, 1, "src", 0, 0, *etag).error().code(), EINVAL);
	EXPECT_EQ(store.uploadPartCopy("dst", *id, 1, "missing", 0, 10, {}).error().code(), ENOENT);
	EXPECT_TRUE(store.uploadPartCopy("dst", *id, 1, "src", 90, 10, {}).ok());

	store.setUploadPartCopySupported(false);
	auto r = store.uploadPartCopy("dst", *id, 2, "src", 0, 10, *etag);
	ASSERT_FALSE(r.ok());
	EXPECT_EQ(r.error().code(), EOPNOTSUPP);
	EXPECT_EQ(store.stats()[Op::UploadPartCopy].bytesCopied, 10u);
}

TEST(FakeObjectStore, AbortAndListUploads)
{
	FakeObjectStore store;
	auto a = store.createUpload("dir/a", {});
	auto b = store.createUpload("dir/b", {});
	auto c = store.createUpload("other", {});
	ASSERT_TRUE(a.ok() && b.ok() && c.ok());
	auto listed = store.listUploads("dir/");
	ASSERT_TRUE(listed.ok());
	ASSERT_EQ(listed->size(), 2u);
	EXPECT_EQ((*listed)[0].key, "dir/a");
	EXPECT_EQ((*listed)[0].uploadId, *a);
	EXPECT_EQ((*listed)[1].key, "dir/b");

	EXPECT_TRUE(store.abortUpload("dir/a", *a).ok());
	EXPECT_EQ(store.abortUpload("dir/a", *a).error().code(), ESTALE);
	EXPECT_EQ(store.uploadPart("dir/a", *a, 1, bytesOf("x")).error().code(), ESTALE);
	EXPECT_EQ(store.uploadsInProgress(), 2u);
}

TEST(FakeObjectStore, KeyAndMetadataLimits)
{
	FakeObjectStore store;
	EXPECT_EQ(store.put("", bytesOf("x"), {}).error().code(), EINVAL);
	EXPECT_EQ(store.put(std::string(1025, 'k'), bytesOf("x"), {}).error().code(), ENAMETOOLONG);
	EXPECT_TRUE(store.put(std::string(1024, 'k'), bytesOf("x"), {}).ok());

	/* 2 KiB of user metadata, names and values counted. */
	EXPECT_EQ(store.put("m", bytesOf("x"), withMeta({ { "xattr", std::string(2044, 'v') } })).error().code(),
		  E2BIG);
	EXPECT_TRUE(store.put("m", bytesOf("x"), withMeta({ { "xattr", std::string(2043, 'v') } })).ok());
}

TEST(FakeObjectStore, RemoveIsIdempotentAndRemoveManyRemovesAll)
{
	FakeObjectStore store;
	for (int i = 0; i < 2500; ++i)
		ASSERT_TRUE(store.put("k" + std::to_string(i), bytesOf("x"), {}).ok());
	EXPECT_TRUE(store.remove("k0").ok());
	EXPECT_TRUE(store.remove("k0").ok());

	std::vector<std::string> keys;
	for (int i = 0; i < 2500; ++i)
		keys.push_back("k" + std::to_string(i));
	auto failed = store.removeMany(keys);
	ASSERT_TRUE(failed.ok());
	EXPECT_TRUE(failed->empty());
	EXPECT_TRUE(store.keys().empty());
}

TEST(FakeObjectStore, InjectedFailuresDoNothingAndAreCounted)
{
	FakeObjectStore store;
	store.failNext(Op::Put, EIO, 2);
	EXPECT_EQ(store.put("k", bytesOf("x"), {}).error().code(), EIO);
	EXPECT_EQ(store.put("k", bytesOf("x"), {}).error().code(), EIO);
	EXPECT_FALSE(store.contents("k"));
	EXPECT_TRUE(store.put("k", bytesOf("x"), {}).ok());

	/* The hook sees the operation and the key, and may call the store (no lock held). */
	std::vector<std::string> seen;
	store.setFaultHook([&](Op op, const std::string &key) {
		seen.push_back(std::string(toString(op)) + " " + key);
		if (op == Op::Get && key == "k")
			return store.object("k") ? EAGAIN : 0;
		return 0;
	});
	std::vector<std::byte> buf(1);
	EXPECT_EQ(store.get("k", 0, buf, {}).error().code(), EAGAIN);
	EXPECT_TRUE(store.head("k").ok());
	EXPECT_EQ(seen, (std::vector<std::string>{ "Get k", "Head k" }));

	store.failNext(Op::UploadPartCopy, EOPNOTSUPP);
	store.setFaultHook({});
	auto id = store.createUpload("d", {});
	EXPECT_EQ(store.uploadPartCopy("d", *id, 1, "k", 0, 1, {}).error().code(), EOPNOTSUPP);
	EXPECT_TRUE(store.uploadPartCopy("d", *id, 1, "k", 0, 1, {}).ok());

	auto s = store.stats();
	EXPECT_EQ(s[Op::Put].calls, 3u);
	EXPECT_EQ(s[Op::Put].failures, 2u);
	EXPECT_EQ(s[Op::Put].bytesUploaded, 1u);
	EXPECT_EQ(s[Op::Get].failures, 1u);
	EXPECT_EQ(s[Op::UploadPartCopy].failures, 1u);
}

TEST(FakeObjectStore, ConcurrentWritersReadersAndListers)
{
	FakeObjectStore store;
	store.setPageSize(7);
	constexpr int kThreads = 8;
	constexpr int kPerThread = 200;
	std::atomic<int> errors{ 0 };
	std::vector<std::thread> threads;
	for (int t = 0; t < kThreads; ++t) {
		threads.emplace_back([&, t] {
			std::vector<std::byte> buf(64);
			for (int i = 0; i < kPerThread; ++i) {
				std::string key = "t" + std::to_string(t) + "/" + std::to_string(i);
				std::string body = key + "-body";
				if (!store.put(key, bytesOf(body), {}))
					errors++;
				auto got = store.get(key, 0, buf, {});
				if (!got || stringOf(std::span(buf).first(got->bytes)) != body)
					errors++;
				ListRequest r;
				r.prefix = "t" + std::to_string((t + 1) % kThreads) + "/";
				if (!store.list(r))
					errors++;
			}
		});
	}
	for (auto &th : threads)
		th.join();
	EXPECT_EQ(errors.load(), 0);
	EXPECT_EQ(store.keys().size(), std::size_t(kThreads * kPerThread));
	ListRequest root;
	EXPECT_EQ(listAll(store, root).size(), std::size_t(kThreads));
	EXPECT_EQ(store.stats()[Op::Put].calls, std::uint64_t(kThreads * kPerThread));
}

} /* namespace */

TEST(FakeObjectStore, GetDelayMakesGetsOverlapAndTheGaugeCountsThem)
{
	FakeObjectStore store;
	std::vector<std::byte> body(1000, std::byte{ 7 });
	ASSERT_TRUE(store.put("k", body, {}).ok());
	store.resetStats();
	store.setGetDelay(std::chrono::milliseconds(100));
	std::vector<std::thread> readers;
	for (int t = 0; t < 3; ++t)
		readers.emplace_back([&]() {
			std::vector<std::byte> got(10);
			EXPECT_TRUE(store.get("k", 0, got, {}).ok());
		});
	for (std::thread &t : readers)
		t.join();
	EXPECT_EQ(store.stats().maxConcurrentGets, 3u);
	store.resetStats();
	store.setGetDelay(std::chrono::milliseconds(0));
	std::vector<std::byte> got(10);
	ASSERT_TRUE(store.get("k", 0, got, {}).ok());
	EXPECT_EQ(store.stats().maxConcurrentGets, 1u);
}
