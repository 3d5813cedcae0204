// S3 XML parsing and building, typed errors, and libxml2 hardening against hostile documents.
#include "s3/xml.h"

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include <gtest/gtest.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "s3/errors.h"
#include "s3/http.h"

using namespace vfs::s3;
using namespace std::chrono;
using namespace std::string_literals;

namespace {

Timestamp utc(int y, unsigned mo, unsigned d, int h, int mi, int s, int ms = 0)
{
	return time_point_cast<system_clock::duration>(sys_days(year{ y } / month{ mo } / day{ d }) + hours(h) +
						       minutes(mi) + seconds(s) + milliseconds(ms));
}

/* Everything written to fd 2 while @fn runs: libxml2 writes there directly when not silenced. */
std::string stderrOf(const std::function<void()> &fn)
{
	std::fflush(stderr);
	std::FILE *sink = std::tmpfile();
	if (!sink)
		return "tmpfile failed";
	int saved = dup(2);
	dup2(fileno(sink), 2);
	fn();
	std::fflush(stderr);
	dup2(saved, 2);
	close(saved);
	std::string out;
	std::rewind(sink);
	char buf[4096];
	std::size_t n;
	while ((n = std::fread(buf, 1, sizeof(buf), sink)) > 0)
		out.append(buf, n);
	std::fclose(sink);
	return out;
}

/* An independent parse of a built body, with plain libxml2, to check what a server would read. */
struct PlainDoc {
	explicit PlainDoc(const std::string &body)
		: doc(xmlReadMemory(body.data(), static_cast<int>(body.size()), nullptr, nullptr,
				    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING))
	{
	}
	~PlainDoc() { xmlFreeDoc(doc); }
	PlainDoc(const PlainDoc &) = delete;
	PlainDoc &operator=(const PlainDoc &) = delete;

	xmlDoc *doc;
};

std::string name(const xmlNode *n)
{
	return reinterpret_cast<const char *>(n->name);
}

std::string content(const xmlNode *n)
{
	xmlChar *c = xmlNodeGetContent(n);
	std::string s = c ? reinterpret_cast<const char *>(c) : "";
	xmlFree(c);
	return s;
}

std::vector<const xmlNode *> elements(const xmlNode *parent, const std::string &tag)
{
	std::vector<const xmlNode *> v;
	for (const xmlNode *c = parent->children; c; c = c->next)
		if (c->type == XML_ELEMENT_NODE && name(c) == tag)
			v.push_back(c);
	return v;
}

const std::string kAwsList = R"(<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>photos</Name>
  <Prefix>2024/</Prefix>
  <ContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</ContinuationToken>
  <NextContinuationToken>1w41l63U0xa8q7smH50vCxyTQqdxo69O3EmK28Bi5PcROI4wI/EyIJg==</NextContinuationToken>
  <KeyCount>3</KeyCount>
  <MaxKeys>3</MaxKeys>
  <Delimiter>/</Delimiter>
  <IsTruncated>true</IsTruncated>
  <Contents>
    <Key>2024/beach &amp; sun.jpg</Key>
    <LastModified>2024-03-01T12:34:56.789Z</LastModified>
    <ETag>&quot;9b2cf535f27731c974343645a3985328&quot;</ETag>
    <ChecksumAlgorithm>CRC32</ChecksumAlgorithm>
    <Size>434234</Size>
    <StorageClass>STANDARD</StorageClass>
  </Contents>
  <Contents>
    <Key>2024/video.mp4</Key>
    <LastModified>2023-12-31T23:59:59.000Z</LastModified>
    <ETag>"d41d8cd98f00b204e9800998ecf8427e-120"</ETag>
    <Size>5497558138880</Size>
    <StorageClass>INTELLIGENT_TIERING</StorageClass>
  </Contents>
  <CommonPrefixes>
    <Prefix>2024/march/</Prefix>
  </CommonPrefixes>
</ListBucketResult>
)";

/* Ceph RGW 16.2 / s3rver flavour: no (or a wrong) namespace, an Owner, no KeyCount, an empty ETag. */
const std::string kRgwList = R"(<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://doc.s3.amazonaws.com/2006-03-01/"><Name>bkt</Name><Prefix></Prefix><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated><Contents><Key> spaced key </Key><LastModified>2023-05-06T07:08:09.123Z</LastModified><ETag></ETag><Size>0</Size><StorageClass>STANDARD</StorageClass><Owner><ID>tester</ID><DisplayName>Tester</DisplayName></Owner><Type>Normal</Type></Contents><Contents><Key>dir/</Key><LastModified>2023-05-06T07:08:10.000Z</LastModified><ETag>&quot;d41d8cd98f00b204e9800998ecf8427e&quot;</ETag><Size>0</Size></Contents></ListBucketResult>)";

std::string listWith(const std::string &contents, const std::string &head = "<IsTruncated>false</IsTruncated>")
{
	return "<ListBucketResult>" + head + contents + "</ListBucketResult>";
}

std::string entry(const std::string &key, const std::string &size = "1",
		  const std::string &modified = "2024-01-01T00:00:00.000Z")
{
	return "<Contents><Key>" + key + "</Key><LastModified>" + modified + "</LastModified><ETag>\"x\"</ETag><Size>" +
	       size + "</Size></Contents>";
}

/* ---- ListObjectsV2 ---- */

