"""A plugin whose import fails, to test that it is reported without taking others down."""

raise ImportError("this plugin needs a library that is not installed")
