"""Vendors (tenants), staff, studio sessions, API keys and scopes."""