TEST(S3XmlList, AwsPage)
{
	auto r = parseListObjectsV2(kAwsList);
	ASSERT_TRUE(r.ok()) << r.error().toString();
	EXPECT_EQ(r->bucket, "photos");
	EXPECT_EQ(r->prefix, "2024/");
	EXPECT_EQ(r->delimiter, "/");
	EXPECT_TRUE(r->isTruncated);
	EXPECT_EQ(r->continuationToken, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
	EXPECT_EQ(r->nextContinuationToken, "1w41l63U0xa8q7smH50vCxyTQqdxo69O3EmK28Bi5PcROI4wI/EyIJg==");
	EXPECT_EQ(r->keyCount, 3u);
	EXPECT_EQ(r->maxKeys, 3u);
	EXPECT_FALSE(r->urlEncoded);
	ASSERT_EQ(r->contents.size(), 2u);
	EXPECT_EQ(r->contents[0].key, "2024/beach & sun.jpg");
	EXPECT_EQ(r->contents[0].lastModified, utc(2024, 3, 1, 12, 34, 56, 789));
	EXPECT_EQ(r->contents[0].etag, "\"9b2cf535f27731c974343645a3985328\"");
	EXPECT_EQ(r->contents[0].size, 434234u);
	EXPECT_EQ(r->contents[0].storageClass, "STANDARD");
	EXPECT_EQ(r->contents[1].key, "2024/video.mp4");
	EXPECT_EQ(r->contents[1].size, 5497558138880u);
	EXPECT_EQ(r->contents[1].etag, "\"d41d8cd98f00b204e9800998ecf8427e-120\"");
	EXPECT_EQ(r->contents[1].lastModified, utc(2023, 12, 31, 23, 59, 59));
	EXPECT_EQ(r->commonPrefixes, std::vector<std::string>{ "2024/march/" });
}

TEST(S3XmlList, RgwAndS3rverFlavour)
{
	auto r = parseListObjectsV2(kRgwList);
	ASSERT_TRUE(r.ok()) << r.error().toString();
	EXPECT_EQ(r->bucket, "bkt");
	EXPECT_FALSE(r->isTruncated);
	ASSERT_EQ(r->contents.size(), 2u);
	/* Blanks in keys are significant: never trimmed. */
	EXPECT_EQ(r->contents[0].key, " spaced key ");
	EXPECT_EQ(r->contents[0].etag, "");
	EXPECT_EQ(r->contents[0].size, 0u);
	EXPECT_EQ(r->contents[0].lastModified, utc(2023, 5, 6, 7, 8, 9, 123));
	EXPECT_EQ(r->contents[1].key, "dir/");
	EXPECT_EQ(r->contents[1].storageClass, "");
	/* No KeyCount: counted. */
	EXPECT_EQ(r->keyCount, 2u);
}

TEST(S3XmlList, EmptyBucket)
{
	auto r = parseListObjectsV2("<ListBucketResult><Name>b</Name><KeyCount>0</KeyCount>"
				    "<IsTruncated>false</IsTruncated></ListBucketResult>");
	ASSERT_TRUE(r.ok()) << r.error().toString();
	EXPECT_TRUE(r->contents.empty());
	EXPECT_TRUE(r->commonPrefixes.empty());
	EXPECT_EQ(r->keyCount, 0u);
}

TEST(S3XmlList, UrlEncodingAwsStyle)
{
	/* What AWS answers for encoding-type=url: space as '+', '+' as %2B, '/' left alone. */
	auto r = parseListObjectsV2(listWith(entry("a+b.txt") + entry("a%2Bb.txt") + entry("100%25.csv") +
						     entry("%ED%95%9C%EA%B8%80/x.txt") + entry("ctl%01%0Aend%0D") +
						     "<CommonPrefixes><Prefix>run+books/</Prefix></CommonPrefixes>",
					     "<EncodingType>url</EncodingType><Prefix>r%2B+</Prefix>"
					     "<Delimiter>%2F</Delimiter><StartAfter>a%2Ba</StartAfter>"
					     "<IsTruncated>false</IsTruncated>"));
	ASSERT_TRUE(r.ok()) << r.error().toString();
	EXPECT_TRUE(r->urlEncoded);
	ASSERT_EQ(r->contents.size(), 5u);
	EXPECT_EQ(r->contents[0].key, "a b.txt");
	EXPECT_EQ(r->contents[1].key, "a+b.txt");
	EXPECT_EQ(r->contents[2].key, "100%.csv");
	EXPECT_EQ(r->contents[3].key, "\xED\x95\x9C\xEA\xB8\x80/x.txt");
	EXPECT_EQ(r->contents[4].key, "ctl\x01\nend\r");
	EXPECT_EQ(r->prefix, "r+ ");
	EXPECT_EQ(r->delimiter, "/");
	EXPECT_EQ(r->startAfter, "a+a");
	EXPECT_EQ(r->commonPrefixes, std::vector<std::string>{ "run books/" });
}

TEST(S3XmlList, UrlEncodingRgwStyle)
{
	/* RGW: space as %20, '+' as %2B, '/' possibly as %2F. */
	auto r = parseListObjectsV2(listWith(entry("dir%2Fa%20b%2Bc") +
						     "<CommonPrefixes><Prefix>x%20y%2F</Prefix></CommonPrefixes>",
					     "<EncodingType>url</EncodingType><IsTruncated>false</IsTruncated>"));
	ASSERT_TRUE(r.ok()) << r.error().toString();
	ASSERT_EQ(r->contents.size(), 1u);
	EXPECT_EQ(r->contents[0].key, "dir/a b+c");
	EXPECT_EQ(r->commonPrefixes, std::vector<std::string>{ "x y/" });
}

TEST(S3XmlList, NoEncodingTypeMeansRawKeys)
{
	/* s3rver ignores encoding-type and says so by omitting EncodingType: keys are literal. */
	auto r = parseListObjectsV2(listWith(entry("a+b%41")));
	ASSERT_TRUE(r.ok()) << r.error().toString();
	EXPECT_FALSE(r->urlEncoded);
	EXPECT_EQ(r->contents[0].key, "a+b%41");
}

TEST(S3XmlList, BadUrlEncodingIsRefused)
{
	for (const char *bad : { "a%G1", "a%4", "a%", "%%41" }) {
		auto r = parseListObjectsV2(
			listWith(entry(bad), "<EncodingType>url</EncodingType><IsTruncated>false</IsTruncated>"));
		ASSERT_FALSE(r.ok()) << bad;
		EXPECT_EQ(r.error().code(), EPROTO) << bad;
		EXPECT_NE(r.error().message().find("URL encoding"), std::string::npos) << r.error().message();
	}
	auto prefix = parseListObjectsV2(listWith(
		"<CommonPrefixes><Prefix>%zz/</Prefix></CommonPrefixes>",
		"<EncodingType>url</EncodingType><IsTruncated>false</IsTruncated>"));
	ASSERT_FALSE(prefix.ok());
	EXPECT_EQ(prefix.error().code(), EPROTO);
	auto unknown = parseListObjectsV2(listWith("", "<EncodingType>base64</EncodingType><IsTruncated>false</IsTruncated>"));
	ASSERT_FALSE(unknown.ok());
	EXPECT_NE(unknown.error().message().find("EncodingType"), std::string::npos);
}

TEST(S3XmlList, PaginationFields)
{
	auto last = parseListObjectsV2(listWith(entry("k"), "<IsTruncated>false</IsTruncated>"));
	ASSERT_TRUE(last.ok());
	EXPECT_FALSE(last->isTruncated);
	EXPECT_TRUE(last->nextContinuationToken.empty());

	auto more = parseListObjectsV2(listWith(entry("k"), "<IsTruncated>TRUE</IsTruncated>"
							     "<NextContinuationToken>tok+/=</NextContinuationToken>"));
	ASSERT_TRUE(more.ok()) << more.error().toString();
	EXPECT_TRUE(more->isTruncated);
	/* Tokens are opaque: never URL-decoded, even with EncodingType=url. */
	EXPECT_EQ(more->nextContinuationToken, "tok+/=");

	auto noToken = parseListObjectsV2(listWith(entry("k"), "<IsTruncated>true</IsTruncated>"));
	ASSERT_FALSE(noToken.ok());
	EXPECT_EQ(noToken.error().code(), EPROTO);
	EXPECT_NE(noToken.error().message().find("NextContinuationToken"), std::string::npos);

	auto noFlag = parseListObjectsV2("<ListBucketResult><Name>b</Name></ListBucketResult>");
	ASSERT_FALSE(noFlag.ok());
	EXPECT_EQ(noFlag.error().code(), EPROTO);
	EXPECT_NE(noFlag.error().message().find("<IsTruncated> is missing"), std::string::npos);
	EXPECT_NE(noFlag.error().message().find("ListObjectsV2"), std::string::npos);

	auto badFlag = parseListObjectsV2(listWith("", "<IsTruncated>maybe</IsTruncated>"));
	ASSERT_FALSE(badFlag.ok());
	EXPECT_EQ(badFlag.error().code(), EPROTO);
}

TEST(S3XmlList, MissingOrBadFieldsAreNamed)
{
	struct Case {
		std::string contents;
		std::string expect;
	};
	const Case cases[] = {
		{ "<Contents><LastModified>2024-01-01T00:00:00Z</LastModified><Size>1</Size></Contents>",
		  "Contents[1]: <Key> is missing" },
		{ entry("a") + "<Contents><Key>b</Key><LastModified>2024-01-01T00:00:00Z</LastModified></Contents>",
		  "Contents[2]: <Size> is missing" },
		{ "<Contents><Key>b</Key><Size>1</Size></Contents>", "<LastModified> is missing" },
		{ entry("a", "12a"), "<Size> '12a' is not" },
		{ entry("a", "-1"), "<Size> '-1' is not" },
		{ entry("a", ""), "<Size> '' is not" },
		{ entry("a", "18446744073709551616"), "is not an unsigned 64-bit number" },
		{ entry("a", "1", "yesterday"), "<LastModified> 'yesterday' is not an ISO 8601 time" },
		{ "<CommonPrefixes></CommonPrefixes>", "CommonPrefixes[1]: <Prefix> is missing" },
	};
	for (const Case &c : cases) {
		auto r = parseListObjectsV2(listWith(c.contents));
		ASSERT_FALSE(r.ok()) << c.contents;
		EXPECT_EQ(r.error().code(), EPROTO) << c.contents;
		EXPECT_NE(r.error().message().find(c.expect), std::string::npos)
			<< r.error().message() << " / expected " << c.expect;
	}
	auto max = parseListObjectsV2(listWith(entry("a", " 18446744073709551615 ")));
	ASSERT_TRUE(max.ok()) << max.error().toString();
	EXPECT_EQ(max->contents[0].size, 18446744073709551615u);
}

TEST(S3XmlList, WrongRootIsRefused)
{
	auto r = parseListObjectsV2("<ListAllMyBucketsResult><Buckets/></ListAllMyBucketsResult>");
	ASSERT_FALSE(r.ok());
	EXPECT_EQ(r.error().code(), EPROTO);
	EXPECT_NE(r.error().message().find("<ListAllMyBucketsResult>"), std::string::npos);
	EXPECT_NE(r.error().message().find("expected <ListBucketResult>"), std::string::npos);

	/* A proxy's HTML error page that happens to be well-formed. */
	auto html = parseListObjectsV2("<html><body><h1>502 Bad Gateway</h1></body></html>");
	ASSERT_FALSE(html.ok());
	EXPECT_EQ(html.error().code(), EPROTO);
}

TEST(S3XmlList, FullPageOfWorstCaseKeysFitsTheCap)
{
	/* 1000 keys of 1024 '&' (5 bytes each once escaped): the largest honest page. */
	std::string escaped;
	for (int i = 0; i < 1024; ++i)
		escaped += "&amp;";
	std::string contents;
	for (int i = 0; i < 1000; ++i)
		contents += entry(escaped, std::to_string(i));
	std::string body = listWith(contents);
	EXPECT_GT(body.size(), 5000000u);
	EXPECT_LT(body.size(), kMaxXmlBytes);
	auto r = parseListObjectsV2(body);
	ASSERT_TRUE(r.ok()) << r.error().toString();
	ASSERT_EQ(r->contents.size(), 1000u);
	EXPECT_EQ(r->contents[999].key, std::string(1024, '&'));
	EXPECT_EQ(r->contents[999].size, 999u);
}

/* ---- ListMultipartUploads ---- */

const std::string kUploads = R"(<?xml version="1.0" encoding="UTF-8"?>
<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Bucket>media</Bucket>
  <KeyMarker>a</KeyMarker>
  <UploadIdMarker></UploadIdMarker>
  <NextKeyMarker>movies/b.mkv</NextKeyMarker>
  <NextUploadIdMarker>2~QmFzZTY0VXBsb2FkSWQ</NextUploadIdMarker>
  <Prefix>movies/</Prefix>
  <Delimiter>/</Delimiter>
  <MaxUploads>2</MaxUploads>
  <IsTruncated>true</IsTruncated>
  <Upload>
    <Key>movies/a.mkv</Key>
    <UploadId>VXBsb2FkSWRPbmU-</UploadId>
    <Initiator><ID>arn:aws:iam::111122223333:user/u</ID><DisplayName>u</DisplayName></Initiator>
    <Owner><ID>75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a</ID></Owner>
    <StorageClass>STANDARD</StorageClass>
    <Initiated>2010-11-10T20:48:33.000Z</Initiated>
  </Upload>
  <Upload>
    <Key>movies/b.mkv</Key>
    <UploadId>2~QmFzZTY0VXBsb2FkSWQ</UploadId>
    <StorageClass>STANDARD</StorageClass>
    <Initiated>2010-11-10T20:49:33.000Z</Initiated>
  </Upload>
  <CommonPrefixes><Prefix>movies/old/</Prefix></CommonPrefixes>
</ListMultipartUploadsResult>)";

