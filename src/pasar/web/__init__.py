"""The thin HTTP layer: routes over domain services, auth, errors, pages."""
