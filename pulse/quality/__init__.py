"""The data-quality gate: suites in expectations/, run with Great Expectations."""