TEST(S3XmlUploads, Page)
{
	auto r = parseListMultipartUploads(kUploads);
	ASSERT_TRUE(r.ok()) << r.error().toString();
	EXPECT_EQ(r->bucket, "media");
	EXPECT_EQ(r->keyMarker, "a");
	EXPECT_EQ(r->uploadIdMarker, "");
	EXPECT_EQ(r->nextKeyMarker, "movies/b.mkv");
	EXPECT_EQ(r->nextUploadIdMarker, "2~QmFzZTY0VXBsb2FkSWQ");
	EXPECT_EQ(r->prefix, "movies/");
	EXPECT_EQ(r->delimiter, "/");
	EXPECT_EQ(r->maxUploads, 2u);
	EXPECT_TRUE(r->isTruncated);
	ASSERT_EQ(r->uploads.size(), 2u);
	EXPECT_EQ(r->uploads[0].key, "movies/a.mkv");
	EXPECT_EQ(r->uploads[0].uploadId, "VXBsb2FkSWRPbmU-");
	ASSERT_TRUE(r->uploads[0].initiated.has_value());
	EXPECT_EQ(*r->uploads[0].initiated, utc(2010, 11, 10, 20, 48, 33));
	EXPECT_EQ(r->uploads[1].uploadId, "2~QmFzZTY0VXBsb2FkSWQ");
	EXPECT_EQ(r->commonPrefixes, std::vector<std::string>{ "movies/old/" });
}

TEST(S3XmlUploads, NoUploadsAndRgwFlavour)
{
	auto r = parseListMultipartUploads(
		"<ListMultipartUploadsResult><Bucket>b</Bucket><NextKeyMarker></NextKeyMarker>"
		"<NextUploadIdMarker></NextUploadIdMarker><MaxUploads>1000</MaxUploads>"
		"<IsTruncated>false</IsTruncated></ListMultipartUploadsResult>");
	ASSERT_TRUE(r.ok()) << r.error().toString();
	EXPECT_TRUE(r->uploads.empty());
	EXPECT_FALSE(r->isTruncated);
}

TEST(S3XmlUploads, UrlEncodedKeys)
{
	auto r = parseListMultipartUploads(
		"<ListMultipartUploadsResult><EncodingType>url</EncodingType><IsTruncated>true</IsTruncated>"
		"<NextKeyMarker>a+b%2B</NextKeyMarker><NextUploadIdMarker>x</NextUploadIdMarker>"
		"<Upload><Key>a+b%2B</Key><UploadId>x</UploadId></Upload></ListMultipartUploadsResult>");
	ASSERT_TRUE(r.ok()) << r.error().toString();
	EXPECT_EQ(r->nextKeyMarker, "a b+");
	EXPECT_EQ(r->uploads[0].key, "a b+");
	EXPECT_FALSE(r->uploads[0].initiated.has_value());
}

TEST(S3XmlUploads, MalformedPages)
{
	auto noMarker = parseListMultipartUploads(
		"<ListMultipartUploadsResult><IsTruncated>true</IsTruncated></ListMultipartUploadsResult>");
	ASSERT_FALSE(noMarker.ok());
	EXPECT_EQ(noMarker.error().code(), EPROTO);
	EXPECT_NE(noMarker.error().message().find("NextKeyMarker"), std::string::npos);

	auto noId = parseListMultipartUploads("<ListMultipartUploadsResult><IsTruncated>false</IsTruncated>"
					      "<Upload><Key>k</Key></Upload></ListMultipartUploadsResult>");
	ASSERT_FALSE(noId.ok());
	EXPECT_NE(noId.error().message().find("Upload[1]: <UploadId> is missing"), std::string::npos);

	auto badDate = parseListMultipartUploads(
		"<ListMultipartUploadsResult><IsTruncated>false</IsTruncated><Upload><Key>k</Key>"
		"<UploadId>u</UploadId><Initiated>2010-13-10T20:48:33Z</Initiated></Upload>"
		"</ListMultipartUploadsResult>");
	ASSERT_FALSE(badDate.ok());
	EXPECT_EQ(badDate.error().code(), EPROTO);
	EXPECT_NE(badDate.error().message().find("ListMultipartUploads"), std::string::npos);
}

