"""Feeds of the stored articles: Atom 1.0 and JSON Feed 1.1, per section and for all, with their history.

build: the documents, pure (articles in, bytes out); documents: one document read from the database and
built (the API and the static export); static: every document written into a folder.
"""
