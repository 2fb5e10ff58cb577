"""The WARC archive of what the site served: where it is (paths), how a crawl writes it (writer, the
middleware and extension in crawl.py), how it is read back (reader). Imports nothing."""

RECORD_ID_META = "cascrawl_warc_record_id"  # request.meta: the WARC-Record-ID of the response's record