/* ---- Initiate / Complete ---- */

TEST(S3XmlMultipart, Initiate)
{
	auto r = parseInitiateMultipartUpload(R"(<?xml version="1.0" encoding="UTF-8"?>
<InitiateMultipartUploadResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Bucket>b</Bucket><Key>dir/big &lt;1&gt;.bin</Key><UploadId>2~iCw_lDY8VoDpAl0F3DkGfbvbAVXr-_X</UploadId></InitiateMultipartUploadResult>)");
	ASSERT_TRUE(r.ok()) << r.error().toString();
	EXPECT_EQ(r->bucket, "b");
	EXPECT_EQ(r->key, "dir/big <1>.bin");
	EXPECT_EQ(r->uploadId, "2~iCw_lDY8VoDpAl0F3DkGfbvbAVXr-_X");

	auto missing = parseInitiateMultipartUpload("<InitiateMultipartUploadResult><Bucket>b</Bucket>"
						    "</InitiateMultipartUploadResult>");
	ASSERT_FALSE(missing.ok());
	EXPECT_EQ(missing.error().code(), EPROTO);
	EXPECT_NE(missing.error().message().find("CreateMultipartUpload"), std::string::npos);
	EXPECT_NE(missing.error().message().find("<UploadId> is missing"), std::string::npos);

	auto empty = parseInitiateMultipartUpload("<InitiateMultipartUploadResult><UploadId> </UploadId>"
						  "</InitiateMultipartUploadResult>");
	ASSERT_FALSE(empty.ok());
	EXPECT_NE(empty.error().message().find("<UploadId> is empty"), std::string::npos);
}

TEST(S3XmlMultipart, Complete)
{
	auto r = parseCompleteMultipartUpload(R"(<?xml version="1.0" encoding="UTF-8"?>
<CompleteMultipartUploadResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Location>https://b.s3.eu-west-1.amazonaws.com/dir/big.bin</Location>
  <Bucket>b</Bucket>
  <Key>dir/big.bin</Key>
  <ETag>"3858f62230ac3c915f300c664312c11f-9"</ETag>
</CompleteMultipartUploadResult>)");
	ASSERT_TRUE(r.ok()) << r.error().toString();
	EXPECT_EQ(r->location, "https://b.s3.eu-west-1.amazonaws.com/dir/big.bin");
	EXPECT_EQ(r->bucket, "b");
	EXPECT_EQ(r->key, "dir/big.bin");
	EXPECT_EQ(r->etag, "\"3858f62230ac3c915f300c664312c11f-9\"");
}

TEST(S3XmlMultipart, CompleteWithRgwEmptyEtag)
{
	for (const char *etag : { "<ETag></ETag>", "<ETag>&quot;&quot;</ETag>", "" }) {
		auto r = parseCompleteMultipartUpload(std::string("<CompleteMultipartUploadResult><Location>"
								  "http://127.0.0.1:7480/b/k</Location><Bucket>b</Bucket>"
								  "<Key>k</Key>") +
						      etag + "</CompleteMultipartUploadResult>");
		ASSERT_TRUE(r.ok()) << etag << ": " << r.error().toString();
		EXPECT_EQ(r->etag, "") << etag;
		EXPECT_EQ(r->key, "k");
	}
}

TEST(S3XmlMultipart, CompleteAfterKeepAliveBlanks)
{
	/* S3 sends blanks while it assembles the parts, before the XML declaration. */
	std::string body = "\n \n\r\n        \n<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
			   "<CompleteMultipartUploadResult><Key>k</Key><ETag>\"e-2\"</ETag>"
			   "</CompleteMultipartUploadResult>\n";
	auto r = parseCompleteMultipartUpload(body);
	ASSERT_TRUE(r.ok()) << r.error().toString();
	EXPECT_EQ(r->etag, "\"e-2\"");
	EXPECT_FALSE(embeddedError(body).has_value());
}

const std::string k200Error = R"(


<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>InternalError</Code><Message>We encountered an internal error. Please try again.</Message><RequestId>656c76696e6727732072657175657374</RequestId><HostId>Uuag1LuByRx9e6j5Onimru9pO4ZVKnJ2Qz7/C1NPcfTWAtRPfTaOFg==</HostId></Error>)";

TEST(S3XmlMultipart, CompleteWith200Error)
{
	std::optional<S3Error> e = embeddedError(k200Error);
	ASSERT_TRUE(e.has_value());
	EXPECT_EQ(e->httpStatus, 200);
	EXPECT_EQ(e->code, "InternalError");
	EXPECT_EQ(e->message, "We encountered an internal error. Please try again.");
	EXPECT_EQ(e->requestId, "656c76696e6727732072657175657374");
	EXPECT_EQ(e->hostId, "Uuag1LuByRx9e6j5Onimru9pO4ZVKnJ2Qz7/C1NPcfTWAtRPfTaOFg==");
	EXPECT_TRUE(e->retryable());
	EXPECT_EQ(toErrno(*e), EIO);

	/* The result parser never mistakes it for success. */
	auto r = parseCompleteMultipartUpload(k200Error);
	ASSERT_FALSE(r.ok());
	EXPECT_EQ(r.error().code(), EIO);
	EXPECT_NE(r.error().message().find("InternalError"), std::string::npos);
	EXPECT_NE(r.error().message().find("CompleteMultipartUpload"), std::string::npos);

	EXPECT_FALSE(embeddedError("").has_value());
	EXPECT_FALSE(embeddedError("<CompleteMultipartUploadResult/>").has_value());
	EXPECT_FALSE(embeddedError("<Error><Code>x</Code>").has_value());
}

/* ---- Copy results ---- */

TEST(S3XmlCopy, CopyObjectResult)
{
	auto r = parseCopyObjectResult(R"(<?xml version="1.0" encoding="UTF-8"?>
<CopyObjectResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><LastModified>2009-10-28T22:32:00.000Z</LastModified><ETag>"9b2cf535f27731c974343645a3985328"</ETag></CopyObjectResult>)");
	ASSERT_TRUE(r.ok()) << r.error().toString();
	EXPECT_EQ(r->etag, "\"9b2cf535f27731c974343645a3985328\"");
	ASSERT_TRUE(r->lastModified.has_value());
	EXPECT_EQ(*r->lastModified, utc(2009, 10, 28, 22, 32, 0));
}

TEST(S3XmlCopy, RgwUnquotedPartEtagIsNormalised)
{
	auto r = parseCopyPartResult("<CopyPartResult><LastModified>2023-05-06T07:08:09.000Z</LastModified>"
				     "<ETag>b1946ac92492d2347c6235b4d2611184</ETag></CopyPartResult>");
	ASSERT_TRUE(r.ok()) << r.error().toString();
	EXPECT_EQ(r->etag, "\"b1946ac92492d2347c6235b4d2611184\"");

	auto quoted = parseCopyPartResult("<CopyPartResult><ETag>&quot;b1946ac92492d2347c6235b4d2611184&quot;"
					  "</ETag></CopyPartResult>");
	ASSERT_TRUE(quoted.ok());
	EXPECT_EQ(quoted->etag, r->etag);
	EXPECT_FALSE(quoted->lastModified.has_value());
}

TEST(S3XmlCopy, PartWithoutEtagIsRefused)
{
	for (const char *body : { "<CopyPartResult></CopyPartResult>", "<CopyPartResult><ETag/></CopyPartResult>" }) {
		auto r = parseCopyPartResult(body);
		ASSERT_FALSE(r.ok()) << body;
		EXPECT_EQ(r.error().code(), EPROTO);
		EXPECT_NE(r.error().message().find("UploadPartCopy"), std::string::npos);
	}
}

