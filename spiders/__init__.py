"""Spiders: which URLs to fetch and which callback handles them. No cleaning here."""
