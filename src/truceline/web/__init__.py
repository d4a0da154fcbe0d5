"""The analyst's page: static assets (vendored from npm, no CDN at run time) and the routes that serve them."""