TEST(S3XmlCopy, CopyWith200Error)
{
	auto r = parseCopyPartResult("<Error><Code>SlowDown</Code><Message>Reduce your request rate.</Message></Error>");
	ASSERT_FALSE(r.ok());
	EXPECT_EQ(r.error().code(), EAGAIN);
	auto e = embeddedError("<Error><Code>SlowDown</Code></Error>");
	ASSERT_TRUE(e.has_value());
	EXPECT_TRUE(e->retryable());
}

/* ---- DeleteObjects ---- */

TEST(S3XmlDelete, Result)
{
	auto r = parseDeleteResult(R"(<?xml version="1.0" encoding="UTF-8"?>
<DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Deleted><Key>a &amp; b</Key></Deleted>
  <Deleted><Key>c</Key><VersionId>v1</VersionId><DeleteMarker>true</DeleteMarker></Deleted>
  <Error><Key>locked</Key><Code>AccessDenied</Code><Message>Access Denied</Message></Error>
  <Error><Key>busy</Key><VersionId>v2</VersionId><Code>InternalError</Code><Message></Message></Error>
</DeleteResult>)");
	ASSERT_TRUE(r.ok()) << r.error().toString();
	EXPECT_EQ(r->deleted, (std::vector<std::string>{ "a & b", "c" }));
	ASSERT_EQ(r->errors.size(), 2u);
	EXPECT_EQ(r->errors[0].key, "locked");
	EXPECT_EQ(r->errors[0].code, "AccessDenied");
	EXPECT_EQ(r->errors[0].message, "Access Denied");
	EXPECT_EQ(toErrno(r->errors[0].error()), EACCES);
	EXPECT_FALSE(r->errors[0].error().retryable());
	EXPECT_EQ(r->errors[1].versionId, "v2");
	EXPECT_EQ(r->errors[1].message, "");
	EXPECT_TRUE(r->errors[1].error().retryable());
}

TEST(S3XmlDelete, QuietAndMalformed)
{
	auto quiet = parseDeleteResult("<DeleteResult/>");
	ASSERT_TRUE(quiet.ok());
	EXPECT_TRUE(quiet->deleted.empty());
	EXPECT_TRUE(quiet->errors.empty());

	auto noKey = parseDeleteResult("<DeleteResult><Error><Code>AccessDenied</Code></Error></DeleteResult>");
	ASSERT_FALSE(noKey.ok());
	EXPECT_NE(noKey.error().message().find("Error[1]: <Key> is missing"), std::string::npos);
	auto noCode = parseDeleteResult("<DeleteResult><Error><Key>k</Key></Error></DeleteResult>");
	ASSERT_FALSE(noCode.ok());
	EXPECT_NE(noCode.error().message().find("<Code> is missing"), std::string::npos);
}

/* ---- Error documents and typed errors ---- */

TEST(S3Error, AwsDocument)
{
	auto r = parseErrorDocument(R"(<?xml version="1.0" encoding="UTF-8"?>
<Error>
  <Code>NoSuchKey</Code>
  <Message>The resource you requested does not exist</Message>
  <Resource>/mybucket/myfoto.jpg</Resource>
  <RequestId>4442587FB7D0A2F9</RequestId>
</Error>)",
				    404);
	ASSERT_TRUE(r.ok()) << r.error().toString();
	EXPECT_EQ(r->httpStatus, 404);
	EXPECT_EQ(r->code, "NoSuchKey");
	EXPECT_EQ(r->message, "The resource you requested does not exist");
	EXPECT_EQ(r->resource, "/mybucket/myfoto.jpg");
	EXPECT_EQ(r->requestId, "4442587FB7D0A2F9");
	EXPECT_EQ(toErrno(*r), ENOENT);
	EXPECT_FALSE(r->retryable());
	EXPECT_EQ(r->toString(), "NoSuchKey (HTTP 404): The resource you requested does not exist "
				 "[request 4442587FB7D0A2F9, resource /mybucket/myfoto.jpg]");
}

TEST(S3Error, RgwEmptyMessage)
{
	S3Error e = S3Error::fromResponse(404, "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>NoSuchBucket"
					       "</Code><Message></Message><BucketName>gone</BucketName><RequestId>"
					       "tx000000d1ea2d0e4e6a1-0064a1b2c3-1010-default</RequestId><HostId>"
					       "1010-default-default</HostId></Error>");
	EXPECT_EQ(e.code, "NoSuchBucket");
	EXPECT_EQ(e.message, "");
	EXPECT_EQ(e.requestId, "tx000000d1ea2d0e4e6a1-0064a1b2c3-1010-default");
	EXPECT_EQ(toErrno(e), ENODEV);
	EXPECT_EQ(e.toString(), "NoSuchBucket (HTTP 404) [request tx000000d1ea2d0e4e6a1-0064a1b2c3-1010-default]");
}

TEST(S3Error, NoCredentialInToString)
{
	S3Error e = S3Error::fromResponse(403, R"(<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match the signature you provided. Check your key and signing method.</Message><AWSAccessKeyId>AKIAIOSFODNN7EXAMPLE</AWSAccessKeyId><StringToSign>AWS4-HMAC-SHA256
20240101T000000Z
20240101/us-east-1/s3/aws4_request
0123456789abcdef</StringToSign><SignatureProvided>deadbeefcafe0123456789</SignatureProvided><RequestId>R1</RequestId></Error>)");
	EXPECT_EQ(e.code, "SignatureDoesNotMatch");
	EXPECT_EQ(toErrno(e), EACCES);
	EXPECT_FALSE(e.retryable());
	std::string s = e.toString();
	EXPECT_EQ(s.find("AKIA"), std::string::npos) << s;
	EXPECT_EQ(s.find("deadbeef"), std::string::npos) << s;
	EXPECT_EQ(s.find("AWS4-HMAC"), std::string::npos) << s;
	EXPECT_NE(s.find("request R1"), std::string::npos);
}

TEST(S3Error, NonXmlBodiesFallBackToTheStatus)
{
	S3Error html = S3Error::fromResponse(502, "<html><head><title>502 Bad Gateway</title></head><body>"
						  "<center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center>"
						  "</body></html>");
	EXPECT_EQ(html.code, "HTTP502");
	EXPECT_EQ(html.httpStatus, 502);
	EXPECT_NE(html.message.find("Bad Gateway"), std::string::npos);
	EXPECT_NE(html.message.find("not an S3 error document"), std::string::npos);
	EXPECT_TRUE(html.retryable());
	EXPECT_EQ(toErrno(html), EIO);

	S3Error text = S3Error::fromResponse(503, "Service Unavailable\n");
	EXPECT_EQ(text.code, "HTTP503");
	EXPECT_TRUE(text.retryable());
	EXPECT_EQ(toErrno(text), EAGAIN);

	/* HEAD: no body at all, the request id from the header. */
	HttpResponse head;
	head.status = 404;
	head.headers.push_back({ "X-Amz-Request-Id", "HEADREQ1" });
	S3Error e = S3Error::fromResponse(head);
	EXPECT_EQ(e.code, "HTTP404");
	EXPECT_EQ(e.message, "Not Found");
	EXPECT_EQ(e.requestId, "HEADREQ1");
	EXPECT_EQ(toErrno(e), ENOENT);
	EXPECT_EQ(e.toString(), "HTTP404 (HTTP 404): Not Found [request HEADREQ1]");

	S3Error noCode = S3Error::fromResponse(500, "<Error><Message>oops</Message></Error>");
	EXPECT_EQ(noCode.code, "HTTP500");
	EXPECT_EQ(noCode.message, "oops");
	EXPECT_TRUE(noCode.retryable());
}

