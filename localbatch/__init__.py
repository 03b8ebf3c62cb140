"""localbatch: run Alibaba Cloud BatchCompute jobs on one machine."""

__version__ = "0.1.0"
