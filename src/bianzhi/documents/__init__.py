"""Documents: PDF output (WeasyPrint with embedded CJK fonts, never touching the network)."""