TEST(S3Error, RetryPolicy)
{
	auto err = [](int status, const std::string &code) {
		S3Error e;
		e.httpStatus = status;
		e.code = code;
		return e;
	};
	for (auto code : { "SlowDown", "RequestTimeout", "InternalError", "ServiceUnavailable", "Throttling",
			   "ThrottlingException", "RequestThrottled", "TooManyRequestsException" })
		EXPECT_TRUE(err(400, code).retryable()) << code;
	for (int status : { 500, 502, 503, 504, 408, 429 })
		EXPECT_TRUE(err(status, "HTTP" + std::to_string(status)).retryable()) << status;
	for (auto code : { "RequestTimeTooSkewed", "AccessDenied", "SignatureDoesNotMatch", "InvalidAccessKeyId",
			   "NoSuchKey", "BadDigest", "XAmzContentSHA256Mismatch", "NotImplemented", "EntityTooSmall",
			   "PreconditionFailed" })
		EXPECT_FALSE(err(503, code).retryable()) << code;
	for (int status : { 400, 401, 403, 404, 409, 412, 416, 501 })
		EXPECT_FALSE(err(status, "HTTP" + std::to_string(status)).retryable()) << status;
	/* An embedded error has status 200: only its code decides. */
	EXPECT_TRUE(err(200, "SlowDown").retryable());
	EXPECT_FALSE(err(200, "SomethingNew").retryable());
}

TEST(S3Error, ErrnoMapping)
{
	auto code = [](const std::string &c, int status = 400) {
		S3Error e;
		e.httpStatus = status;
		e.code = c;
		return toErrno(e);
	};
	EXPECT_EQ(code("NoSuchKey", 404), ENOENT);
	EXPECT_EQ(code("NoSuchBucket", 404), ENODEV);
	EXPECT_EQ(code("NoSuchUpload", 404), ESTALE);
	EXPECT_EQ(code("AccessDenied", 403), EACCES);
	EXPECT_EQ(code("SignatureDoesNotMatch", 403), EACCES);
	EXPECT_EQ(code("InvalidAccessKeyId", 403), EACCES);
	EXPECT_EQ(code("RequestTimeTooSkewed", 403), EACCES);
	EXPECT_EQ(code("ExpiredToken"), EACCES);
	EXPECT_EQ(code("EntityTooLarge"), EFBIG);
	EXPECT_EQ(code("KeyTooLongError"), ENAMETOOLONG);
	EXPECT_EQ(code("MetadataTooLarge"), E2BIG);
	EXPECT_EQ(code("QuotaExceeded", 403), EDQUOT);
	EXPECT_EQ(code("InvalidRange", 416), ESTALE);
	EXPECT_EQ(code("PreconditionFailed", 412), ESTALE);
	EXPECT_EQ(code("NotImplemented", 501), EOPNOTSUPP);
	EXPECT_EQ(code("SlowDown", 503), EAGAIN);
	EXPECT_EQ(code("RequestTimeout"), ETIMEDOUT);
	EXPECT_EQ(code("InternalError", 500), EIO);
	EXPECT_EQ(code("BadDigest"), EIO);
	EXPECT_EQ(code("EntityTooSmall"), EINVAL);
	EXPECT_EQ(code("InvalidPart"), EINVAL);
	/* Unknown codes: the status decides. */
	EXPECT_EQ(code("HTTP404", 404), ENOENT);
	EXPECT_EQ(code("HTTP403", 403), EACCES);
	EXPECT_EQ(code("HTTP412", 412), ESTALE);
	EXPECT_EQ(code("HTTP416", 416), ESTALE);
	EXPECT_EQ(code("HTTP429", 429), EAGAIN);
	EXPECT_EQ(code("HTTP501", 501), EOPNOTSUPP);
	EXPECT_EQ(code("HTTP502", 502), EIO);
	EXPECT_EQ(code("Weird", 400), EINVAL);
	EXPECT_EQ(code("Weird", 0), EIO);

	vfs::Error ve = toError(S3Error::fromResponse(404, "<Error><Code>NoSuchKey</Code></Error>"), "GetObject k");
	EXPECT_EQ(ve.code(), ENOENT);
	EXPECT_EQ(ve.message(), "GetObject k: NoSuchKey (HTTP 404)");
}

TEST(S3Error, HostileTextCannotForgeLogLines)
{
	S3Error e = S3Error::fromResponse(400, "<Error><Code>Bad&#10;Code</Code><Message>line1&#10;FAKE LOG "
					       "LINE&#13;\\x</Message></Error>");
	std::string s = e.toString();
	EXPECT_EQ(s.find('\n'), std::string::npos) << s;
	EXPECT_EQ(s.find('\r'), std::string::npos) << s;
	EXPECT_NE(s.find("line1\\x0aFAKE LOG LINE\\x0d\\x5cx"), std::string::npos) << s;

	std::string longMessage(5000, 'm');
	S3Error big = S3Error::fromResponse(400, "<Error><Code>X</Code><Message>" + longMessage + "</Message></Error>");
	EXPECT_LT(big.toString().size(), 700u);
	/* Cuts never split a UTF-8 sequence, and never drop a whole one. */
	EXPECT_EQ(logSafe("\xE4\xB8\x80\xE4\xB8\x80", 4), "\xE4\xB8\x80...");
	EXPECT_EQ(logSafe("\xE4\xB8\x80\xE4\xB8\x80", 5), "\xE4\xB8\x80...");
	EXPECT_EQ(logSafe("\xE4\xB8\x80\xE4\xB8\x80", 3), "\xE4\xB8\x80...");
	EXPECT_EQ(logSafe("ab\xE4\xB8\x80", 3), "ab...");
	EXPECT_EQ(logSafe("abcdef", 3), "abc...");
	EXPECT_EQ(logSafe("abc", 3), "abc");
}

/* ---- ETags and times ---- */

TEST(S3XmlEtag, Normalise)
{
	EXPECT_EQ(normalizeEtag("abc"), "\"abc\"");
	EXPECT_EQ(normalizeEtag("\"abc\""), "\"abc\"");
	EXPECT_EQ(normalizeEtag("  \"abc-3\"\n"), "\"abc-3\"");
	EXPECT_EQ(normalizeEtag(" abc "), "\"abc\"");
	EXPECT_EQ(normalizeEtag(""), "");
	EXPECT_EQ(normalizeEtag("\"\""), "");
	EXPECT_EQ(normalizeEtag("  "), "");
	EXPECT_EQ(normalizeEtag(normalizeEtag("x")), normalizeEtag("x"));
}

TEST(S3XmlTime, Iso8601)
{
	EXPECT_EQ(parseIso8601("2009-10-12T17:50:30.000Z"), utc(2009, 10, 12, 17, 50, 30));
	EXPECT_EQ(parseIso8601("2009-10-12T17:50:30Z"), utc(2009, 10, 12, 17, 50, 30));
	EXPECT_EQ(parseIso8601("2009-10-12T17:50:30.5Z"), utc(2009, 10, 12, 17, 50, 30, 500));
	EXPECT_EQ(parseIso8601("2009-10-12T17:50:30.123456789Z"),
		  utc(2009, 10, 12, 17, 50, 30) + nanoseconds(123456789));
	EXPECT_EQ(parseIso8601("2009-10-12T19:50:30+02:00"), utc(2009, 10, 12, 17, 50, 30));
	EXPECT_EQ(parseIso8601("2009-10-12T17:20:30-0030"), utc(2009, 10, 12, 17, 50, 30));
	EXPECT_EQ(parseIso8601("2024-02-29T00:00:00Z"), utc(2024, 2, 29, 0, 0, 0));
	for (const char *bad : { "", "yesterday", "2009-10-12", "2009-10-12 17:50:30Z", "2023-02-29T00:00:00Z",
				 "2009-13-12T17:50:30Z", "2009-10-12T24:00:00Z", "2009-10-12T17:60:30Z",
				 "9999-10-12T17:50:30Z", "2009-10-12T17:50:30.Z", "2009-10-12T17:50:30Zjunk",
				 "2009-1O-12T17:50:30Z" })
		EXPECT_FALSE(parseIso8601(bad).has_value()) << bad;
}

/* ---- Request bodies ---- */

TEST(S3XmlBuild, CompleteMultipartUploadRoundTrip)
{
	std::vector<CompletedPart> parts = { { 1, "\"a1\"" }, { 2, "b2" }, { 7, "\"c&<>'3\"" }, { 10000, "z" } };
	auto body = buildCompleteMultipartUpload(parts);
	ASSERT_TRUE(body.ok()) << body.error().toString();
	PlainDoc doc(*body);
	ASSERT_NE(doc.doc, nullptr) << *body;
	const xmlNode *root = xmlDocGetRootElement(doc.doc);
	EXPECT_EQ(name(root), "CompleteMultipartUpload");
	ASSERT_NE(root->ns, nullptr);
	EXPECT_EQ(std::string(reinterpret_cast<const char *>(root->ns->href)), std::string(kS3Namespace));
	auto ps = elements(root, "Part");
	ASSERT_EQ(ps.size(), parts.size());
	const char *expectEtags[] = { "\"a1\"", "\"b2\"", "\"c&<>'3\"", "\"z\"" };
	for (std::size_t i = 0; i < ps.size(); ++i) {
		EXPECT_EQ(content(elements(ps[i], "PartNumber").at(0)), std::to_string(parts[i].partNumber));
		EXPECT_EQ(content(elements(ps[i], "ETag").at(0)), expectEtags[i]);
	}
}

TEST(S3XmlBuild, CompleteMultipartUploadValidation)
{
	auto fails = [](std::vector<CompletedPart> parts, const std::string &expect) {
		auto r = buildCompleteMultipartUpload(parts);
		ASSERT_FALSE(r.ok()) << expect;
		EXPECT_EQ(r.error().code(), EINVAL);
		EXPECT_NE(r.error().message().find(expect), std::string::npos) << r.error().message();
	};
	fails({}, "no parts");
	fails({ { 0, "e" } }, "outside 1..10000");
	fails({ { 10001, "e" } }, "outside 1..10000");
	fails({ { 2, "e" }, { 1, "e" } }, "strictly ascending");
	fails({ { 1, "e" }, { 1, "e" } }, "strictly ascending");
	fails({ { 1, "\"\"" } }, "no ETag");
	fails({ { 1, "a\x01" } }, "ETag XML cannot carry");
}

TEST(S3XmlBuild, DeleteObjectsEscapingRoundTrip)
{
	std::vector<std::string> keys = {
		"plain.txt",
		"a & b <c> \"d\" 'e'",
		"tab\there",
		"line\nbreak",
		"cr\rand\r\ncrlf",
		"  leading and trailing  ",
		"\xED\x95\x9C\xEA\xB8\x80/\xF0\x9F\x98\x80.png",
		"]]>&amp;&#38;",
		"100%/+?#~",
	};
	for (bool quiet : { true, false }) {
		auto body = buildDeleteObjects(keys, quiet);
		ASSERT_TRUE(body.ok()) << body.error().toString();
		PlainDoc doc(*body);
		ASSERT_NE(doc.doc, nullptr) << *body;
		const xmlNode *root = xmlDocGetRootElement(doc.doc);
		EXPECT_EQ(name(root), "Delete");
		EXPECT_EQ(content(elements(root, "Quiet").at(0)), quiet ? "true" : "false");
		auto objects = elements(root, "Object");
		ASSERT_EQ(objects.size(), keys.size());
		for (std::size_t i = 0; i < keys.size(); ++i)
			EXPECT_EQ(content(elements(objects[i], "Key").at(0)), keys[i]) << i;
	}
}

TEST(S3XmlBuild, DeleteObjectsLimits)
{
	std::vector<std::string> keys;
	for (int i = 0; i < 1000; ++i)
		keys.push_back("k" + std::to_string(i));
	auto full = buildDeleteObjects(keys, true);
	ASSERT_TRUE(full.ok());
	PlainDoc doc(*full);
	ASSERT_NE(doc.doc, nullptr);
	EXPECT_EQ(elements(xmlDocGetRootElement(doc.doc), "Object").size(), 1000u);

	keys.push_back("one-too-many");
	auto over = buildDeleteObjects(keys, true);
	ASSERT_FALSE(over.ok());
	EXPECT_EQ(over.error().code(), EINVAL);
	EXPECT_NE(over.error().message().find("1001"), std::string::npos);

	std::vector<std::string> none;
	EXPECT_FALSE(buildDeleteObjects(none, true).ok());
	for (std::string bad : { ""s, "ctl\x01"s, "nul\0x"s, "bad\xff utf8"s, "overlong\xc0\xaf"s,
				 "surrogate\xed\xa0\x80"s, "nonchar\xef\xbf\xbe"s }) {
		std::vector<std::string> one = { "ok", bad };
		auto r = buildDeleteObjects(one, false);
		ASSERT_FALSE(r.ok()) << bad;
		EXPECT_EQ(r.error().code(), EINVAL);
		EXPECT_NE(r.error().message().find("key #1"), std::string::npos) << r.error().message();
	}
}

TEST(S3XmlBuild, Representable)
{
	EXPECT_TRUE(xmlRepresentable(""));
	EXPECT_TRUE(xmlRepresentable("a\tb\nc\rd \x7f \xC2\x85 \xF4\x8F\xBF\xBD"));
	EXPECT_FALSE(xmlRepresentable("\x1f"));
	EXPECT_FALSE(xmlRepresentable("\xF4\x90\x80\x80")); /* > U+10FFFF */
	EXPECT_FALSE(xmlRepresentable("\xE4\xB8"));         /* truncated */
	EXPECT_FALSE(xmlRepresentable("\xEF\xBF\xBF"));     /* U+FFFF */
}

/* ---- Hostile input ---- */

const std::string kBillionLaughs = R"(<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<ListBucketResult><Name>&lol9;</Name><IsTruncated>false</IsTruncated></ListBucketResult>)";

const std::string kXxePasswd = R"(<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE ListBucketResult [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<ListBucketResult><Name>&xxe;</Name><IsTruncated>false</IsTruncated></ListBucketResult>)";

std::string deepDocument(int levels)
{
	std::string s = "<Error><Code>";
	s.reserve(std::size_t(levels) * 7 + 64);
	for (int i = 0; i < levels; ++i)
		s += "<a>";
	for (int i = 0; i < levels; ++i)
		s += "</a>";
	return s + "</Code></Error>";
}

TEST(S3XmlHostile, BillionLaughsFailsFastWithoutExpanding)
{
	auto start = steady_clock::now();
	auto r = parseListObjectsV2(kBillionLaughs);
	auto elapsed = steady_clock::now() - start;
	ASSERT_FALSE(r.ok());
	EXPECT_EQ(r.error().code(), EBADMSG);
	EXPECT_NE(r.error().message().find("DOCTYPE"), std::string::npos) << r.error().message();
	EXPECT_EQ(r.error().message().find("lollol"), std::string::npos);
	EXPECT_LT(elapsed, milliseconds(500));
}

TEST(S3XmlHostile, ExternalEntitiesAreNeverRead)
{
	auto r = parseListObjectsV2(kXxePasswd);
	ASSERT_FALSE(r.ok());
	EXPECT_EQ(r.error().code(), EBADMSG);
	EXPECT_NE(r.error().message().find("DOCTYPE"), std::string::npos);
	EXPECT_EQ(r.error().message().find("root:"), std::string::npos);

	/* A file of our own with a marker: nothing of it may surface anywhere. */
	std::string path = ::testing::TempDir() + "vfs_xxe_secret.txt";
	{
		std::ofstream f(path);
		f << "XXE-MARKER-7f3a";
	}
	const std::string docs[] = {
		"<!DOCTYPE Error [<!ENTITY s SYSTEM \"file://" + path + "\">]><Error><Code>&s;</Code></Error>",
		"<!DOCTYPE Error [<!ENTITY % p SYSTEM \"file://" + path + "\"> %p;]><Error><Code>x</Code></Error>",
		"<!DOCTYPE Error SYSTEM \"file://" + path + "\"><Error><Code>x</Code></Error>",
		"<!DOCTYPE Error SYSTEM \"http://127.0.0.1:9/evil.dtd\"><Error><Code>x</Code></Error>",
		"<!DOCTYPE Error><Error><Code>x</Code></Error>",
	};
	for (const std::string &d : docs) {
		auto e = parseErrorDocument(d, 500);
		ASSERT_FALSE(e.ok()) << d;
		EXPECT_EQ(e.error().code(), EBADMSG) << d;
		EXPECT_EQ(e.error().message().find("XXE-MARKER"), std::string::npos) << e.error().message();
		S3Error fallback = S3Error::fromResponse(500, d);
		EXPECT_EQ(fallback.code, "HTTP500");
		EXPECT_EQ(fallback.toString().find("XXE-MARKER"), std::string::npos);
		EXPECT_FALSE(embeddedError(d).has_value());
	}
	std::remove(path.c_str());
}

TEST(S3XmlHostile, EntitiesWithoutDoctypeAndXIncludeDoNothing)
{
	auto undeclared = parseListObjectsV2(listWith(entry("&xxe;")));
	ASSERT_FALSE(undeclared.ok());
	EXPECT_EQ(undeclared.error().code(), EBADMSG);

	/* XInclude is never processed: the element is just an unknown child, the key stays empty. */
	auto xi = parseListObjectsV2(listWith(entry("<xi:include xmlns:xi=\"http://www.w3.org/2001/XInclude\" "
						    "href=\"file:///etc/passwd\" parse=\"text\"/>")));
	ASSERT_TRUE(xi.ok()) << xi.error().toString();
	EXPECT_EQ(xi->contents[0].key, "");
}

TEST(S3XmlHostile, TruncatedDocuments)
{
	std::string body = kAwsList.substr(0, kAwsList.find_last_not_of("\n") + 1);
	ASSERT_TRUE(parseListObjectsV2(body).ok());
	for (std::size_t n = 0; n < body.size(); n += 7) {
		auto r = parseListObjectsV2(body.substr(0, n));
		ASSERT_FALSE(r.ok()) << n;
		EXPECT_EQ(r.error().code(), EBADMSG) << n << ": " << r.error().message();
	}
	auto cut = parseCompleteMultipartUpload("<CompleteMultipartUploadResult><ETag>\"abc");
	ASSERT_FALSE(cut.ok());
	EXPECT_NE(cut.error().message().find("not well-formed"), std::string::npos);
}

TEST(S3XmlHostile, SizeCap)
{
	std::string huge = "<ListBucketResult><IsTruncated>false</IsTruncated><Name>";
	huge.append(kMaxXmlBytes, 'x');
	huge += "</Name></ListBucketResult>";
	auto start = steady_clock::now();
	auto r = parseListObjectsV2(huge);
	EXPECT_LT(steady_clock::now() - start, milliseconds(100));
	ASSERT_FALSE(r.ok());
	EXPECT_EQ(r.error().code(), EMSGSIZE);
	EXPECT_NE(r.error().message().find("limit"), std::string::npos);

	std::string small = listWith(entry(std::string(2000, 'k')));
	auto capped = parseListObjectsV2(small, 1024);
	ASSERT_FALSE(capped.ok());
	EXPECT_EQ(capped.error().code(), EMSGSIZE);
	EXPECT_TRUE(parseListObjectsV2(small, small.size()).ok());
	EXPECT_EQ(parseErrorDocument(small, 500, 10).error().code(), EMSGSIZE);
}

TEST(S3XmlHostile, DeepNestingIsRefusedNotFollowed)
{
	for (int levels : { 1000, 100000 }) {
		auto r = parseErrorDocument(deepDocument(levels), 500);
		ASSERT_FALSE(r.ok()) << levels;
		EXPECT_EQ(r.error().code(), EBADMSG) << levels;
		EXPECT_NE(r.error().message().find("depth"), std::string::npos) << r.error().message();
	}
	/* Moderate nesting inside a leaf is harmless: the leaf's own text only. */
	auto ok = parseErrorDocument(deepDocument(50), 500);
	ASSERT_TRUE(ok.ok()) << ok.error().toString();
	EXPECT_EQ(ok->code, "HTTP500");
}

TEST(S3XmlHostile, InvalidUtf8AndOddBytes)
{
	const std::string bad[] = {
		listWith(entry("bad\xff\xfe")),
		listWith(entry("overlong\xc0\xaf")),
		listWith(entry("cut\xe4\xb8")),
		listWith(entry("nul"s + '\0' + "byte")),
		listWith(entry("ctl\x01")),
		listWith(entry("charref&#1;")),
		"<?xml version=\"1.0\" encoding=\"x-no-such-charset\"?>" + listWith(entry("a")),
		"<?xml version=\"1.0\" encoding=\"UTF-16\"?>" + listWith(entry("a")),
	};
	for (const std::string &b : bad) {
		auto r = parseListObjectsV2(b);
		ASSERT_FALSE(r.ok()) << b;
		EXPECT_EQ(r.error().code(), EBADMSG) << b << ": " << r.error().message();
	}
}

TEST(S3XmlHostile, EmptyBodies)
{
	for (const char *body : { "", " ", "\r\n\t " }) {
		auto r = parseListObjectsV2(body);
		ASSERT_FALSE(r.ok());
		EXPECT_EQ(r.error().code(), EBADMSG);
		EXPECT_NE(r.error().message().find("empty body"), std::string::npos);
		EXPECT_FALSE(parseCompleteMultipartUpload(body).ok());
		EXPECT_FALSE(parseErrorDocument(body, 500).ok());
	}
	for (const char *body : { "<?xml version=\"1.0\"?>", "<!-- nothing -->", "not xml at all" }) {
		auto r = parseListObjectsV2(body);
		ASSERT_FALSE(r.ok()) << body;
		EXPECT_EQ(r.error().code(), EBADMSG) << body;
	}
}

TEST(S3XmlHostile, NothingReachesStderr)
{
	/* The capture itself works: a direct write shows up. */
	EXPECT_EQ(stderrOf([] { std::fputs("probe", stderr); }), "probe");

	std::string out = stderrOf([] {
		const std::string hostile[] = {
			kBillionLaughs,
			kXxePasswd,
			deepDocument(100000),
			"<ListBucketResult><Name>unterminated",
			listWith(entry("bad\xff")),
			listWith(entry("&undefined;")),
			"<?xml version=\"1.0\" encoding=\"x-no-such-charset\"?><a/>",
			"<a></b>",
			"<a x='1' x='2'/>",
			"<?xml version=\"1.0\"?><a/><b/>",
			"",
		};
		for (const std::string &h : hostile) {
			(void)parseListObjectsV2(h);
			(void)parseErrorDocument(h, 500);
			(void)S3Error::fromResponse(500, h);
			(void)embeddedError(h);
		}
	});
	EXPECT_EQ(out, "");
}

TEST(S3XmlHostile, ConcurrentParsesStayIndependent)
{
	std::atomic<int> wrong{ 0 };
	std::vector<std::thread> threads;
	for (int t = 0; t < 4; ++t) {
		threads.emplace_back([&, t] {
			for (int i = 0; i < 200; ++i) {
				if ((i + t) % 2 == 0) {
					auto r = parseListObjectsV2(kAwsList);
					if (!r.ok() || r->contents.size() != 2)
						++wrong;
				} else {
					auto r = parseListObjectsV2(i % 3 ? kXxePasswd : deepDocument(1000));
					if (r.ok() || r.error().code() != EBADMSG)
						++wrong;
				}
			}
		});
	}
	for (auto &th : threads)
		th.join();
	EXPECT_EQ(wrong.load(), 0);
}

} /* namespace */
